"""The Lua scripts of the store: each makes one multi-step change atomic on the Redis side."""

# Lua: redeem a code exactly once and leave a marker naming it used (RFC 6749 §4.1.2: single use).
REDEEM_ONCE = """
local v = redis.call('GET', KEYS[1])
if not v then return false end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '', 'EX', ARGV[1])
return v
"""

# Lua: rotate a refresh token exactly once; a second presentation finds the used-marker instead.
ROTATE_ONCE = """
local v = redis.call('GET', KEYS[1])
if not v then return false end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
return v
"""

# Lua: a replay that arrives while the first redemption is still minting flags the code, so that redemption
# withdraws what it minted instead of recording it.
FLAG_REPLAY = """
local v = redis.call('GET', KEYS[1])
if v == '' then redis.call('SET', KEYS[1], '!replayed', 'KEEPTTL') end
return v
"""

# Lua: record the grant a code produced, unless a replay flagged the code meanwhile.
RECORD_CODE_GRANT = """
if redis.call('GET', KEYS[1]) == '!replayed' then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""

# Lua: bump an application's epoch only while it exists (HINCRBY alone would recreate a deleted record).
BUMP_APP_EPOCH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return redis.call('HINCRBY', KEYS[1], 'epoch', 1)
"""

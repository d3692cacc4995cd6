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

# Lua: overwrite an application's editable fields only while it exists (HSET alone would recreate a deleted record).
# ARGV: field, value, field, value, ...
UPDATE_APP = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 1, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return 1
"""

# Lua: rotate a client secret while the application exists. Every older secret stays valid until ARGV[2] (never
# longer than it already was), or is dropped at once when ARGV[3] is '0' (no grace); ARGV[1] is the new hash.
# KEYS: the application record, its secrets hash (one hash tag).
ROTATE_CLIENT_HASHES = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local rows = redis.call('HGETALL', KEYS[2])
local until_ts = tonumber(ARGV[2])
for i = 1, #rows, 2 do
  local current = tonumber(rows[i + 1])
  if ARGV[3] == '0' then
    redis.call('HDEL', KEYS[2], rows[i])
  elseif current == 0 or current > until_ts then
    redis.call('HSET', KEYS[2], rows[i], ARGV[2])
  end
end
redis.call('HSET', KEYS[2], ARGV[1], '0')
return 1
"""

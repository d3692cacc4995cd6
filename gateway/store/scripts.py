"""The Lua scripts of the store: each makes one multi-step change atomic on the Redis side.

Every security-critical write is one script that also PUBLISHes its revocation message (ARGV: channel, message):
the fact caches compare against (an epoch bump, a deleted key) and the announcement are one step, so no crash can
land between them. Each of these scripts is safe to run again (a retry after a 503 re-announces, never un-revokes),
and the store follows each with WAIT when replicas are required (`Connection.durable`)."""

# Lua: redeem a code exactly once and leave a marker naming it used (RFC 6749 §4.1.2: single use).
# A retry of a redemption that was refused for want of replica confirmation finds the marker (a replay): safe.
REDEEM_ONCE = """
local v = redis.call('GET', KEYS[1])
if not v then return false end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '', 'EX', ARGV[1])
return v
"""

# Lua: rotate a refresh token exactly once; a second presentation finds the used-marker (naming the grant, which
# the caller revokes). The marker lives as long as a refresh token could (ARGV[1] = refresh_ttl).
ROTATE_ONCE = """
local v = redis.call('GET', KEYS[1])
if not v then return false end
local gid = string.match(v, '^([^|]*)')
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], gid ~= '' and gid or '-', 'EX', ARGV[1])
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

# Lua: bump an application's epoch only while it exists (HINCRBY alone would recreate a deleted record), note
# when (consents older than that no longer authorize issuance), and announce it. ARGV: channel, message, now.
BUMP_APP_EPOCH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local e = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('HSET', KEYS[1], 'revoked_at', ARGV[3])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return e
"""

# Lua: overwrite an application's editable fields only while it exists (HSET alone would recreate a deleted record),
# and announce the change. ARGV: channel, message, field, value, field, value, ...
UPDATE_APP = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1
"""

# Lua: delete an application and announce it, in one step (its keys share the application's slot). Run again on an
# application already gone, it deletes nothing and announces again (a retried DELETE re-publishes). Returns 1 if it
# existed. KEYS: app, secrets. ARGV: channel, message. (The store queues the clean-up around it.)
DELETE_APP = """
local existed = redis.call('EXISTS', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return existed
"""

# Lua: revoke one user's authorization of one application: bump the user+application epoch (kept as long as a grant
# that recorded an older value could live), forget the consent, announce (unless the channel is ''). Returns whether
# a consent was removed. KEYS (the application's slot): user+app epoch, the app's consents, the app's users.
# ARGV: user id, channel, message, ttl.
REVOKE_USER_APP = """
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
local removed = redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return removed
"""

# Lua: revoke every authorization of one user (after each application's consent was revoked in its own slot): bump
# the user epoch, drop the Authorized Applications index, announce. KEYS (the user's slot): user epoch,
# authorizations, last used. ARGV: channel, message, ttl. Returns how many index rows there were.
REVOKE_USER = """
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
local n = redis.call('HLEN', KEYS[2])
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return n
"""

# Lua: end a grant (every access token issued under it points at it) and announce it. Run again on a grant already
# gone, it announces again. KEYS (the application's slot): grant, the app's grants set. ARGV: channel, message, grant
# id. Returns 1 if the grant existed. (Its refresh token, in its own slot, is deleted after: it points at the grant.)
REVOKE_GRANT = """
local n = redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[3])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return n
"""

# Lua: revoke one access token and announce it. ARGV: channel, message.
REVOKE_ACCESS = """
local n = redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return n
"""

# Lua: a new grant, checked and written in one step in its application's slot: the application must exist, the
# user's consent (with `require consent`) must cover the scopes and be newer than the application's last bulk
# revocation, and the epochs the grant records are read here, so a revocation lands wholly before (issuance refused,
# or old epochs recorded) or wholly after (the grant it kills is already written). The user epoch (in the user's
# slot) is read by the caller before this step: user revocation revokes each application's consent first, in this
# slot, so a grant racing it is refused here or records an epoch that is bumped after. The access and refresh tokens
# (their own slots) are written after the grant they point at.
# KEYS: app, the app's consents, user+app epoch, grant, the app's grants.
# ARGV: 1 user id, 2 grant id, 3 client id, 4 '|created|scope bits|refresh hash|user id' (the grant's tail),
#       5 grant ttl, 6 user epoch, 7 epoch ttl, 8 '1' = require consent, 9.. the scopes.
# Returns {app epoch, user+app epoch}, or 0 (application gone) or -1 (no consent covering the scopes).
START_GRANT = """
local ae = redis.call('HGET', KEYS[1], 'epoch')
if not ae then return 0 end
if ARGV[8] == '1' then
  local raw = redis.call('HGET', KEYS[2], ARGV[1])
  if not raw then return -1 end
  local consent = cjson.decode(raw)
  local revoked_at = tonumber(redis.call('HGET', KEYS[1], 'revoked_at') or '0')
  if tonumber(consent['authorized_at']) <= revoked_at then return -1 end
  local have = {}
  for _, s in ipairs(consent['scopes']) do have[s] = true end
  for i = 9, #ARGV do if not have[ARGV[i]] then return -1 end end
end
local uae = redis.call('GET', KEYS[3]) or '0'
if uae ~= '0' then redis.call('EXPIRE', KEYS[3], ARGV[7]) end
redis.call('SET', KEYS[4], ARGV[3] .. '|' .. ae .. '|' .. uae .. '|' .. ARGV[6] .. ARGV[4], 'EX', ARGV[5])
redis.call('SADD', KEYS[5], ARGV[2])
return {tonumber(ae), tonumber(uae)}
"""

# Lua: refresh within a grant, checked and written in one step in its application's slot: the grant must still
# exist and the application and user+application epochs it recorded must still be current (the caller compared the
# user epoch just before), else nothing is written. KEYS: app, user+app epoch, grant.
# ARGV: 1-2 the grant's app and user+app epochs, 3 the grant's new value, 4 grant ttl, 5 epoch ttl.
# Returns 1, or 0 when the grant is gone or revoked.
CONTINUE_GRANT = """
local ae = redis.call('HGET', KEYS[1], 'epoch')
if not ae or redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
local uae = redis.call('GET', KEYS[2]) or '0'
if ae ~= ARGV[1] or uae ~= ARGV[2] then return 0 end
if uae ~= '0' then redis.call('EXPIRE', KEYS[2], ARGV[5]) end
redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[4])
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

# Lua: undo a single-use take (code redemption, refresh rotation) whose replica confirmation failed, so the client's
# retry is not mistaken for a replay: the record comes back and the marker goes, but only while the marker is still
# the one that take wrote (a replay flagged meanwhile stays flagged). KEYS: record, marker.
# ARGV: the record's value, its remaining ttl, the marker value the take wrote.
UNDO_TAKE = """
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'NX')
redis.call('DEL', KEYS[2])
return 1
"""

/**
 * The outbox's Lua scripts (keys in redis-keys.ts). An entry is pending while it is in `ntf-due`,
 * scored by when it may next be claimed: max(nextAttemptAtMs, claimExpiresAtMs). So claiming is
 * one range read of that zset, a claim that runs out makes its entry due again without any
 * sweeping, and `nextDueAtMs` is its head. Claims are fenced by a random token.
 */
import { luaScript } from './redis-connection.js';

/**
 * `addDrafts(channel, nowMs, first)`: inserts the drafts in ARGV from index `first` on (eventId,
 * topicArn, endpointName, variantName, message each); an event id already there is skipped.
 * Publishes once when anything was added; returns how many were. Needs `p` (KEYS[1]) in scope;
 * shared by `add` and the queue's `complete`, which puts an outcome's drafts in with it.
 */
export const ADD_DRAFTS_LUA = `
local function addDrafts(channel, now, first)
  local added = 0
  for i = first, #ARGV, 5 do
    local id, ep = ARGV[i], ARGV[i + 2]
    local key = p .. 'ntf:' .. id
    if redis.call('EXISTS', key) == 0 then
      local seq = redis.call('INCR', p .. 'seq')
      redis.call('HSET', key, 'id', id, 'topicArn', ARGV[i + 1], 'endpointName', ep, 'variantName', ARGV[i + 3],
        'message', ARGV[i + 4], 'state', 'pending', 'attempts', 0, 'deliveredTargets', '[]', 'createdAtMs', now,
        'updatedAtMs', now, 'nextAttemptAtMs', now, 'seq', seq)
      redis.call('ZADD', p .. 'ntf-all', seq, id)
      redis.call('ZADD', p .. 'ntf-state:pending', seq, id)
      redis.call('ZADD', p .. 'ntf-endpoint:' .. ep, seq, id)
      redis.call('ZADD', p .. 'ntf-due', now, id)
      added = added + 1
    end
  end
  if added > 0 then redis.call('PUBLISH', channel, 'added') end
  return added
end
`;

/** ARGV: notificationsChannel, nowMs, then drafts. Returns how many were added. */
export const ADD = luaScript('outboxAdd', `local p = KEYS[1]
${ADD_DRAFTS_LUA}
return addDrafts(ARGV[1], ARGV[2], 3)
`);

/** ARGV: nowMs, limit, claimExpiresAtMs, token. Returns the claimed entries' hashes (flat). */
export const CLAIM = luaScript('outboxClaim', `local p = KEYS[1]
local ids = redis.call('ZRANGEBYSCORE', p .. 'ntf-due', '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  local key = p .. 'ntf:' .. id
  redis.call('HSET', key, 'claimToken', ARGV[4], 'claimExpiresAtMs', ARGV[3])
  redis.call('ZADD', p .. 'ntf-due', ARGV[3], id)
  out[#out + 1] = redis.call('HGETALL', key)
end
return out
`);

/** Returns the head score of ntf-due as a string (scripts see RESP2 replies, so the pair is flat), or nil. */
export const NEXT_DUE = luaScript('outboxNextDue', `local p = KEYS[1]
local head = redis.call('ZRANGE', p .. 'ntf-due', 0, 0, 'WITHSCORES')
return head[2] or false
`);

/**
 * ARGV: id, token, state, deliveredTargets JSON, nextAttemptAtMs, hasLastError, lastError, nowMs,
 * then the round's attempts (JSON each). The attempts are recorded even when the claim was lost
 * (they happened); the entry moves on only under its claim. Returns 1 when settled.
 */
export const SETTLE = luaScript('outboxSettle', `local p = KEYS[1]
local id, state = ARGV[1], ARGV[3]
local key = p .. 'ntf:' .. id
if redis.call('EXISTS', key) == 0 then return 0 end
for i = 9, #ARGV do redis.call('RPUSH', p .. 'ntf-history:' .. id, ARGV[i]) end
local v = redis.call('HMGET', key, 'claimToken', 'state', 'seq')
if v[1] ~= ARGV[2] then return 0 end
redis.call('HINCRBY', key, 'attempts', 1)
redis.call('HSET', key, 'state', state, 'deliveredTargets', ARGV[4], 'nextAttemptAtMs', ARGV[5], 'updatedAtMs', ARGV[8])
redis.call('HDEL', key, 'claimToken', 'claimExpiresAtMs')
if ARGV[6] == '1' then redis.call('HSET', key, 'lastError', ARGV[7]) else redis.call('HDEL', key, 'lastError') end
if v[2] ~= state then
  redis.call('ZREM', p .. 'ntf-state:' .. v[2], id)
  redis.call('ZADD', p .. 'ntf-state:' .. state, v[3], id)
end
if state == 'pending' then redis.call('ZADD', p .. 'ntf-due', ARGV[5], id) else redis.call('ZREM', p .. 'ntf-due', id) end
return 1
`);

/** ARGV: id, token, nowMs. Gives the claim back, due at once. Returns 1 when released. */
export const RELEASE_CLAIM = luaScript('outboxRelease', `local p = KEYS[1]
local key = p .. 'ntf:' .. ARGV[1]
local v = redis.call('HMGET', key, 'claimToken', 'nextAttemptAtMs')
if v[1] ~= ARGV[2] then return 0 end
local next = ARGV[3]
if tonumber(v[2]) < tonumber(next) then next = v[2] end
redis.call('HSET', key, 'nextAttemptAtMs', next)
redis.call('HDEL', key, 'claimToken', 'claimExpiresAtMs')
redis.call('ZADD', p .. 'ntf-due', next, ARGV[1])
return 1
`);

/**
 * ARGV: state or '', endpoint or '', limit. Returns event ids, newest first: walks the narrowest
 * index (state, else endpoint, else all) and filters by endpoint when both are given.
 */
export const LIST = luaScript('outboxList', `local p = KEYS[1]
local state, ep, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local source = p .. 'ntf-all'
if state ~= '' then source = p .. 'ntf-state:' .. state elseif ep ~= '' then source = p .. 'ntf-endpoint:' .. ep end
local filter = state ~= '' and ep ~= ''
local out, start, chunk = {}, 0, 200
while #out < limit do
  local ids = redis.call('ZREVRANGE', source, start, start + chunk - 1)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    if not filter or redis.call('HGET', p .. 'ntf:' .. id, 'endpointName') == ep then
      out[#out + 1] = id
      if #out >= limit then break end
    end
  end
  start = start + chunk
end
return out
`);

/**
 * ARGV: notificationsChannel, nowMs, 'all' or 'ids', then the event ids. Failed entries go
 * back to pending with a fresh attempt budget, due now; their history stays. Returns how many.
 */
export const REPLAY = luaScript('outboxReplay', `local p = KEYS[1]
local ids = {}
if ARGV[3] == 'ids' then
  for i = 4, #ARGV do ids[#ids + 1] = ARGV[i] end
else
  ids = redis.call('ZRANGE', p .. 'ntf-state:failed', 0, -1)
end
local n = 0
for _, id in ipairs(ids) do
  local key = p .. 'ntf:' .. id
  local v = redis.call('HMGET', key, 'state', 'seq')
  if v[1] == 'failed' then
    redis.call('HSET', key, 'state', 'pending', 'attempts', 0, 'nextAttemptAtMs', ARGV[2], 'updatedAtMs', ARGV[2])
    redis.call('HDEL', key, 'claimToken', 'claimExpiresAtMs')
    redis.call('ZREM', p .. 'ntf-state:failed', id)
    redis.call('ZADD', p .. 'ntf-state:pending', v[2], id)
    redis.call('ZADD', p .. 'ntf-due', ARGV[2], id)
    n = n + 1
  end
end
if n > 0 then redis.call('PUBLISH', ARGV[1], 'added') end
return n
`);

export const OUTBOX_SCRIPTS = [ADD, CLAIM, NEXT_DUE, SETTLE, RELEASE_CLAIM, LIST, REPLAY];

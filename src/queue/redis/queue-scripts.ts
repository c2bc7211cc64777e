/**
 * The queue's Lua scripts. Each moves invocations between states atomically together with the
 * indexes and counters of redis-keys.ts, so `backlog` can read them in O(1). Every script takes
 * `{P}:` as KEYS[1]; channels arrive in ARGV. Scripts check everything before their first write,
 * because Redis does not roll a script back when it fails half way.
 *
 * Fencing: a lease is (owner, attempt); `holds` is true only while the invocation is running under
 * exactly that lease. Every later leasing bumps `attempts`, so an old holder's calls do nothing.
 */
import { luaScript } from './redis-connection.js';
import { ADD_DRAFTS_LUA } from './outbox-scripts.js';

const COMMON = `
local p = KEYS[1]
local function invKey(id) return p .. 'inv:' .. id end
local function queuedKey(ep) return p .. 'queued:' .. ep end
local function holds(key, owner, attempt)
  local v = redis.call('HMGET', key, 'state', 'leaseOwner', 'attempts')
  return v[1] == 'running' and v[2] == owner and v[3] == attempt
end
local function leaseOne(id, owner, leaseExpiresAt, now, setStarted)
  local key = invKey(id)
  local ep = redis.call('HGET', key, 'endpoint')
  redis.call('ZREM', p .. 'expiry', id)
  if not ep then return false end
  redis.call('ZREM', queuedKey(ep), id)
  redis.call('ZADD', p .. 'leases', leaseExpiresAt, id)
  redis.call('HINCRBY', p .. 'running', ep, 1)
  redis.call('HINCRBY', key, 'attempts', 1)
  redis.call('HSET', key, 'state', 'running', 'leaseOwner', owner, 'leaseExpiresAtMs', leaseExpiresAt)
  if setStarted then redis.call('HSETNX', key, 'startedAtMs', now) end
  return redis.call('HGETALL', key)
end
-- Back to its place in the endpoint's queue (its original seq), from running.
-- The TTL covers only the wait in the queue: an invocation ever started goes back without a deadline.
local function requeue(key, id, ep)
  local v = redis.call('HMGET', key, 'seq', 'expiresAtMs', 'startedAtMs')
  redis.call('HSET', key, 'state', 'queued')
  redis.call('HDEL', key, 'leaseOwner', 'leaseExpiresAtMs')
  redis.call('ZREM', p .. 'leases', id)
  redis.call('HINCRBY', p .. 'running', ep, -1)
  redis.call('ZADD', queuedKey(ep), v[1], id)
  if not v[3] then redis.call('ZADD', p .. 'expiry', v[2], id) end
end
`;

/** ARGV: availableChannel, then per invocation: id, endpoint, receivedAtMs, expiresAtMs, meta JSON, hasBody, body. */
export const ENQUEUE = luaScript('enqueue', `${COMMON}
local woken = {}
for i = 2, #ARGV, 7 do
  local id, ep = ARGV[i], ARGV[i + 1]
  local key = invKey(id)
  if redis.call('EXISTS', key) == 0 then
    local seq = redis.call('INCR', p .. 'seq')
    redis.call('HSET', key, 'meta', ARGV[i + 4], 'endpoint', ep, 'state', 'queued', 'attempts', 0, 'seq', seq,
      'receivedAtMs', ARGV[i + 2], 'expiresAtMs', ARGV[i + 3])
    if ARGV[i + 5] == '1' then redis.call('HSET', key, 'body', ARGV[i + 6]) end
    redis.call('ZADD', queuedKey(ep), seq, id)
    redis.call('ZADD', p .. 'expiry', ARGV[i + 3], id)
    if not woken[ep] then
      woken[ep] = true
      redis.call('SADD', p .. 'endpoints', ep)
      redis.call('PUBLISH', ARGV[1], ep)
    end
  end
end
return 1
`);

/** ARGV: endpoint, owner, nowMs, leaseExpiresAtMs. Returns the leased hash (flat), or nil. */
export const LEASE = luaScript('lease', `${COMMON}
local q = queuedKey(ARGV[1])
while true do
  local head = redis.call('ZRANGE', q, 0, 0)[1]
  if not head then return false end
  local leased = leaseOne(head, ARGV[2], ARGV[4], ARGV[3], true)
  if leased then return leased end
  redis.call('ZREM', q, head)
end
`);

/** ARGV: nowMs, limit, owner, leaseExpiresAtMs. Returns leased hashes of never-started invocations, soonest expired first. */
export const LEASE_EXPIRED = luaScript('leaseExpired', `${COMMON}
local ids = redis.call('ZRANGEBYSCORE', p .. 'expiry', '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  if redis.call('HEXISTS', invKey(id), 'startedAtMs') == 1 then
    -- Started once (put back by a crash or a lost lease): it runs again, it never expires.
    redis.call('ZREM', p .. 'expiry', id)
  else
    local leased = leaseOne(id, ARGV[3], ARGV[4], ARGV[1], false)
    if leased then out[#out + 1] = leased end
  end
end
return out
`);

/** ARGV: id, owner, attempt, leaseExpiresAtMs. Returns 1 when extended. */
export const EXTEND = luaScript('extend', `${COMMON}
local key = invKey(ARGV[1])
if not holds(key, ARGV[2], ARGV[3]) then return 0 end
redis.call('HSET', key, 'leaseExpiresAtMs', ARGV[4])
redis.call('ZADD', p .. 'leases', ARGV[4], ARGV[1])
return 1
`);

/**
 * ARGV: id, owner, attempt, object ('output' | 'failure'), outcome JSON, replace ('1' | '0').
 * Returns {0} when the lease is not held, else {1, pending outcome JSON, changed}.
 */
export const PREPARE_OUTCOME = luaScript('prepareOutcome', `${COMMON}
local key = invKey(ARGV[1])
if not holds(key, ARGV[2], ARGV[3]) then return {0} end
local v = redis.call('HMGET', key, 'pendingObject', 'pendingOutcome')
if v[1] and v[1] ~= ARGV[4] and ARGV[6] ~= '1' then return {1, v[2], 0} end
redis.call('HSET', key, 'pendingObject', ARGV[4], 'pendingOutcome', ARGV[5])
return {1, ARGV[5], 1}
`);

/**
 * ARGV: notificationsChannel, id, owner, attempt, state, nowMs, hasReason, reason, hasStatus, status,
 * then per notification draft: eventId, topicArn, endpointName, variantName, message.
 * The outcome and its outbox entries in one script: both or neither. Returns {recorded, added}.
 */
export const COMPLETE = luaScript('complete', `${COMMON}
${ADD_DRAFTS_LUA}
local id = ARGV[2]
local key = invKey(id)
if not holds(key, ARGV[3], ARGV[4]) then return {0, 0} end
local ep = redis.call('HGET', key, 'endpoint')
redis.call('HSET', key, 'state', ARGV[5], 'finishedAtMs', ARGV[6])
if ARGV[7] == '1' then redis.call('HSET', key, 'failureReason', ARGV[8]) end
if ARGV[9] == '1' then redis.call('HSET', key, 'modelStatus', ARGV[10]) end
redis.call('HDEL', key, 'body', 'leaseOwner', 'leaseExpiresAtMs')
redis.call('ZREM', p .. 'leases', id)
redis.call('HINCRBY', p .. 'running', ep, -1)
return {1, addDrafts(ARGV[1], ARGV[6], 11)}
`);

/** ARGV: availableChannel, id, owner, attempt. Returns 1 when released. */
export const RELEASE = luaScript('release', `${COMMON}
local key = invKey(ARGV[2])
if not holds(key, ARGV[3], ARGV[4]) then return 0 end
local ep = redis.call('HGET', key, 'endpoint')
requeue(key, ARGV[2], ep)
redis.call('PUBLISH', ARGV[1], ep)
return 1
`);

/** ARGV: availableChannel, nowMs, limit. Returns {leases looked at, reclaimed, endpoint...} (each endpoint once). */
export const RECLAIM = luaScript('reclaim', `${COMMON}
local ids = redis.call('ZRANGEBYSCORE', p .. 'leases', '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local out, seen, n = {#ids, 0}, {}, 0
for _, id in ipairs(ids) do
  local key = invKey(id)
  local v = redis.call('HMGET', key, 'state', 'endpoint')
  if v[1] == 'running' then
    requeue(key, id, v[2])
    n = n + 1
    if not seen[v[2]] then
      seen[v[2]] = true
      out[#out + 1] = v[2]
      redis.call('PUBLISH', ARGV[1], v[2])
    end
  else
    redis.call('ZREM', p .. 'leases', id)
  end
end
out[2] = n
return out
`);

/** ARGV: endpoint. Returns {queued, running, oldest receivedAtMs or nil}: two O(1) reads and one head lookup. */
export const BACKLOG = luaScript('backlog', `${COMMON}
local q = queuedKey(ARGV[1])
local queued = redis.call('ZCARD', q)
local running = tonumber(redis.call('HGET', p .. 'running', ARGV[1]) or '0')
local oldest = false
if queued > 0 then
  local head = redis.call('ZRANGE', q, 0, 0)[1]
  oldest = redis.call('HGET', invKey(head), 'receivedAtMs')
end
return {queued, running, oldest}
`);

export const QUEUE_SCRIPTS = [ENQUEUE, LEASE, LEASE_EXPIRED, EXTEND, PREPARE_OUTCOME, COMPLETE, RELEASE, RECLAIM, BACKLOG];

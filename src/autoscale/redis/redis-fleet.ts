/**
 * The Fleet on Redis. Keys (one hash tag, the queue's, so one Cluster slot):
 *   {p}:fleet:workers        ZSET worker id → heartbeat expiry (ms)
 *   {p}:fleet:ep:<endpoint>  HASH worker id → JSON {ready, starting, draining, target, held}
 *   {p}:fleet:pins           HASH endpoint → pinned count
 * Scripts drop the entries of workers whose heartbeat expired before they count anything, so a
 * dead worker's claims free up after the TTL. Expiry uses Redis's clock (TIME), not the hosts'.
 */
import type { Logger } from 'pino';
import {
  checkPrefix, closeRedis, connectRedis, loadScripts, luaScript, redactRedisUrl, runScript, toUnavailable, type Redis, type RedisArg,
} from '../../queue/index.js';
import { NO_INSTANCES, type Fleet, type InstanceTally } from '../fleet.js';

/** Shared by the scripts: drop expired workers everywhere they appear (the endpoint hash given as KEYS[2]). */
const PRUNE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #dead > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
end
local function prune(hash)
  for _, w in ipairs(dead) do redis.call('HDEL', hash, w) end
  for _, w in ipairs(redis.call('HKEYS', hash)) do
    if not redis.call('ZSCORE', KEYS[1], w) then redis.call('HDEL', hash, w) end
  end
end
`;

// KEYS[1] workers, KEYS[2..] endpoint hashes; ARGV[1] worker, ARGV[2] ttl ms, ARGV[3..] tally JSON per endpoint hash
const HEARTBEAT = luaScript('fleet-heartbeat', `${PRUNE}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
for i = 2, #KEYS do
  local tally = cjson.decode(ARGV[i + 1])
  tally.held = math.max(tally.target, tally.ready + tally.starting + tally.draining)
  redis.call('HSET', KEYS[i], ARGV[1], cjson.encode(tally))
end
return redis.call('ZRANGE', KEYS[1], 0, -1)
`);

// KEYS[1] workers, KEYS[2] endpoint hash; ARGV[1] worker, ARGV[2] wanted, ARGV[3] max, ARGV[4] running now
const CLAIM = luaScript('fleet-claim', `${PRUNE}
prune(KEYS[2])
local others = 0
for _, w in ipairs(redis.call('HKEYS', KEYS[2])) do
  if w ~= ARGV[1] then others = others + (cjson.decode(redis.call('HGET', KEYS[2], w)).held or 0) end
end
local granted = math.max(0, math.min(tonumber(ARGV[2]), tonumber(ARGV[3]) - others))
local old = redis.call('HGET', KEYS[2], ARGV[1])
local tally = old and cjson.decode(old) or { ready = 0, starting = 0, draining = 0, target = 0 }
tally.target = granted
-- What still runs stays claimed (draining instances included) until a heartbeat sees it gone.
tally.held = math.max(granted, tonumber(ARGV[4]))
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(tally))
return granted
`);

// KEYS[1] workers, KEYS[2] endpoint hash; ARGV[1] version ('' for any)
const TOTALS = luaScript('fleet-totals', `${PRUNE}
prune(KEYS[2])
local sum = { 0, 0, 0, 0 }
for _, v in ipairs(redis.call('HVALS', KEYS[2])) do
  local t = cjson.decode(v)
  if ARGV[1] == '' or t.version == ARGV[1] then
  sum[1] = sum[1] + t.ready; sum[2] = sum[2] + t.starting; sum[3] = sum[3] + t.draining; sum[4] = sum[4] + t.target
  end
end
return sum
`);

export interface RedisFleetOptions {
  url: string;
  /** `url` is one node of a Redis Cluster (see connectRedis). */
  cluster?: boolean;
  prefix?: string;
  logger?: Logger;
}

export function createRedisFleet(options: RedisFleetOptions): Fleet {
  const base = `{${checkPrefix(options.prefix ?? 'asyncinfer')}}:fleet:`;
  const workersKey = `${base}workers`;
  const endpointKey = (endpoint: string) => `${base}ep:${endpoint}`;
  const pinsKey = `${base}pins`;
  const where = `Redis at ${redactRedisUrl(options.url)}`;
  let client: Redis | undefined;
  const known = new Set<string>();

  const open = (): Redis => {
    if (!client) throw new Error('The fleet is not started');
    return client;
  };
  async function call<T>(run: (c: Redis) => Promise<T>): Promise<T> {
    try {
      return await run(open());
    } catch (err) {
      throw toUnavailable(err, `The fleet state (${where}) is unreachable`);
    }
  }
  const script = (s: typeof CLAIM, keys: string[], args: RedisArg[]) => call((c) => runScript(c, s, keys, args));

  return {
    async start() {
      client = await connectRedis({ url: options.url, cluster: options.cluster, role: 'fleet', logger: options.logger });
      await loadScripts(client, [HEARTBEAT, CLAIM, TOTALS]);
    },
    async stop() {
      await closeRedis(client);
      client = undefined;
    },
    async heartbeat(workerId, tallies, ttlMs) {
      const endpoints = Object.keys(tallies);
      // Endpoints this worker no longer runs: its tallies and claims of them go.
      const gone = [...known].filter((e) => !(e in tallies));
      if (gone.length > 0) await call(async (c) => { for (const e of gone) await c.hdel(endpointKey(e), workerId); });
      for (const e of gone) known.delete(e);
      for (const e of endpoints) known.add(e);
      const args = [workerId, ttlMs, ...endpoints.map((e) => JSON.stringify(tallies[e]))];
      // The set is ordered by heartbeat expiry, which changes every beat; the ranks must not.
      return ((await script(HEARTBEAT, [workersKey, ...endpoints.map(endpointKey)], args)) as string[]).sort();
    },
    async claim(endpoint, workerId, wanted, max, running) {
      return Number(await script(CLAIM, [workersKey, endpointKey(endpoint)], [workerId, wanted, max, running]));
    },
    async totals(endpoint, version) {
      const [ready, starting, draining, target] = (await script(TOTALS, [workersKey, endpointKey(endpoint)], [version ?? ''])) as number[];
      return ready === undefined ? NO_INSTANCES : { ready, starting: starting!, draining: draining!, target: target! } satisfies InstanceTally;
    },
    async pin(endpoint, count) {
      await call((c) => c.hset(pinsKey, endpoint, count));
    },
    async pins() {
      const all = await call((c) => c.hgetall(pinsKey));
      return Object.fromEntries(Object.entries(all).map(([e, n]) => [e, Number(n)]));
    },
    async leave(workerId) {
      await call(async (c) => {
        await c.zrem(workersKey, workerId);
        for (const e of known) await c.hdel(endpointKey(e), workerId);
      });
    },
  };
}

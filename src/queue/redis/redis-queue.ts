/**
 * The distributed InvocationQueue (and its notification outbox) on Redis, with plain ioredis and
 * Lua scripts.
 *
 * Why not BullMQ: the port needs things its job model does not give. Every call after a lease is
 * fenced by (owner, attempt) — BullMQ's lock tokens are per worker, not per lease attempt, and a
 * stalled job is moved back without a token we can check. An outcome must be recorded in the same
 * atomic step as its outbox entries — BullMQ completes a job in its own script, into which we
 * cannot put our writes. The gateway and the expiry path look invocations up by id and need every
 * final state kept; `backlog` must be O(1) per endpoint, and TTL expiry must find queued
 * invocations of every endpoint by deadline — BullMQ has one queue per name and counts by state
 * only. So each state change here is one Lua script over our own keys (layout in redis-keys.ts,
 * scripts in queue-scripts.ts and outbox-scripts.ts).
 *
 * Redis Cluster: every key of one deployment carries the hash tag `{prefix}`, so the whole
 * deployment lives in one slot and each script touches that slot only. To spread load over
 * shards, run several deployments with different prefixes.
 *
 * Durability: `enqueue` and `complete` resolve when Redis acknowledged the script; with AOF and
 * `appendfsync always` that is after the fsync (Redis group-commits what arrives together).
 * Concurrent enqueues within one turn of the event loop go in one script call, which publishes
 * once per endpoint.
 *
 * Clock: lease deadlines, start and finish times come from `now` (this host's clock, like the
 * SQLite queue), and `reclaimExpiredLeases` / `leaseExpired` compare with the `nowMs` they are
 * given. Hosts sharing a Redis must keep their clocks in sync (NTP); a skew of s makes leases
 * look s longer or shorter to the others.
 *
 * Unlike the SQLite queue, `start` does not return other holders' leases: in the distributed
 * shape another live process may hold them. They come back when they run out.
 *
 * When Redis is unreachable every call fails fast with `AppError('ServiceUnavailable')` (see
 * redis-connection.ts), and the same object works again once Redis is back.
 */
import type { Logger } from 'pino';
import type { Outcome } from '../../domain/index.js';
import { AppError } from '../../errors.js';
import type { NotificationOutbox } from '../../notify/index.js';
import { groupCommit, type PendingEnqueue } from '../group-commit.js';
import { outcomeObject, type Backlog, type InvocationQueue, type Lease } from '../invocation-queue.js';
import { enqueueArgs, fieldsOf, toInvocation } from './invocation-hash.js';
import { OUTBOX_SCRIPTS } from './outbox-scripts.js';
import { BACKLOG, COMPLETE, ENQUEUE, EXTEND, LEASE, LEASE_EXPIRED, PREPARE_OUTCOME, QUEUE_SCRIPTS, RECLAIM, RELEASE } from './queue-scripts.js';
import {
  checkPrefix, closeRedis, connectRedis, loadScripts, redactRedisUrl, runScript, runScriptBuffer, toUnavailable,
  type LuaScript, type Redis, type RedisArg,
} from './redis-connection.js';
import { queueKeys } from './redis-keys.js';
import { createRedisOutbox, draftArgs } from './redis-outbox.js';
import { createWakeups } from './redis-wakeups.js';

export interface RedisQueueOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` */
  url: string;
  /** `url` is one node of a Redis Cluster (see connectRedis). */
  cluster?: boolean;
  /** Names this process's leases. */
  workerId: string;
  /** Key prefix and hash tag of this deployment; default `asyncinfer`. */
  prefix?: string;
  now?: () => number;
  /** Where connection loss and recovery are reported. */
  logger?: Logger;
}

/** The queue, and the notification outbox in the same key space (its entries share the outcome's script). */
export interface RedisQueue extends InvocationQueue {
  readonly outbox: NotificationOutbox;
}


/** Limits of one enqueue script call, so one call never holds Redis long. */
const MAX_BATCH_COUNT = 100;
const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** Leases returned per reclaim script call. */
const RECLAIM_BATCH = 500;

export function createRedisQueue(options: RedisQueueOptions): RedisQueue {
  const now = options.now ?? Date.now;
  const keys = queueKeys(checkPrefix(options.prefix ?? 'asyncinfer'));
  const where = `Redis at ${redactRedisUrl(options.url)}`;
  const wakeups = createWakeups(keys, options.logger);
  let client: Redis | undefined;
  let subscriber: Redis | undefined;
  const inFlight = new Set<Promise<void>>();

  const unavailable = (err: unknown) => toUnavailable(err, `The queue store (${where}) is unreachable`);
  const open = (): Redis => {
    if (!client) throw new AppError('ServiceUnavailable', 'The queue is not running; retry later.');
    return client;
  };
  const run = async (script: LuaScript, args: readonly RedisArg[]): Promise<unknown> => {
    try {
      return await runScript(open(), script, [keys.base], args);
    } catch (err) {
      throw unavailable(err);
    }
  };
  const runBuffer = async (script: LuaScript, args: readonly RedisArg[]): Promise<unknown> => {
    try {
      return await runScriptBuffer(open(), script, [keys.base], args);
    } catch (err) {
      throw unavailable(err);
    }
  };
  const fence = (lease: Lease) => [lease.invocation.id, options.workerId, String(lease.attempt)];
  const toLease = (flat: Buffer[]): Lease => {
    const invocation = toInvocation(fieldsOf(flat));
    return { invocation, attempt: invocation.attempts };
  };

  /** One group of enqueues, written in scripts of at most MAX_BATCH_COUNT requests or about MAX_BATCH_BYTES. */
  function commit(pending: PendingEnqueue[]): void {
    while (pending.length > 0) {
      let bytes = 0;
      let n = 0;
      while (n < pending.length && n < MAX_BATCH_COUNT && (n === 0 || bytes < MAX_BATCH_BYTES)) {
        bytes += pending[n]!.request.body?.byteLength ?? 0;
        n++;
      }
      const batch = pending.slice(0, n);
      pending = pending.slice(n);
      const done = write(batch).finally(() => inFlight.delete(done));
      inFlight.add(done);
    }
  }

  const enqueues = groupCommit(commit, () => (client ? undefined : new AppError('ServiceUnavailable', 'The queue is not running, so the request was not accepted. Retry later.')));

  async function write(batch: PendingEnqueue[]): Promise<void> {
    try {
      await runScript(open(), ENQUEUE, [keys.base], [keys.channels.available, ...batch.flatMap((p) => enqueueArgs(p.request))]);
    } catch (err) {
      const failure = toUnavailable(err, `The queue store (${where}) is unreachable, so the request was not accepted`);
      for (const p of batch) p.reject(failure);
      return;
    }
    for (const p of batch) p.resolve();
    for (const name of new Set(batch.map((p) => p.request.endpointName))) wakeups.available(name);
  }

  const outbox = createRedisOutbox({ client: open, keys, wakeups, now, workerId: options.workerId, unavailable });

  return {
    outbox,

    async start() {
      try {
        client = await connectRedis({ url: options.url, cluster: options.cluster, role: 'queue', logger: options.logger });
        subscriber = await connectRedis({ url: options.url, cluster: options.cluster, role: 'queue-subscriber', logger: options.logger });
        await loadScripts(client, [...QUEUE_SCRIPTS, ...OUTBOX_SCRIPTS]);
        await wakeups.attach(client, subscriber);
      } catch (err) {
        await closeRedis(subscriber);
        await closeRedis(client);
        client = undefined;
        subscriber = undefined;
        throw unavailable(err);
      }
    },

    async stop() {
      enqueues.flush();
      await Promise.all(inFlight);
      const [c, s] = [client, subscriber];
      client = undefined;
      subscriber = undefined;
      await Promise.all([closeRedis(s), closeRedis(c)]);
    },

    enqueue: enqueues.enqueue,

    async lease(endpointName, leaseMs) {
      const t = now();
      const flat = await runBuffer(LEASE, [endpointName, options.workerId, String(t), String(t + leaseMs)]) as Buffer[] | null;
      return flat ? toLease(flat) : undefined;
    },

    async leaseExpired(nowMs, limit, leaseMs) {
      const rows = await runBuffer(LEASE_EXPIRED, [String(nowMs), String(limit), options.workerId, String(nowMs + leaseMs)]) as Buffer[][];
      return rows.map(toLease);
    },

    async extend(lease, leaseMs) {
      return await run(EXTEND, [...fence(lease), String(now() + leaseMs)]) === 1;
    },

    async prepareOutcome(lease, outcome, opts) {
      const [held, pending] = await run(PREPARE_OUTCOME, [
        ...fence(lease), outcomeObject(outcome), JSON.stringify(outcome), opts?.replace === true ? '1' : '0',
      ]) as [number, string?, number?];
      return held === 1 && pending !== undefined ? JSON.parse(pending) as Outcome : undefined;
    },

    async complete(lease, outcome, notifications = []) {
      const [recorded, added] = await run(COMPLETE, [
        keys.channels.notifications, ...fence(lease), outcome.state, String(now()),
        outcome.failureReason === undefined ? '0' : '1', outcome.failureReason ?? '',
        outcome.modelStatus === undefined ? '0' : '1', String(outcome.modelStatus ?? ''),
        ...draftArgs(notifications),
      ]) as [number, number];
      if (added > 0) wakeups.added();
      return recorded === 1;
    },

    async release(lease) {
      const released = await run(RELEASE, [keys.channels.available, ...fence(lease)]) === 1;
      if (released) wakeups.available(lease.invocation.endpointName);
      return released;
    },

    async reclaimExpiredLeases(nowMs) {
      let total = 0;
      for (;;) {
        const [scanned, n, ...endpoints] = await run(RECLAIM, [keys.channels.available, String(nowMs), String(RECLAIM_BATCH)]) as [number, number, ...string[]];
        total += n;
        for (const name of endpoints) wakeups.available(name);
        if (scanned < RECLAIM_BATCH) return total;
      }
    },

    async get(id) {
      let fields: Record<string, Buffer>;
      try {
        fields = await open().hgetallBuffer(keys.invocation(id));
      } catch (err) {
        throw unavailable(err);
      }
      const map = new Map(Object.entries(fields));
      return map.has('meta') ? toInvocation(map) : undefined;
    },

    async backlog(endpointName): Promise<Backlog> {
      const [queued, running, oldest] = await run(BACKLOG, [endpointName]) as [number, number, string | null];
      const backlog: Backlog = { queued, running };
      if (oldest !== null && oldest !== undefined) backlog.oldestQueuedReceivedAtMs = Number(oldest);
      return backlog;
    },

    onAvailable(listener) {
      return wakeups.onAvailable(listener);
    },
  };
}

/**
 * The embedded InvocationQueue on SQLite (better-sqlite3, WAL).
 *
 * Durability: the connection runs with `synchronous = NORMAL`, under which SQLite fsyncs at
 * checkpoints but not at each commit; the commit's fsync is ours instead. After a transaction that
 * must be durable (enqueues, outcomes) we fsync the WAL file on the libuv thread pool and resolve
 * only when that returns — the same guarantee as `synchronous = FULL`, without blocking the event
 * loop for the disk. Enqueues are group-committed: every enqueue that arrives within one turn of
 * the event loop joins one transaction and one fsync.
 * Leases and lease extensions are not fsync'd: losing one in a power cut only means the invocation
 * runs again, which at-least-once delivery allows anyway; the next fsync covers them too, since
 * the WAL is written in order.
 *
 * better-sqlite3 is synchronous; the methods are async to honour the port (Redis is not).
 *
 * Backlog counts: queued and running per endpoint are in-memory counters, counted once from the
 * table at `start` and then changed by every statement that moves an invocation between states
 * (enqueue, lease, leaseExpired, complete, release, reclaim). They are exact because this process
 * holds the data-dir lock: nothing else writes the file while it runs. The oldest queued
 * invocation is the head of the partial index `invocations_queued (endpoint_name, seq)`: an index
 * seek, O(log n), not a scan.
 */
import { EventEmitter } from 'node:events';
import { closeSync, fsync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { expiresAtMs, type Invocation, type InvocationState, type NotificationDraft, type Outcome } from '../../domain/index.js';
import { coalesced } from '../../coalesced.js';
import { AppError } from '../../errors.js';
import type { NotificationOutbox } from '../../notify/index.js';
import { groupCommit, type PendingEnqueue } from '../group-commit.js';
import { outcomeObject, type Backlog, type InvocationQueue, type Lease } from '../invocation-queue.js';
import { acquireLockFile } from './lock-file.js';
import { migrate } from './schema.js';
import { createSqliteOutbox, OUTBOX_ADDED, prepareOutbox } from './sqlite-outbox.js';

export interface SqliteQueueOptions {
  /** Folder holding queue.db and its lock file. */
  dir: string;
  /** Names this process's leases. */
  workerId: string;
  now?: () => number;
}

interface Row {
  id: string; inference_id: string; endpoint_name: string; state: InvocationState;
  content_type: string | null; accept: string | null; custom_attributes: string | null;
  input_location: string | null; body: Buffer | null; output_location: string; failure_location: string | null;
  request_ttl_seconds: number; invocation_timeout_seconds: number; received_at: number;
  attempts: number; started_at: number | null; finished_at: number | null; failure_reason: string | null;
}

/** The queue, and the notification outbox on the same connection (its rows share the outcome's transaction). */
export interface SqliteQueue extends InvocationQueue {
  readonly outbox: NotificationOutbox;
}

export function createSqliteQueue(options: SqliteQueueOptions): SqliteQueue {
  const now = options.now ?? Date.now;
  const events = new EventEmitter();
  events.setMaxListeners(0);
  let db: Database.Database | undefined;
  let releaseLock: (() => void) | undefined;
  let statements: ReturnType<typeof prepare> | undefined;
  let walFd: number | undefined;
  /** Per endpoint: invocations queued and running now (see the header). */
  const counts = new Map<string, { queued: number; running: number }>();
  const countsOf = (endpointName: string) => {
    let c = counts.get(endpointName);
    if (!c) counts.set(endpointName, (c = { queued: 0, running: 0 }));
    return c;
  };
  /** Moves `n` invocations of an endpoint from one state's count to the other's. */
  const move = (endpointName: string, from: 'queued' | 'running' | undefined, to: 'queued' | 'running' | undefined, n = 1) => {
    const c = countsOf(endpointName);
    if (from) c[from] -= n;
    if (to) c[to] += n;
  };

  function prepare(d: Database.Database) {
    // Positional parameters: binding by name cost a visible share of the accept path.
    const insert = d.prepare(`INSERT INTO invocations (id, inference_id, endpoint_name, state, content_type, accept,
        custom_attributes, input_location, body, output_location, failure_location, request_ttl_seconds,
        invocation_timeout_seconds, received_at, expires_at)
      VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const outbox = prepareOutbox(d);
    const pendingOf = d.prepare(`SELECT pending_outcome FROM invocations
        WHERE id = @id AND state = 'running' AND lease_owner = @owner AND attempts = @attempt`);
    const setPending = d.prepare(`UPDATE invocations SET pending_outcome = @pending
        WHERE id = @id AND state = 'running' AND lease_owner = @owner AND attempts = @attempt`);
    const complete = d.prepare(`UPDATE invocations SET state = @state, failure_reason = @failureReason, model_status = @modelStatus,
          finished_at = @now, body = NULL, lease_owner = NULL, lease_expires_at = NULL
        WHERE id = @id AND state = 'running' AND lease_owner = @owner AND attempts = @attempt`);
    return {
      outbox,
      insertMany: d.transaction((batch: PendingEnqueue[]) => {
        for (const { request: r } of batch) {
          insert.run(
            r.id, r.inferenceId, r.endpointName, r.contentType ?? null, r.accept ?? null, r.customAttributes ?? null,
            r.inputLocation ?? null, r.body ? asBuffer(r.body) : null, r.outputLocation, r.failureLocation ?? null,
            r.requestTtlSeconds, r.invocationTimeoutSeconds, r.receivedAtMs, expiresAtMs(r),
          );
        }
      }),
      lease: d.prepare(`UPDATE invocations SET state = 'running', lease_owner = @owner, lease_expires_at = @leaseExpiresAt,
          attempts = attempts + 1, started_at = coalesce(started_at, @now)
        WHERE seq = (SELECT seq FROM invocations WHERE endpoint_name = @endpointName AND state = 'queued' ORDER BY seq LIMIT 1)
        RETURNING *`),
      leaseExpired: d.prepare(`UPDATE invocations SET state = 'running', lease_owner = @owner, lease_expires_at = @leaseExpiresAt,
          attempts = attempts + 1
        WHERE seq IN (SELECT seq FROM invocations WHERE state = 'queued' AND started_at IS NULL AND expires_at <= @now
          ORDER BY expires_at LIMIT @limit)
        RETURNING *`),
      extend: d.prepare(`UPDATE invocations SET lease_expires_at = @leaseExpiresAt
        WHERE id = @id AND state = 'running' AND lease_owner = @owner AND attempts = @attempt`),
      /** The pending outcome after `prepareOutcome`; undefined when the lease was lost. */
      prepareOutcome: d.transaction((args: Record<string, unknown>, outcome: Outcome, replace: boolean): { pending: Outcome; changed: boolean } | undefined => {
        const row = pendingOf.get(args) as { pending_outcome: string | null } | undefined;
        if (!row) return undefined;
        const earlier = row.pending_outcome === null ? undefined : JSON.parse(row.pending_outcome) as Outcome;
        if (earlier && !replace && outcomeObject(earlier) !== outcomeObject(outcome)) return { pending: earlier, changed: false };
        setPending.run({ ...args, pending: JSON.stringify(outcome) });
        return { pending: outcome, changed: true };
      }),
      /** The outcome and its notifications: both or neither. Resolves to [recorded, notifications added]. */
      complete: d.transaction((args: Record<string, unknown>, drafts: readonly NotificationDraft[]): [boolean, number] => {
        if (complete.run(args).changes !== 1) return [false, 0];
        return [true, outbox.insertDrafts(drafts, args.now as number)];
      }),
      release: d.prepare(`UPDATE invocations SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL
        WHERE id = @id AND state = 'running' AND lease_owner = @owner AND attempts = @attempt`),
      reclaim: d.prepare(`UPDATE invocations SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL
        WHERE state = 'running' AND lease_expires_at <= @now RETURNING endpoint_name`),
      get: d.prepare('SELECT * FROM invocations WHERE id = ?'),
      // The head of the invocations_queued index: a seek, not a scan.
      oldestQueued: d.prepare(`SELECT received_at FROM invocations WHERE endpoint_name = ? AND state = 'queued' ORDER BY seq LIMIT 1`).pluck(),
      // Once, at start; afterwards the counters follow every change.
      countByState: d.prepare(`SELECT endpoint_name, state, COUNT(*) AS n FROM invocations WHERE state IN ('queued', 'running') GROUP BY endpoint_name, state`),
    };
  }

  function open(): { db: Database.Database; statements: ReturnType<typeof prepare> } {
    if (!db || !statements) throw new Error('The SQLite queue is not started');
    return { db, statements };
  }

  /** Makes everything committed so far durable: fsyncs of the WAL, off the event loop, shared by concurrent callers. */
  const walSync = coalesced(fsyncWal);
  const syncWal = () => walSync.run();

  function fsyncWal(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (walFd === undefined) {
        reject(new AppError('ServiceUnavailable', 'The queue is shutting down; retry later.'));
        return;
      }
      fsync(walFd, (err) => (err ? reject(err) : resolve()));
    });
  }

  function commit(batch: PendingEnqueue[]): void {
    try {
      open().statements.insertMany(batch);
      for (const p of batch) move(p.request.endpointName, undefined, 'queued');
    } catch (err) {
      const failure = new AppError('ServiceUnavailable',
        `The request could not be stored durably, so it was not accepted (${(err as Error).message}). Retry later.`, { cause: err });
      for (const p of batch) p.reject(failure);
      return;
    }
    syncWal().then(() => {
      for (const p of batch) p.resolve();
      for (const name of new Set(batch.map((p) => p.request.endpointName))) events.emit('available', name);
    }, (err: unknown) => {
      const failure = new AppError('ServiceUnavailable',
        `The request could not be made durable (fsync failed: ${(err as Error).message}), so it was not accepted. Retry later.`, { cause: err });
      for (const p of batch) p.reject(failure);
    });
  }

  const enqueues = groupCommit(commit, () => (db ? undefined : new AppError('ServiceUnavailable', 'The queue is shutting down; retry later.')));

  function toLease(row: Row): Lease {
    return { invocation: toInvocation(row), attempt: row.attempts };
  }

  const fence = (lease: Lease) => ({ id: lease.invocation.id, owner: options.workerId, attempt: lease.attempt });

  const outbox = createSqliteOutbox({
    statements: () => open().statements.outbox, syncWal, events, now, workerId: options.workerId,
  });

  return {
    outbox,

    async start() {
      mkdirSync(options.dir, { recursive: true });
      releaseLock = acquireLockFile(path.join(options.dir, 'queue.lock'));
      try {
        db = new Database(path.join(options.dir, 'queue.db'));
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        db.pragma('busy_timeout = 5000');
        migrate(db);
        // In WAL mode the -wal file exists from the first access on, and keeps its inode while open.
        walFd = openSync(path.join(options.dir, 'queue.db-wal'), 'r');
        statements = prepare(db);
        // We hold the lock, so every lease and claim in the file belongs to a process that is gone.
        statements.reclaim.all({ now: Number.MAX_SAFE_INTEGER });
        statements.outbox.releaseAll.run();
        counts.clear();
        for (const row of statements.countByState.all() as { endpoint_name: string; state: 'queued' | 'running'; n: number }[]) {
          countsOf(row.endpoint_name)[row.state] = row.n;
        }
      } catch (err) {
        db?.close();
        db = undefined;
        if (walFd !== undefined) closeSync(walFd);
        walFd = undefined;
        releaseLock();
        throw err;
      }
    },

    async stop() {
      enqueues.flush();
      // The file must not be closed under an fsync still running.
      await walSync.idle();
      db?.close();
      if (walFd !== undefined) closeSync(walFd);
      walFd = undefined;
      db = undefined;
      statements = undefined;
      releaseLock?.();
      releaseLock = undefined;
    },

    enqueue: enqueues.enqueue,

    async lease(endpointName, leaseMs) {
      const t = now();
      const row = open().statements.lease.get({ endpointName, owner: options.workerId, leaseExpiresAt: t + leaseMs, now: t }) as Row | undefined;
      if (!row) return undefined;
      move(endpointName, 'queued', 'running');
      return toLease(row);
    },

    async leaseExpired(nowMs, limit, leaseMs) {
      const rows = open().statements.leaseExpired.all({ now: nowMs, limit, owner: options.workerId, leaseExpiresAt: nowMs + leaseMs }) as Row[];
      for (const row of rows) move(row.endpoint_name, 'queued', 'running');
      return rows.map(toLease);
    },

    async extend(lease, leaseMs) {
      return open().statements.extend.run({ ...fence(lease), leaseExpiresAt: now() + leaseMs }).changes === 1;
    },

    async prepareOutcome(lease, outcome, opts) {
      const result = open().statements.prepareOutcome(fence(lease), outcome, opts?.replace === true);
      if (!result) return undefined;
      // Durable before the object is written: a crash must not forget which object it was.
      if (result.changed) await syncWal();
      return result.pending;
    },

    async complete(lease, outcome, notifications = []) {
      const [recorded, added] = open().statements.complete({
        ...fence(lease), state: outcome.state, failureReason: outcome.failureReason ?? null,
        modelStatus: outcome.modelStatus ?? null, now: now(),
      }, notifications);
      if (recorded) move(lease.invocation.endpointName, 'running', undefined);
      if (recorded) await syncWal();
      if (added > 0) events.emit(OUTBOX_ADDED);
      return recorded;
    },

    async release(lease) {
      const released = open().statements.release.run(fence(lease)).changes === 1;
      if (released) {
        move(lease.invocation.endpointName, 'running', 'queued');
        events.emit('available', lease.invocation.endpointName);
      }
      return released;
    },

    async reclaimExpiredLeases(nowMs) {
      const rows = open().statements.reclaim.all({ now: nowMs }) as { endpoint_name: string }[];
      for (const row of rows) move(row.endpoint_name, 'running', 'queued');
      for (const name of new Set(rows.map((r) => r.endpoint_name))) events.emit('available', name);
      return rows.length;
    },

    async get(id) {
      const row = open().statements.get.get(id) as Row | undefined;
      return row ? toInvocation(row) : undefined;
    },

    async backlog(endpointName): Promise<Backlog> {
      const { statements: st } = open();
      const c = counts.get(endpointName) ?? { queued: 0, running: 0 };
      const backlog: Backlog = { queued: c.queued, running: c.running };
      if (c.queued > 0) {
        const receivedAt = st.oldestQueued.get(endpointName) as number | undefined;
        if (receivedAt !== undefined) backlog.oldestQueuedReceivedAtMs = receivedAt;
      }
      return backlog;
    },

    onAvailable(listener) {
      events.on('available', listener);
      return () => events.off('available', listener);
    },
  };
}

/** better-sqlite3 binds Buffers as BLOBs; a plain Uint8Array is wrapped, not copied. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function toInvocation(row: Row): Invocation {
  const inv: Invocation = {
    id: row.id, inferenceId: row.inference_id, endpointName: row.endpoint_name, state: row.state,
    outputLocation: row.output_location, requestTtlSeconds: row.request_ttl_seconds,
    invocationTimeoutSeconds: row.invocation_timeout_seconds, receivedAtMs: row.received_at, attempts: row.attempts,
  };
  if (row.content_type !== null) inv.contentType = row.content_type;
  if (row.accept !== null) inv.accept = row.accept;
  if (row.custom_attributes !== null) inv.customAttributes = row.custom_attributes;
  if (row.input_location !== null) inv.inputLocation = row.input_location;
  if (row.body !== null) inv.body = row.body;
  if (row.failure_location !== null) inv.failureLocation = row.failure_location;
  if (row.started_at !== null) inv.startedAtMs = row.started_at;
  if (row.finished_at !== null) inv.finishedAtMs = row.finished_at;
  if (row.failure_reason !== null) inv.failureReason = row.failure_reason;
  return inv;
}

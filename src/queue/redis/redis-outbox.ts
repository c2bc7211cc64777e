/**
 * The NotificationOutbox on the queue's Redis connection and key space: an outcome's entries are
 * written by the queue's COMPLETE script, in the same script as the outcome (outbox-scripts.ts
 * has the layout). Its lifetime is the queue's: it has no start or stop of its own.
 *
 * Writes are durable when Redis acknowledged them (with AOF `appendfsync always`, fsync'd).
 * Claims run out by themselves (their entry's due score is the claim's end), so a holder that died
 * loses nothing; a process does not release other processes' claims at start, since in the
 * distributed shape it cannot know that their holders are gone.
 * Ordering: due first, then (among equal due times) by event id, not strictly oldest — best effort.
 */
import { randomUUID } from 'node:crypto';
import type { NotificationDraft } from '../../domain/index.js';
import type { DeliveryAttempt, NotificationOutbox, OutboxEntry, OutboxEntryWithHistory, OutboxState } from '../../notify/index.js';
import { runScript, type Redis, type RedisArg } from './redis-connection.js';
import type { QueueKeys } from './redis-keys.js';
import { ADD, CLAIM, LIST, NEXT_DUE, RELEASE_CLAIM, REPLAY, SETTLE } from './outbox-scripts.js';
import type { Wakeups } from './redis-wakeups.js';

export interface RedisOutboxConnection {
  /** Throws when the queue is not started. */
  client(): Redis;
  keys: QueueKeys;
  wakeups: Wakeups;
  now(): number;
  workerId: string;
  /** Maps a failed Redis call to the error to throw. */
  unavailable(err: unknown): unknown;
}

/** The five script arguments of each draft (see ADD_DRAFTS_LUA). */
export function draftArgs(drafts: readonly NotificationDraft[]): string[] {
  return drafts.flatMap((d) => [d.eventId, d.topicArn, d.endpointName, d.variantName, d.message]);
}

export function createRedisOutbox(conn: RedisOutboxConnection): NotificationOutbox {
  const { keys } = conn;
  const run = async (script: Parameters<typeof runScript>[1], args: readonly RedisArg[]): Promise<unknown> => {
    try {
      return await runScript(conn.client(), script, [keys.base], args);
    } catch (err) {
      throw conn.unavailable(err);
    }
  };

  async function read(ids: readonly string[]): Promise<OutboxEntryWithHistory[]> {
    if (ids.length === 0) return [];
    const pipeline = conn.client().pipeline();
    for (const id of ids) pipeline.hgetall(keys.notification(id)).lrange(keys.history(id), 0, -1);
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await pipeline.exec();
    } catch (err) {
      throw conn.unavailable(err);
    }
    const entries: OutboxEntryWithHistory[] = [];
    for (let i = 0; i < ids.length; i++) {
      const [hashErr, hash] = replies?.[2 * i] ?? [new Error('no reply'), undefined];
      const [historyErr, history] = replies?.[2 * i + 1] ?? [new Error('no reply'), undefined];
      if (hashErr || historyErr) throw conn.unavailable(hashErr ?? historyErr);
      const fields = hash as Record<string, string>;
      if (fields.id === undefined) continue;
      entries.push({ ...toEntry(fields), history: (history as string[]).map(toAttempt) });
    }
    return entries;
  }

  return {
    async add(drafts) {
      if (drafts.length === 0) return;
      const added = await run(ADD, [keys.channels.notifications, String(conn.now()), ...draftArgs(drafts)]) as number;
      if (added > 0) conn.wakeups.added();
    },

    async claimDue(nowMs, limit, claimMs) {
      const token = `${conn.workerId}:${randomUUID()}`;
      const rows = await run(CLAIM, [String(nowMs), String(limit), String(nowMs + claimMs), token]) as string[][];
      return rows.map((flat) => ({ entry: toEntry(pairs(flat)), token }));
    },

    async nextDueAtMs() {
      const due = await run(NEXT_DUE, []) as string | null;
      return due === null ? undefined : Number(due);
    },

    async settle(claim, attempts, next) {
      const delivered = new Set(claim.entry.deliveredTargets);
      for (const a of attempts) if (a.ok) delivered.add(a.target);
      const nextAttemptAtMs = next.state === 'pending' ? next.nextAttemptAtMs : claim.entry.nextAttemptAtMs;
      const lastError = next.state === 'delivered' ? undefined : next.lastError;
      return await run(SETTLE, [
        claim.entry.id, claim.token, next.state, JSON.stringify([...delivered]), String(nextAttemptAtMs),
        lastError === undefined ? '0' : '1', lastError ?? '', String(conn.now()),
        ...attempts.map((a) => JSON.stringify({
          target: a.target, atMs: a.atMs, latencyMs: Math.round(a.latencyMs), ok: a.ok,
          ...(a.status !== undefined && { status: a.status }), ...(a.error !== undefined && { error: a.error }),
        })),
      ]) === 1;
    },

    async release(claim) {
      return await run(RELEASE_CLAIM, [claim.entry.id, claim.token, String(conn.now())]) === 1;
    },

    async get(id) {
      return (await read([id]))[0];
    },

    async list(filter) {
      const ids = await run(LIST, [filter.state ?? '', filter.endpointName ?? '', String(filter.limit)]) as string[];
      return read(ids);
    },

    async replay(ids) {
      const n = await run(REPLAY, [keys.channels.notifications, String(conn.now()), ids === undefined ? 'all' : 'ids', ...(ids ?? [])]) as number;
      if (n > 0) conn.wakeups.added();
      return n;
    },

    onAdded(listener) {
      return conn.wakeups.onAdded(listener);
    },
  };
}

function pairs(flat: readonly string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return fields;
}

function toEntry(f: Record<string, string>): OutboxEntry {
  return {
    id: f.id ?? '', topicArn: f.topicArn ?? '', endpointName: f.endpointName ?? '', variantName: f.variantName ?? '',
    message: f.message ?? '', state: (f.state ?? 'pending') as OutboxState, attempts: Number(f.attempts ?? 0),
    deliveredTargets: JSON.parse(f.deliveredTargets ?? '[]') as string[],
    createdAtMs: Number(f.createdAtMs), updatedAtMs: Number(f.updatedAtMs), nextAttemptAtMs: Number(f.nextAttemptAtMs),
    ...(f.lastError !== undefined && { lastError: f.lastError }),
  };
}

function toAttempt(json: string): DeliveryAttempt {
  return JSON.parse(json) as DeliveryAttempt;
}

/**
 * The NotificationOutbox on the queue's SQLite connection: the outbox rows of an outcome go into
 * the same transaction as its final state (see `complete` in sqlite-queue.ts), which is only
 * possible on one connection. Its lifetime is the queue's: it has no start or stop of its own.
 *
 * `add` and `replay` are fsync'd before they resolve, like outcomes. Claims and settlements are
 * not: losing one in a power cut means an event is delivered again, which at-least-once allows.
 */
import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type Database from 'better-sqlite3';
import type { NotificationDraft } from '../../domain/index.js';
import type { DeliveryAttempt, NotificationOutbox, OutboxEntry, OutboxEntryWithHistory, OutboxState } from '../../notify/index.js';

/** The event the queue's emitter carries when outbox rows may be due. */
export const OUTBOX_ADDED = 'notifications-added';

interface Row {
  seq: number; event_id: string; topic_arn: string; endpoint_name: string; variant_name: string; message: string;
  state: OutboxState; attempts: number; delivered_targets: string; created_at: number; updated_at: number;
  next_attempt_at: number; last_error: string | null;
}

interface AttemptRow { target: string; at: number; latency_ms: number; ok: number; status: number | null; error: string | null }

export function prepareOutbox(d: Database.Database) {
  const insert = d.prepare(`INSERT OR IGNORE INTO notifications (event_id, topic_arn, endpoint_name, variant_name, message, state,
      created_at, updated_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)`);
  const recordAttempt = d.prepare(`INSERT INTO notification_attempts (notification_seq, target, at, latency_ms, ok, status, error)
    VALUES (?, ?, ?, ?, ?, ?, ?)`);
  const settle = d.prepare(`UPDATE notifications SET state = @state, attempts = attempts + 1, delivered_targets = @deliveredTargets,
      next_attempt_at = @nextAttemptAt, last_error = @lastError, updated_at = @now, claim_token = NULL, claim_expires_at = NULL
    WHERE event_id = @id AND claim_token = @token`);
  const seqOf = d.prepare('SELECT seq FROM notifications WHERE event_id = ?').pluck();
  const replayOne = d.prepare(`UPDATE notifications SET state = 'pending', attempts = 0, next_attempt_at = @now, updated_at = @now,
      claim_token = NULL, claim_expires_at = NULL WHERE event_id = @id AND state = 'failed'`);
  return {
    /** Inserts drafts; call inside a transaction when they must land with something else. */
    insertDrafts(drafts: readonly NotificationDraft[], nowMs: number): number {
      let added = 0;
      for (const n of drafts) added += insert.run(n.eventId, n.topicArn, n.endpointName, n.variantName, n.message, nowMs, nowMs, nowMs).changes;
      return added;
    },
    claim: d.prepare(`UPDATE notifications SET claim_token = @token, claim_expires_at = @claimExpiresAt
      WHERE seq IN (SELECT seq FROM notifications WHERE state = 'pending' AND next_attempt_at <= @now
        AND (claim_expires_at IS NULL OR claim_expires_at <= @now) ORDER BY next_attempt_at, seq LIMIT @limit)
      RETURNING *`),
    nextDue: d.prepare(`SELECT min(max(next_attempt_at, coalesce(claim_expires_at, 0))) AS due FROM notifications WHERE state = 'pending'`),
    settle: d.transaction((args: { id: string; token: string; state: OutboxState; deliveredTargets: string; nextAttemptAt: number; lastError: string | null; now: number }, attempts: readonly DeliveryAttempt[]) => {
      const seq = seqOf.get(args.id) as number | undefined;
      if (seq === undefined) return false;
      for (const a of attempts) recordAttempt.run(seq, a.target, a.atMs, Math.round(a.latencyMs), a.ok ? 1 : 0, a.status ?? null, a.error ?? null);
      return settle.run(args).changes === 1;
    }),
    release: d.prepare(`UPDATE notifications SET claim_token = NULL, claim_expires_at = NULL, next_attempt_at = min(next_attempt_at, @now)
      WHERE event_id = @id AND claim_token = @token`),
    /** Every claim in the file is a dead process's, once we hold the data-dir lock. */
    releaseAll: d.prepare('UPDATE notifications SET claim_token = NULL, claim_expires_at = NULL WHERE claim_token IS NOT NULL'),
    get: d.prepare('SELECT * FROM notifications WHERE event_id = ?'),
    list: d.prepare(`SELECT * FROM notifications WHERE (@state IS NULL OR state = @state) AND (@endpoint IS NULL OR endpoint_name = @endpoint)
      ORDER BY seq DESC LIMIT @limit`),
    history: d.prepare('SELECT target, at, latency_ms, ok, status, error FROM notification_attempts WHERE notification_seq = ? ORDER BY id'),
    replayIds: d.transaction((ids: readonly string[], now: number) => ids.reduce((n, id) => n + replayOne.run({ id, now }).changes, 0)),
    replayAll: d.prepare(`UPDATE notifications SET state = 'pending', attempts = 0, next_attempt_at = @now, updated_at = @now,
      claim_token = NULL, claim_expires_at = NULL WHERE state = 'failed'`),
  };
}

export type OutboxStatements = ReturnType<typeof prepareOutbox>;

export interface OutboxConnection {
  /** Throws when the queue is not started. */
  statements(): OutboxStatements;
  /** Makes everything committed so far durable. */
  syncWal(): Promise<void>;
  events: EventEmitter;
  now(): number;
  workerId: string;
}

export function createSqliteOutbox(conn: OutboxConnection): NotificationOutbox {
  const added = () => conn.events.emit(OUTBOX_ADDED);

  function withHistory(row: Row): OutboxEntryWithHistory {
    const history = (conn.statements().history.all(row.seq) as AttemptRow[]).map((a): DeliveryAttempt => ({
      target: a.target, atMs: a.at, latencyMs: a.latency_ms, ok: a.ok === 1,
      ...(a.status !== null && { status: a.status }), ...(a.error !== null && { error: a.error }),
    }));
    return { ...toEntry(row), history };
  }

  return {
    async add(drafts) {
      if (drafts.length === 0) return;
      const s = conn.statements();
      const n = s.insertDrafts(drafts, conn.now());
      await conn.syncWal();
      if (n > 0) added();
    },

    async claimDue(nowMs, limit, claimMs) {
      const token = `${conn.workerId}:${randomUUID()}`;
      const rows = conn.statements().claim.all({ token, claimExpiresAt: nowMs + claimMs, now: nowMs, limit }) as Row[];
      return rows.map((row) => ({ entry: toEntry(row), token }));
    },

    async nextDueAtMs() {
      const { due } = conn.statements().nextDue.get() as { due: number | null };
      return due ?? undefined;
    },

    async settle(claim, attempts, next) {
      const delivered = new Set(claim.entry.deliveredTargets);
      for (const a of attempts) if (a.ok) delivered.add(a.target);
      return conn.statements().settle({
        id: claim.entry.id, token: claim.token, state: next.state, deliveredTargets: JSON.stringify([...delivered]),
        nextAttemptAt: next.state === 'pending' ? next.nextAttemptAtMs : claim.entry.nextAttemptAtMs,
        lastError: next.state === 'delivered' ? null : next.lastError, now: conn.now(),
      }, attempts);
    },

    async release(claim) {
      return conn.statements().release.run({ id: claim.entry.id, token: claim.token, now: conn.now() }).changes === 1;
    },

    async get(id) {
      const row = conn.statements().get.get(id) as Row | undefined;
      return row ? withHistory(row) : undefined;
    },

    async list(filter) {
      const rows = conn.statements().list.all({ state: filter.state ?? null, endpoint: filter.endpointName ?? null, limit: filter.limit }) as Row[];
      return rows.map(withHistory);
    },

    async replay(ids) {
      const s = conn.statements();
      const now = conn.now();
      const n = ids === undefined ? s.replayAll.run({ now }).changes : s.replayIds(ids, now);
      if (n > 0) {
        await conn.syncWal();
        added();
      }
      return n;
    },

    onAdded(listener) {
      conn.events.on(OUTBOX_ADDED, listener);
      return () => conn.events.off(OUTBOX_ADDED, listener);
    },
  };
}

function toEntry(row: Row): OutboxEntry {
  return {
    id: row.event_id, topicArn: row.topic_arn, endpointName: row.endpoint_name, variantName: row.variant_name, message: row.message,
    state: row.state, attempts: row.attempts, deliveredTargets: JSON.parse(row.delivered_targets) as string[],
    createdAtMs: row.created_at, updatedAtMs: row.updated_at, nextAttemptAtMs: row.next_attempt_at,
    ...(row.last_error !== null && { lastError: row.last_error }),
  };
}

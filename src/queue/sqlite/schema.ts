/**
 * The SQLite schema, versioned with PRAGMA user_version.
 * Every index costs each group commit: keys are time-ordered (`id` is a UUIDv7, `seq` grows) so
 * inserts append; a random key such as inference_id gets no index until something reads by it.
 */
import type { Database } from 'better-sqlite3';

const MIGRATIONS: string[] = [
  `CREATE TABLE invocations (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     inference_id TEXT NOT NULL,
     endpoint_name TEXT NOT NULL,
     state TEXT NOT NULL,
     content_type TEXT,
     accept TEXT,
     custom_attributes TEXT,
     input_location TEXT,
     body BLOB,
     output_location TEXT NOT NULL,
     failure_location TEXT,
     request_ttl_seconds INTEGER NOT NULL,
     invocation_timeout_seconds INTEGER NOT NULL,
     received_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     lease_owner TEXT,
     lease_expires_at INTEGER,
     started_at INTEGER,
     finished_at INTEGER,
     failure_reason TEXT,
     model_status INTEGER
   );
   CREATE INDEX invocations_queued ON invocations (endpoint_name, seq) WHERE state = 'queued';
   CREATE INDEX invocations_expiry ON invocations (expires_at) WHERE state = 'queued';
   CREATE INDEX invocations_leases ON invocations (lease_expires_at) WHERE state = 'running';`,
  // The notification outbox (src/notify/outbox.ts): one row per event and topic, written in the
  // outcome's transaction; targets are resolved at delivery, so delivered_targets (a JSON array of
  // target keys) is the per-target progress. Every attempt is a row of notification_attempts.
  `CREATE TABLE notifications (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     event_id TEXT NOT NULL UNIQUE,
     topic_arn TEXT NOT NULL,
     endpoint_name TEXT NOT NULL,
     variant_name TEXT NOT NULL,
     message TEXT NOT NULL,
     state TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     delivered_targets TEXT NOT NULL DEFAULT '[]',
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     next_attempt_at INTEGER NOT NULL,
     claim_token TEXT,
     claim_expires_at INTEGER,
     last_error TEXT
   );
   CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state = 'pending';
   CREATE INDEX notifications_by_state ON notifications (state, seq);
   CREATE TABLE notification_attempts (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     notification_seq INTEGER NOT NULL REFERENCES notifications (seq),
     target TEXT NOT NULL,
     at INTEGER NOT NULL,
     latency_ms INTEGER NOT NULL,
     ok INTEGER NOT NULL,
     status INTEGER,
     error TEXT
   );
   CREATE INDEX notification_attempts_by_notification ON notification_attempts (notification_seq, id);`,
  // The TTL covers only the wait in the queue: an invocation ever started (started_at set) is
  // never expired, so the expiry index leaves it out. pending_outcome (JSON) is the outcome whose
  // object a worker is writing or wrote (InvocationQueue.prepareOutcome).
  `ALTER TABLE invocations ADD COLUMN pending_outcome TEXT;
   DROP INDEX invocations_expiry;
   CREATE INDEX invocations_expiry ON invocations (expires_at) WHERE state = 'queued' AND started_at IS NULL;`,
];

export function migrate(db: Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    throw new Error(`The queue database has schema version ${version}, newer than this asyncinfer knows (${MIGRATIONS.length}); upgrade asyncinfer`);
  }
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

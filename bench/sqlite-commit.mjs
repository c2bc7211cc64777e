// What a group commit costs without the server: inserts rows shaped like the accept path's (1 KiB
// body, same schema via dist/, WAL) in transactions of --batch rows, with each synchronous setting.
//   node bench/sqlite-commit.mjs [--batch 50] [--transactions 2000]
// The difference between FULL and OFF is the fsync's share; NORMAL still fsyncs at checkpoints.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { migrate } from '../dist/src/queue/sqlite/schema.js';

const { values } = parseArgs({ options: { batch: { type: 'string', default: '50' }, transactions: { type: 'string', default: '2000' } } });
const BATCH = Number(values.batch);
const TRANSACTIONS = Number(values.transactions);
const body = Buffer.alloc(1024, 'x');

function run(synchronous) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'asyncinfer-sqlite-bench-'));
  const db = new Database(path.join(dir, 'queue.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    migrate(db);
    const insert = db.prepare(`INSERT INTO invocations (id, inference_id, endpoint_name, state, content_type, body,
        output_location, failure_location, request_ttl_seconds, invocation_timeout_seconds, received_at, expires_at)
      VALUES (?, ?, 'bench', 'queued', 'application/json', ?, ?, ?, 21600, 900, ?, ?)`);
    const insertMany = db.transaction((n) => {
      for (let i = 0; i < n; i++) {
        const id = randomUUID();
        const now = Date.now();
        insert.run(id, randomUUID(), body, `s3://bench-bucket/out/${id}.out`, `s3://bench-bucket/fail/${id}.out`, now, now + 21_600_000);
      }
    });
    const times = [];
    const start = performance.now();
    for (let t = 0; t < TRANSACTIONS; t++) {
      const s = performance.now();
      insertMany(BATCH);
      times.push(performance.now() - s);
    }
    const totalMs = performance.now() - start;
    times.sort((a, b) => a - b);
    const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(2);
    process.stdout.write(`synchronous = ${synchronous.padEnd(6)}  transaction p50 ${at(0.5)} ms, p99 ${at(0.99)} ms;  ` +
      `${((1000 * totalMs) / (BATCH * TRANSACTIONS)).toFixed(1)} µs per row, ${Math.round((BATCH * TRANSACTIONS) / (totalMs / 1000))} rows/s\n`);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

process.stdout.write(`${TRANSACTIONS} transactions of ${BATCH} rows (1 KiB body each), WAL, in ${os.tmpdir()}\n`);
for (const s of ['FULL', 'NORMAL', 'OFF']) run(s);

// Preloaded into the asyncinfer server by `node bench/ingest.mjs --profile` (node --import):
// times every better-sqlite3 transaction called with an array (the queue's group commit: one call
// per event-loop turn, holding every enqueue of that turn). On exit it writes a JSON summary to
// $ASYNCINFER_BENCH_COMMIT_STATS. Diagnostic only: it relies on the queue committing batches through
// Database#transaction, and reports 0 transactions if that ever changes.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const out = process.env.ASYNCINFER_BENCH_COMMIT_STATS;
const require = createRequire(new URL('../package.json', import.meta.url));
const Database = require('better-sqlite3');

const sizes = [];
const times = [];
const original = Database.prototype.transaction;
Database.prototype.transaction = function transaction(fn) {
  const tx = original.call(this, fn);
  const timed = function (...args) {
    if (!Array.isArray(args[0])) return tx.apply(this, args);
    const start = performance.now();
    try {
      return tx.apply(this, args);
    } finally {
      times.push(performance.now() - start);
      sizes.push(args[0].length);
    }
  };
  for (const variant of ['deferred', 'immediate', 'exclusive']) timed[variant] = tx[variant];
  return timed;
};

const startedAt = performance.now();

process.on('exit', () => {
  if (!out) return;
  const wallMs = performance.now() - startedAt;
  const rows = sizes.reduce((a, b) => a + b, 0);
  const txMs = times.reduce((a, b) => a + b, 0);
  const q = (arr, p) => {
    if (arr.length === 0) return null;
    const s = [...arr].sort((a, b) => a - b);
    return Math.round(100 * s[Math.min(s.length - 1, Math.floor(p * s.length))]) / 100;
  };
  writeFileSync(out, `${JSON.stringify({
    wallMs: Math.round(wallMs),
    transactions: sizes.length,
    rows,
    batchRows: { p50: q(sizes, 0.5), p90: q(sizes, 0.9), max: q(sizes, 1) },
    transactionMs: { total: Math.round(txMs), p50: q(times, 0.5), p99: q(times, 0.99), max: q(times, 1) },
    microsecondsPerRow: rows ? Math.round((10 * 1000 * txMs) / rows) / 10 : null,
    eventLoopBlockedInTransactionsPercent: Math.round((1000 * txMs) / wallMs) / 10,
  }, null, 2)}\n`);
});

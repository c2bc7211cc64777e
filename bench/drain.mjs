// The drain measurement shared by bench/dispatch.mjs and bench/redis.mjs: N invocations enqueued
// while the model is down, then the queue polled until every one has left it.
import { fmt, log, round, signedHeaders, sleep } from './lib.mjs';
import { load, trouble } from './load.mjs';

/**
 * Enqueues `count` invocations (all must be 202) through `url`, the same request signed once with
 * the bench key (see signedHeaders); logs and returns the run.
 */
export async function enqueueAll({ url, body, headers, connections, count }) {
  const signed = await signedHeaders({ url, method: 'POST', headers, body });
  const { result: enqueue, seconds: enqueueSeconds } = await load({ url, method: 'POST', body, headers: signed, connections: Math.min(connections, count), amount: count });
  const badEnqueue = trouble(enqueue, 202, count);
  if (badEnqueue) throw new Error(`enqueue: ${badEnqueue}`);
  log(`[drain] enqueued ${fmt(count)} in ${enqueueSeconds.toFixed(2)} s (${fmt(round(count / enqueueSeconds))} req/s, all 202)`);
  return { enqueue, enqueueSeconds };
}

/** What goes into the results about the enqueue. */
export function enqueueFigures({ enqueue, enqueueSeconds }, count) {
  return { requestsPerSecond: round(count / enqueueSeconds), seconds: round(enqueueSeconds, 3), status202: enqueue.statusCodeStats['202']?.count ?? 0 };
}

/**
 * Polls `backlog()` ({ queued, running }, or a promise of it) every `pollMs` from `t0` until `count`
 * invocations are done (count − queued − running). Throws when `server` exits or nothing finishes
 * for `stallMs` (`stallDetail(backlog)` says where the queue stood). Returns the progress samples
 * ([seconds since t0, done]), the end (performance.now() and process.hrtime) and the number of polls.
 */
export async function pollDrain({ count, t0, pollMs, stallMs, server, backlog, stallDetail }) {
  const samples = [];
  let finished = 0;
  let lastProgressAt = t0;
  let polls = 0;
  for (;;) {
    await sleep(pollMs);
    const b = await backlog();
    polls++;
    const now = performance.now();
    const f = count - b.queued - b.running; // rows leave `running` only once their object is written
    if (f > finished) {
      finished = f;
      lastProgressAt = now;
      samples.push([round((now - t0) / 1000, 3), f]);
    }
    if (finished >= count) return { samples, tEnd: now, tEndHr: process.hrtime.bigint(), polls };
    if (server.exited) throw new Error(`asyncinfer exited during the drain (code ${server.exitCode}, signal ${server.signal})`);
    if (now - lastProgressAt > stallMs) throw new Error(`the drain stalled: nothing finished for ${stallMs / 1000} s; ${stallDetail(b)}`);
  }
}

/** Completions per second between 10% and 90% done: the drain without its start and its tail. */
export function steadyRate(samples, total) {
  const at = (fraction) => samples.find(([, done]) => done >= fraction * total);
  const a = at(0.1);
  const b = at(0.9);
  if (!a || !b || b[0] <= a[0]) return undefined;
  return round((b[1] - a[1]) / (b[0] - a[0]));
}

/** At most about 400 progress samples, for the results file. */
export function thinSamples(samples) {
  return samples.length <= 400 ? samples : samples.filter((_, i) => i % Math.ceil(samples.length / 400) === 0);
}

/** The drain's rate-of-the-clock figures, common to its [drain] log line and the summary. */
export function drainTimesText(rate, count, seconds, r) {
  return `${fmt(rate)} invocations/s (${fmt(count)} in ${seconds.toFixed(2)} s from the model's spawn; model listening after ` +
    `${r.modelListeningAfterSeconds ?? '?'} s, asyncinfer saw it ready after ${r.modelReadyAfterSeconds ?? '?'} s)`;
}

/** "from "model URL ready": X/s; between 10% and 90% done: Y/s" */
export function drainRatesText(fromReady, steady) {
  return `from "model URL ready": ${fromReady === undefined ? '?' : fmt(fromReady)}/s; between 10% and 90% done: ${steady === undefined ? '?' : fmt(steady)}/s`;
}

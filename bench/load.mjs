// Load generation shared by the benchmark scripts: autocannon runs of a fixed number of requests,
// the check of what came back, and the "direct" run (the null model called straight by autocannon).
import autocannon from 'autocannon';
import { c2, cpuSince, cpuSnapshot, fmt, log, noisy, quietCheck, round } from './lib.mjs';

/**
 * autocannon with `amount`, timed to its last response: autocannon itself only notices that it is
 * done at its next 1 s sample, so its own duration is rounded up to whole seconds.
 * `onResponse(n)` runs after the n-th response; with `keepTimes`, every response's own time (ms,
 * from process.hrtime) is kept in `times`.
 * @param {object} opts autocannon options
 * @param {{ onResponse?: (n: number) => void, keepTimes?: boolean }} [options]
 */
export function load(opts, { onResponse, keepTimes = false } = {}) {
  return new Promise((resolve, reject) => {
    const times = keepTimes ? [] : undefined;
    let responses = 0;
    let lastResponseAt;
    const t0 = performance.now();
    const tracker = autocannon(opts, (err, result) => {
      if (err) reject(err);
      else resolve({ result, times, seconds: ((lastResponseAt ?? performance.now()) - t0) / 1000, responses });
    });
    tracker.on('response', (_client, _status, _bytes, responseTime) => {
      times?.push(responseTime);
      responses += 1;
      lastResponseAt = performance.now();
      onResponse?.(responses);
    });
  });
}

/** The figures every fixed-amount run starts its results with: URL, rate, time, latencies (ms), responses. */
export function runFigures(url, rate, seconds, r) {
  return { url, requestsPerSecond: rate, seconds: round(seconds, 3), latencyMs: latencyFigures(r), responses: r.requests.total };
}

/** An autocannon result's latency figures (ms), as the results files keep them. */
export function latencyFigures(r) {
  return { average: round(r.latency.average, 2), p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max };
}

/** A run's trouble (see trouble()), if any, goes to `problems` and is logged as `[name] !!! …`. */
export function reportTrouble(name, bad, problems) {
  if (bad) {
    problems.push(`${name}: ${bad}`);
    log(`[${name}] !!! ${bad}`);
  }
}

/** What was wrong with an autocannon run (not slow: wrong), or undefined. */
export function trouble(r, status, expected) {
  const ok = r.statusCodeStats[String(status)]?.count ?? 0;
  const issues = [];
  if (r.requests.total - ok > 0) {
    const codes = Object.entries(r.statusCodeStats).filter(([code]) => code !== String(status)).map(([code, { count }]) => `${count} × ${code}`);
    issues.push(`${r.requests.total - ok} answers other than ${status} (${codes.join(', ')})`);
  }
  if (ok !== expected) issues.push(`${ok} × ${status}, expected ${expected}`);
  if (r.errors > 0) issues.push(`${r.errors} errors (${r.timeouts} timeouts)`);
  if (r.resets > 0) issues.push(`${r.resets} connection resets`);
  return issues.length ? issues.join('; ') : undefined;
}

/**
 * The null model called directly (bench/dispatch.mjs and bench/redis.mjs): started in its own child
 * process, `count` POST /invocations of `body` over `concurrency` connections after `warmup`
 * uncounted ones, stopped again.
 * @param {{ children: ReturnType<import('./lib.mjs').childSet>, body: string, concurrency: number, count: number,
 *   warmup: number, cpuCount: number, problems: string[], warnings: string[] }} run
 */
export async function runDirect({ children, body, concurrency, count, warmup, cpuCount, problems, warnings }) {
  const model = await children.startNullModel('null model (direct)');
  try {
    const url = `${model.url}/invocations`;
    const opts = { url, method: 'POST', headers: { 'content-type': 'application/json' }, body };
    await quietCheck('direct', warnings);
    if (warmup > 0) {
      log(`\n[direct] warm-up ${fmt(warmup)} requests (not counted) …`);
      const { result: w } = await load({ ...opts, connections: Math.min(concurrency, warmup), amount: warmup });
      const bad = trouble(w, 200, warmup);
      if (bad) problems.push(`direct warm-up: ${bad}`);
    }
    log(`[direct] POST /invocations × ${fmt(count)}, ${concurrency} connections …`);
    const cpuBefore = cpuSnapshot([model.child.pid]);
    const { result: r, seconds } = await load({ ...opts, connections: concurrency, amount: count });
    const cpu = cpuSince(cpuBefore, [model.child.pid]);
    noisy('direct', cpu?.other, warnings);
    reportTrouble('direct', trouble(r, 200, count), problems);
    const rate = round(count / seconds);
    log(`[direct] ${fmt(rate)} req/s (${fmt(count)} in ${seconds.toFixed(2)} s), p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ` +
      `${r['2xx']} × 2xx, ${r.non2xx} non-2xx, ${r.errors} errors`);
    log(`[direct] CPU, in cores busy: model ${c2(cpu?.children[0])}, load generator ${c2(cpu?.self)}, other ${c2(cpu?.other)}, machine ${c2(cpu?.machine)} of ${cpuCount}`);
    return {
      ...runFigures(url, rate, seconds, r),
      '2xx': r['2xx'],
      non2xx: r.non2xx,
      errors: r.errors,
      timeouts: r.timeouts,
      resets: r.resets,
      cpuCores: cpu && { model: cpu.children[0], loadGenerator: cpu.self, other: cpu.other, machine: cpu.machine },
    };
  } finally {
    await children.stop(model);
  }
}

// Backlog benchmark: a million invocations queued on an endpoint with no instance, then drained.
// What a long queue costs the server: memory, disk, the /metrics scrape, and the drain rate.
//
//   node bench/backlog.mjs [--count 1000000] [--drain-seconds 60] [--instances 1] [--concurrency 8]
//                          [--scrapes 20] [--out FILE] [--keep-data]
//
// asyncinfer (dist/src/cli/main.js serve) runs in a child process with one endpoint whose model is
// `command: sh -c 'exec node bench/null-model.mjs --port $SAGEMAKER_BIND_TO_PORT'` and
// `instances: {initial: 0}` (no max, so no autoscaling: the count stays at 0 and nothing runs).
//
// 1. idle (baselines): the server's VmRSS and VmHWM (/proc/PID/status) after start-up, and --scrapes
//    timed GET /metrics with an empty queue (after 100 uncounted ones: the first few dozen scrapes of a
//    fresh process take 2-50 ms while V8 warms up, which would flatter the backlog): median and max.
// 2. enqueue: N inline 1 KiB JSON invocations through the real HTTP API, autocannon in this process,
//    64 connections, one SigV4-signed request (the bench key of bench/lib.mjs, which the server
//    gets in its environment) sent N times; every answer must be 202. Progress (rate, RSS) is printed every 10%.
// 3. the backlog: RSS and HWM again (2 s after the last 202), the data dir's size (bytes in files and
//    blocks on disk), the count of queued rows in <data-dir>/queue.db (read-only better-sqlite3, a
//    count over the partial index `WHERE state = 'queued'`, never a table scan), which must be N, and
//    --scrapes timed GET /metrics: asyncinfer_approximate_backlog_size{endpoint="backlog"} must read N.
//    Ratios: RSS with the backlog ÷ idle RSS; /metrics median with the backlog ÷ with an empty queue.
//    Scrapes are signed (auth.metrics is "signed" by default), once per series, outside the clock.
// 4. drain: UpdateEndpointWeightsAndCapacities (@aws-sdk/client-sagemaker with the bench key, the
//    server's control plane) pins DesiredInstanceCount = --instances, each with MaxConcurrentInvocationsPerInstance =
//    --concurrency (1 × 8 by default: the same 8 in flight as bench/dispatch.mjs, whose drain starts
//    from a 20,000 queue, so the two rates compare). The window opens when asyncinfer logs "model
//    instance ready" and lasts --drain-seconds (or until the queue is empty). Invocations done =
//    N − queued − running, counted from the partial indexes (each count is timed: with a million rows
//    it takes 30-60 ms, so it runs every 2 s then, and every 50 ms once few rows are left). Rate = done in
//    the window ÷ its length; the rate over each 10 s of it is kept to show whether it holds steady.
//    /metrics is scraped (timed) at each progress tick, under load.
// 5. after SIGTERM: every invocation must be `completed` or still `queued` (none running, failed or
//    expired; one GROUP BY over the table, once), and the output folder must hold one object per
//    completed invocation.
//
// Figures are printed and written to bench/backlog-results.json (or --out). The exit code is non-zero
// only when something was *wrong* (an answer other than 202, an error, a gauge or count that is not N,
// a failed invocation, a missing output, warnings in asyncinfer's log, a process that fails to start
// or to exit 0 on SIGTERM); never because of a figure.
//
// On the 2-vCPU machine in docs/benchmarks.md the default (N = 1,000,000) takes about 2 minutes
// 10-20 seconds: 50-60 s to enqueue, the 60 s drain window, start-up and checks. The data dir holds
// about 1.4 GiB (queue.db) in the system temp folder, deleted afterwards unless --keep-data.
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SageMakerClient, UpdateEndpointWeightsAndCapacitiesCommand } from '@aws-sdk/client-sagemaker';
import {
  BENCH_CREDENTIALS, BENCH_DIR, BENCH_REGION, die, NULL_MODEL, ROOT, SERVER_MAIN, asyncinferListening, c2, childSet, cpuSince, cpuSnapshot, endRun,
  flagged, fmt, fsyncReport, log, machineInfo, makeBody, noisy, parseBenchArgs, positiveInt, printRows, quietCheck, round, signedHeaders, sleep,
  writeResults,
} from './lib.mjs';
import { load, reportTrouble, trouble } from './load.mjs';

const ENDPOINT = 'backlog';
const VARIANT = 'AllTraffic';
const BUCKET = 'backlog-bucket';
const BODY_BYTES = 1024;
const ENQUEUE_CONNECTIONS = 64;
const PROGRESS_MS = 2000;
const POLL_MIN_MS = 50;
const RATE_SLICE_SECONDS = 10;
const MODEL_ANSWER = '{"ok":true}';

const flags = parseBenchArgs('usage: node bench/backlog.mjs [--count N=1000000] [--drain-seconds S=60] [--instances N=1] [--concurrency C=8] ' +
  '[--scrapes N=20] [--out FILE] [--keep-data]', {
  count: { type: 'string', default: '1000000' },
  'drain-seconds': { type: 'string', default: '60' },
  instances: { type: 'string', default: '1' },
  concurrency: { type: 'string', default: '8' },
  scrapes: { type: 'string', default: '20' },
  out: { type: 'string', default: path.join(BENCH_DIR, 'backlog-results.json') },
});
const COUNT = positiveInt(flags.count, '--count');
const DRAIN_SECONDS = positiveInt(flags['drain-seconds'], '--drain-seconds');
const INSTANCES = positiveInt(flags.instances, '--instances');
const CONCURRENCY = positiveInt(flags.concurrency, '--concurrency');
const SCRAPES = positiveInt(flags.scrapes, '--scrapes');
if (COUNT < ENQUEUE_CONNECTIONS) {
  die(`--count must be at least ${ENQUEUE_CONNECTIONS} (one request per connection)`);
}
if (INSTANCES > 64 || CONCURRENCY > 1000) {
  die('--instances must be at most 64 and --concurrency at most 1000');
}
if (flags.profile) {
  die('backlog.mjs has no --profile');
}
if (!existsSync(SERVER_MAIN)) {
  die(`${path.relative(ROOT, SERVER_MAIN)} is missing; run "npm run build" first.`, 1);
}

const BODY = makeBody(BODY_BYTES);
const stamp = new Date().toISOString();
const startedAt = performance.now();
const work = mkdtempSync(path.join(os.tmpdir(), 'asyncinfer-backlog-'));
const dataDir = path.join(work, 'data');
const outDir = path.join(dataDir, 's3', BUCKET, 'out');
/** Things that were wrong (not slow): each makes the exit code 1. */
const problems = [];
/** Things that make the figures unreliable (a busy machine): reported, exit code unchanged. */
const warnings = [];
const children = childSet(problems);
const { start: startChild, stop: stopChild } = children;
const machine = machineInfo();

log(`backlog benchmark: ${fmt(COUNT)} invocations queued on an endpoint with 0 instances, then ${INSTANCES} instance(s) × ${CONCURRENCY} in flight for ${DRAIN_SECONDS} s`);
log(`machine: ${machine.cpuCount} × ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB, ${machine.os}, node ${machine.node}`);
log('NOTE: the load generator and the queue counts run in this process and share the CPU cores with asyncinfer and the model.');

const fsync = fsyncReport(work);

let idle;
let enqueue;
let backlog;
let drain;
let check;
const phaseSeconds = {};
try {
  const configFile = path.join(work, 'config.json');
  writeFileSync(configFile, JSON.stringify({
    endpoints: [{
      name: ENDPOINT,
      variantName: VARIANT,
      model: { command: ['/bin/sh', '-c', `exec "${process.execPath}" "${NULL_MODEL}" --port "$SAGEMAKER_BIND_TO_PORT"`] },
      instances: { initial: 0 },
      asyncInferenceConfig: {
        OutputConfig: { S3OutputPath: `s3://${BUCKET}/out`, S3FailurePath: `s3://${BUCKET}/fail` },
        ClientConfig: { MaxConcurrentInvocationsPerInstance: CONCURRENCY },
      },
    }],
  }, null, 2));
  const server = await startChild('asyncinfer', [SERVER_MAIN, 'serve', '--config', configFile, '--port', '0', '--s3-port', '0',
    '--data-dir', dataDir, '--log-level', 'info'], asyncinferListening);
  let modelReady;
  server.onLine = (line) => {
    if (line.msg === 'model instance ready') modelReady?.(performance.now());
  };
  const db = () => new Database(path.join(dataDir, 'queue.db'), { readonly: true, fileMustExist: true });
  try {
    let t = performance.now();
    idle = await measureIdle(server);
    phaseSeconds.idle = round((performance.now() - t) / 1000, 1);
    t = performance.now();
    enqueue = await runEnqueue(server);
    phaseSeconds.enqueue = round((performance.now() - t) / 1000, 1);
    t = performance.now();
    const queueDb = db();
    try {
      backlog = await measureBacklog(server, queueDb);
      phaseSeconds.backlog = round((performance.now() - t) / 1000, 1);
      t = performance.now();
      drain = await runDrain(server, queueDb, (resolve) => { modelReady = resolve; });
      phaseSeconds.drain = round((performance.now() - t) / 1000, 1);
    } finally {
      queueDb.close();
    }
  } finally {
    await stopChild(server);
  }
  const t = performance.now();
  check = checkAfterStop();
  phaseSeconds.check = round((performance.now() - t) / 1000, 1);
} catch (err) {
  problems.push(`benchmark aborted: ${err.message}`);
  process.stderr.write(`\nbench: ${err.stack ?? err}\n`);
} finally {
  await children.stopAll();
}

const ratios = {
  rssBacklogOverIdle: idle && backlog ? round(backlog.rss.vmRssBytes / idle.rss.vmRssBytes, 2) : undefined,
  metricsMedianBacklogOverEmpty: idle && backlog ? round(backlog.metricsMs.median / idle.metricsMs.median, 2) : undefined,
};
printSummary();
const totalSeconds = round((performance.now() - startedAt) / 1000, 1);
log(`\nthe whole run took ${totalSeconds} s (${Object.entries(phaseSeconds).map(([k, v]) => `${k} ${v} s`).join(', ')})`);

const results = {
  benchmark: 'backlog',
  timestamp: stamp,
  machine,
  settings: {
    count: COUNT, bodyBytes: BODY_BYTES, enqueueConnections: ENQUEUE_CONNECTIONS, drainSeconds: DRAIN_SECONDS,
    instances: INSTANCES, maxConcurrentInvocationsPerInstance: CONCURRENCY, scrapes: SCRAPES, logLevel: 'info',
    model: 'bench/null-model.mjs as model.command, instances.initial 0, pinned with UpdateEndpointWeightsAndCapacities for the drain',
    counting: "read-only better-sqlite3: count(*) WHERE state = 'queued' / 'running' (partial indexes)",
  },
  fsync,
  idle,
  enqueue,
  backlog,
  drain,
  ratios,
  check,
  totalSeconds,
  phaseSeconds,
  problems,
  warnings,
};
writeResults(path.resolve(flags.out), results, { blankLine: false });
endRun({ warnings, problems, keepData: flags['keep-data'], work, kept: 'queue.db, s3/, config' });

// ---------------------------------------------------------------------------------------------

async function measureIdle(server) {
  await sleep(2000); // let start-up settle (the first timers, lazy imports)
  await quietCheck('idle', warnings);
  const rss = memory(server.child.pid);
  const scrape = await scrapeMetrics(server, SCRAPES);
  const gauge = scrape.backlogSize;
  if (gauge !== 0) problems.push(`idle: asyncinfer_approximate_backlog_size reads ${gauge}, expected 0`);
  log(`\n[idle] RSS ${mib(rss.vmRssBytes)} MiB (peak ${mib(rss.vmHwmBytes)} MiB); GET /metrics ×${SCRAPES}: median ${scrape.metricsMs.median} ms, ` +
    `max ${scrape.metricsMs.max} ms, ${fmt(scrape.bytes)} bytes; backlog gauge ${gauge}`);
  return { rss, metricsMs: scrape.metricsMs, metricsBytes: scrape.bytes, backlogGauge: gauge };
}

async function runEnqueue(server) {
  await quietCheck('enqueue', warnings);
  log(`\n[enqueue] ${fmt(COUNT)} × POST /endpoints/${ENDPOINT}/async-invocations (${BODY_BYTES}-byte JSON, ${ENQUEUE_CONNECTIONS} connections) …`);
  const progress = [];
  const step = Math.max(1, Math.round(COUNT / 10));
  const cpuBefore = cpuSnapshot([server.child.pid]);
  const t0 = performance.now();
  let last = { at: t0, n: 0 };
  const url = `${server.url}/endpoints/${ENDPOINT}/async-invocations`;
  // One signature for every request (the same URL, headers and body): valid for 15 minutes, far
  // longer than a million requests take here (about a minute).
  const headers = await signedHeaders({ url, body: BODY, headers: { 'content-type': 'application/json', 'x-amzn-sagemaker-content-type': 'application/json' } });
  const { result: r, seconds } = await load({
    url, method: 'POST', body: BODY, headers,
    connections: ENQUEUE_CONNECTIONS, amount: COUNT,
  }, { onResponse: (n) => {
    if (n % step !== 0 && n !== COUNT) return;
    const now = performance.now();
    const rss = memory(server.child.pid);
    const sliceRate = round((n - last.n) / ((now - last.at) / 1000));
    last = { at: now, n };
    progress.push({ seconds: round((now - t0) / 1000, 2), accepted: n, requestsPerSecond: sliceRate, vmRssBytes: rss.vmRssBytes });
    log(`[enqueue] ${String(Math.round((100 * n) / COUNT)).padStart(3)}%  ${fmt(n).padStart(9)} accepted after ${((now - t0) / 1000).toFixed(1)} s, ` +
      `${fmt(sliceRate)} req/s over the last slice, server RSS ${mib(rss.vmRssBytes)} MiB`);
  } });
  const cpu = cpuSince(cpuBefore, [server.child.pid]);
  noisy('enqueue', cpu?.other, warnings);
  reportTrouble('enqueue', trouble(r, 202, COUNT), problems);
  if (server.exited) throw new Error(`asyncinfer exited during the enqueue (code ${server.exitCode}, signal ${server.signal})`);
  const rate = round(COUNT / seconds);
  log(`[enqueue] ${fmt(COUNT)} in ${seconds.toFixed(1)} s: ${fmt(rate)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ` +
    `${fmt(r.statusCodeStats['202']?.count ?? 0)} × 202, ${flagged(r.non2xx)} non-2xx, ${flagged(r.errors)} errors`);
  log(`[enqueue] CPU cores: asyncinfer ${c2(cpu?.children[0])}, load generator ${c2(cpu?.self)}, other ${c2(cpu?.other)}`);
  return {
    requestsPerSecond: rate,
    seconds: round(seconds, 2),
    latencyMs: { p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max },
    status202: r.statusCodeStats['202']?.count ?? 0,
    statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats).map(([code, { count }]) => [code, count])),
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    resets: r.resets,
    progress,
    cpuCores: cpu && { asyncinfer: cpu.children[0], loadGenerator: cpu.self, other: cpu.other, machine: cpu.machine },
  };
}

async function measureBacklog(server, queueDb) {
  await sleep(2000); // the last group commits and any checkpoint
  const t0 = performance.now();
  const queued = queueDb.prepare("SELECT count(*) AS n FROM invocations WHERE state = 'queued'").get().n;
  const countMs = round(performance.now() - t0, 1);
  if (queued !== COUNT) problems.push(`backlog: ${fmt(queued)} queued rows in queue.db, expected ${fmt(COUNT)}`);
  const plan = queueDb.prepare("EXPLAIN QUERY PLAN SELECT count(*) FROM invocations WHERE state = 'queued'").all().map((row) => row.detail).join('; ');
  await quietCheck('backlog', warnings);
  const rss = memory(server.child.pid);
  const disk = dirSize(dataDir);
  const scrape = await scrapeMetrics(server, SCRAPES);
  if (scrape.backlogSize !== COUNT) problems.push(`backlog: asyncinfer_approximate_backlog_size reads ${scrape.backlogSize}, expected ${COUNT}`);
  if (scrape.hasBacklogWithoutCapacity !== 1) problems.push(`backlog: asyncinfer_has_backlog_without_capacity reads ${scrape.hasBacklogWithoutCapacity}, expected 1`);
  log(`\n[backlog] ${fmt(queued)} queued rows in queue.db (count ${countMs} ms; plan: ${plan})`);
  log(`[backlog] RSS ${mib(rss.vmRssBytes)} MiB (peak ${mib(rss.vmHwmBytes)} MiB); data dir ${mib(disk.bytes)} MiB in files, ` +
    `${mib(disk.allocatedBytes)} MiB on disk (queue.db ${mib(disk.topLevel['queue.db'] ?? 0)} MiB, -wal ${mib(disk.topLevel['queue.db-wal'] ?? 0)} MiB)`);
  log(`[backlog] GET /metrics ×${SCRAPES}: median ${scrape.metricsMs.median} ms, max ${scrape.metricsMs.max} ms; ` +
    `backlog_size ${fmt(scrape.backlogSize)}, per_instance ${fmt(scrape.backlogPerInstance)}, age of oldest ${scrape.ageOfOldestSeconds} s, ` +
    `has_backlog_without_capacity ${scrape.hasBacklogWithoutCapacity}`);
  return {
    queuedRows: queued,
    queuedCountMs: countMs,
    queuedCountPlan: plan,
    rss,
    dataDir: disk,
    bytesPerInvocationOnDisk: round(disk.allocatedBytes / COUNT),
    metricsMs: scrape.metricsMs,
    metricsBytes: scrape.bytes,
    gauges: {
      backlogSize: scrape.backlogSize, backlogPerInstance: scrape.backlogPerInstance,
      ageOfOldestSeconds: scrape.ageOfOldestSeconds, hasBacklogWithoutCapacity: scrape.hasBacklogWithoutCapacity,
    },
  };
}

async function runDrain(server, queueDb, onReady) {
  // One statement, so one read transaction: both counts see the same moment (two statements could
  // count a row that moved from queued to running in between twice). Each reads a partial index.
  const unfinished = queueDb.prepare(`SELECT (SELECT count(*) FROM invocations WHERE state = 'queued') AS queued,
    (SELECT count(*) FROM invocations WHERE state = 'running') AS running`);
  const countMs = [];
  const countDone = () => {
    const t = performance.now();
    const { queued, running } = unfinished.get();
    countMs.push(performance.now() - t);
    return { done: COUNT - queued - running, queued, running };
  };
  await quietCheck('drain', warnings);
  const readyPromise = new Promise((resolve) => onReady(resolve));
  // The SDK warns on Node 20 that its releases after January 2027 need Node 22 (see docs/configuration.md): noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const sagemaker = new SageMakerClient({ endpoint: server.url, region: BENCH_REGION, maxAttempts: 1, credentials: { ...BENCH_CREDENTIALS } });
  log(`\n[drain] UpdateEndpointWeightsAndCapacities: DesiredInstanceCount ${INSTANCES} (MaxConcurrentInvocationsPerInstance ${CONCURRENCY}) …`);
  const tPin = performance.now();
  await sagemaker.send(new UpdateEndpointWeightsAndCapacitiesCommand({
    EndpointName: ENDPOINT, DesiredWeightsAndCapacities: [{ VariantName: VARIANT, DesiredInstanceCount: INSTANCES }],
  }));
  sagemaker.destroy();
  let timer;
  const readyAt = await Promise.race([readyPromise, new Promise((resolve) => { timer = setTimeout(resolve, 60_000); })]);
  clearTimeout(timer);
  if (readyAt === undefined) throw new Error('no model instance became ready within 60 s of the pin');
  const atReady = countDone();
  log(`[drain] first instance ready ${((readyAt - tPin) / 1000).toFixed(2)} s after the pin; ${fmt(atReady.done)} done by then; window of ${DRAIN_SECONDS} s starts`);
  const cpuBefore = cpuSnapshot([server.child.pid]);
  const windowEnd = readyAt + DRAIN_SECONDS * 1000;
  const progress = [{ seconds: 0, done: atReady.done, running: atReady.running, vmRssBytes: memory(server.child.pid).vmRssBytes }];
  const scrapesMs = [];
  let last = atReady;
  let lastAt = readyAt;
  let lastProgressAt = readyAt;
  let lastPrintAt = readyAt;
  for (;;) {
    const now = performance.now();
    if (now >= windowEnd) break;
    // A count costs time in proportion to the rows left (30-60 ms at a million): poll so that it
    // stays near 3% of a core, which is every 2 s at a million and every 50 ms near the end, so
    // that a queue emptied inside the window is timed to within 50 ms, not 2 s.
    const pause = Math.min(PROGRESS_MS, Math.max(POLL_MIN_MS, 30 * countMs[countMs.length - 1]), windowEnd - now);
    await sleep(pause);
    if (server.exited) throw new Error(`asyncinfer exited during the drain (code ${server.exitCode}, signal ${server.signal})`);
    last = countDone();
    lastAt = performance.now();
    const emptied = last.done >= COUNT;
    if (lastAt - lastProgressAt >= PROGRESS_MS - 50 || emptied || lastAt >= windowEnd) {
      lastProgressAt = lastAt;
      progress.push({ seconds: round((lastAt - readyAt) / 1000, 2), done: last.done, running: last.running, vmRssBytes: memory(server.child.pid).vmRssBytes });
      if (!emptied && lastAt < windowEnd - 500) {
        const s = await scrapeMetrics(server, 1, 0);
        scrapesMs.push(s.metricsMs.median);
      }
    }
    if (emptied) break;
    if (lastAt - lastPrintAt >= 10_000) {
      lastPrintAt = lastAt;
      log(`[drain] ${((lastAt - readyAt) / 1000).toFixed(0).padStart(3)} s: ${fmt(last.done)} done, ${fmt(round((last.done - atReady.done) / ((lastAt - readyAt) / 1000)))}/s so far, ` +
        `server RSS ${mib(memory(server.child.pid).vmRssBytes)} MiB`);
    }
  }
  const cpu = cpuSince(cpuBefore, [server.child.pid]);
  // The model instance is the server's child: its CPU lands in "other" here, so only warn on what is left.
  const seconds = (lastAt - readyAt) / 1000;
  const doneInWindow = last.done - atReady.done;
  const rate = round(doneInWindow / seconds);
  const slices = sliceRates(progress);
  const rss = memory(server.child.pid);
  const sortedCounts = [...countMs].sort((a, b) => a - b);
  const r = {
    instances: INSTANCES,
    concurrencyPerInstance: CONCURRENCY,
    readyAfterPinSeconds: round((readyAt - tPin) / 1000, 3),
    windowSeconds: round(seconds, 2),
    doneAtWindowStart: atReady.done,
    doneInWindow,
    completedPerSecond: rate,
    sliceRates: slices,
    remainingQueued: last.queued,
    emptied: last.done >= COUNT,
    rssAfter: rss,
    metricsDuringDrainMs: scrapesMs.length ? quantile(scrapesMs) : undefined,
    queueCountMs: { median: round(sortedCounts[Math.floor(sortedCounts.length / 2)], 1), max: round(sortedCounts[sortedCounts.length - 1], 1), polls: sortedCounts.length },
    cpuCores: cpu && { asyncinfer: cpu.children[0], benchProcess: cpu.self, modelAndOther: cpu.other, machine: cpu.machine },
    progress,
  };
  log(`[drain] ${fmt(doneInWindow)} done in ${seconds.toFixed(1)} s: ${fmt(rate)} completed/s` +
    (slices.length > 1 ? ` (per ${RATE_SLICE_SECONDS} s slice: ${Math.min(...slices.map((x) => x.perSecond))}-${Math.max(...slices.map((x) => x.perSecond))}/s)` : '') +
    `; ${fmt(last.queued)} still queued`);
  log(`[drain] RSS ${mib(rss.vmRssBytes)} MiB (peak ${mib(rss.vmHwmBytes)} MiB); GET /metrics during the drain: median ${r.metricsDuringDrainMs?.median ?? '?'} ms; ` +
    `queue count (this process) median ${r.queueCountMs.median} ms`);
  log(`[drain] CPU cores: asyncinfer ${c2(cpu?.children[0])}, this process ${c2(cpu?.self)}, model + other ${c2(cpu?.other)}, machine ${c2(cpu?.machine)} of ${machine.cpuCount}`);
  return r;
}

/** After SIGTERM: states (one GROUP BY), outputs on disk. */
function checkAfterStop() {
  const queueDb = new Database(path.join(dataDir, 'queue.db'), { readonly: true, fileMustExist: true });
  let states;
  try {
    states = Object.fromEntries(queueDb.prepare('SELECT state, count(*) AS n FROM invocations GROUP BY state').all().map((row) => [row.state, row.n]));
  } finally {
    queueDb.close();
  }
  const total = Object.values(states).reduce((a, b) => a + b, 0);
  const completed = states.completed ?? 0;
  const outputs = existsSync(outDir) ? readdirSync(outDir) : [];
  const failDir = path.join(dataDir, 's3', BUCKET, 'fail');
  const failures = existsSync(failDir) ? readdirSync(failDir).length : 0;
  let wrong = 0;
  for (const f of outputs.slice(0, 1000)) if (readFileSync(path.join(outDir, f), 'utf8') !== MODEL_ANSWER) wrong += 1;
  if (total !== COUNT) problems.push(`check: ${fmt(total)} rows in queue.db, expected ${fmt(COUNT)}`);
  const odd = Object.fromEntries(Object.entries(states).filter(([s]) => s !== 'completed' && s !== 'queued'));
  if (Object.keys(odd).length > 0) problems.push(`check: after a clean stop, invocations neither completed nor queued: ${JSON.stringify(odd)}`);
  if (outputs.length !== completed) problems.push(`check: ${fmt(outputs.length)} output objects for ${fmt(completed)} completed invocations`);
  if (failures > 0) problems.push(`check: ${failures} failure objects`);
  if (wrong > 0) problems.push(`check: ${wrong} of the first 1,000 output objects are not the model's answer`);
  log(`\ncheck (after SIGTERM): states ${JSON.stringify(states)}; ${fmt(outputs.length)} output objects, ${flagged(failures)} failure objects`);
  return { states, outputObjects: outputs.length, failureObjects: failures, wrongContentInFirst1000: wrong };
}

// ---- measuring ----

/** VmRSS and VmHWM of a process, in bytes. */
function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { vmRssBytes: kb('VmRSS'), vmHwmBytes: kb('VmHWM') };
}

/** Bytes in files and bytes allocated on disk under `dir`, plus the top-level files' sizes. */
function dirSize(dir) {
  let bytes = 0;
  let allocatedBytes = 0;
  let count = 0;
  const files = {};
  for (const entry of readdirSync(dir, { recursive: true })) {
    const st = lstatSync(path.join(dir, entry));
    if (!st.isFile()) continue;
    count += 1;
    bytes += st.size;
    allocatedBytes += st.blocks * 512;
    if (!entry.includes(path.sep)) files[entry] = st.size;
  }
  return { bytes, allocatedBytes, fileCount: count, topLevel: files };
}

/**
 * `n` timed scrapes of GET /metrics (after `warm` uncounted ones); the gauges of the last one. The
 * scrape is signed (auth.metrics "signed", the default) once, before the clock starts: the server
 * verifies it every time, the client does not sign again.
 */
async function scrapeMetrics(server, n, warm = 100) {
  const times = [];
  let text = '';
  const url = `${server.url}/metrics`;
  const headers = await signedHeaders({ url, method: 'GET' });
  for (let i = 0; i < warm + n; i++) {
    const t = performance.now();
    const res = await fetch(url, { headers });
    text = await res.text();
    const ms = performance.now() - t;
    if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
    if (i >= warm) times.push(ms);
  }
  const gauge = (name) => {
    const m = new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'm');
    for (const line of text.split('\n')) {
      const hit = m.exec(line);
      if (hit && hit[1].includes(`endpoint="${ENDPOINT}"`)) return Number(hit[2]);
    }
    return undefined;
  };
  return {
    metricsMs: quantile(times),
    bytes: Buffer.byteLength(text),
    backlogSize: gauge('asyncinfer_approximate_backlog_size'),
    backlogPerInstance: gauge('asyncinfer_approximate_backlog_size_per_instance'),
    ageOfOldestSeconds: gauge('asyncinfer_approximate_age_of_oldest_request_seconds'),
    hasBacklogWithoutCapacity: gauge('asyncinfer_has_backlog_without_capacity'),
  };
}

function quantile(values) {
  const s = [...values].sort((a, b) => a - b);
  return { median: round(s[Math.floor((s.length - 1) / 2)], 2), max: round(s[s.length - 1], 2), min: round(s[0], 2), samples: s.length };
}

/** Completions per second over consecutive slices of about RATE_SLICE_SECONDS. */
function sliceRates(progress) {
  const out = [];
  let from = progress[0];
  for (const p of progress.slice(1)) {
    if (p.seconds - from.seconds >= RATE_SLICE_SECONDS - 0.5 || p === progress[progress.length - 1]) {
      if (p.seconds > from.seconds) out.push({ fromSeconds: from.seconds, toSeconds: p.seconds, perSecond: round((p.done - from.done) / (p.seconds - from.seconds)) });
      from = p;
    }
  }
  return out;
}

// ---- output ----

function mib(bytes) {
  return (bytes / 2 ** 20).toFixed(1);
}

function printSummary() {
  const rows = [['', 'value', 'baseline', 'ratio']];
  if (idle && backlog) {
    rows.push([`server RSS (MiB), idle → ${fmt(COUNT)} queued`, mib(backlog.rss.vmRssBytes), mib(idle.rss.vmRssBytes), `${ratios.rssBacklogOverIdle}×`]);
    rows.push(['server peak RSS, VmHWM (MiB)', mib(backlog.rss.vmHwmBytes), mib(idle.rss.vmHwmBytes), `${round(backlog.rss.vmHwmBytes / idle.rss.vmHwmBytes, 2)}×`]);
    rows.push(['GET /metrics median (ms), empty → backlog', String(backlog.metricsMs.median), String(idle.metricsMs.median), `${ratios.metricsMedianBacklogOverEmpty}×`]);
    rows.push(['GET /metrics max (ms)', String(backlog.metricsMs.max), String(idle.metricsMs.max), `${round(backlog.metricsMs.max / idle.metricsMs.max, 2)}×`]);
    rows.push(['data dir on disk (MiB)', mib(backlog.dataDir.allocatedBytes), '-', `${fmt(backlog.bytesPerInvocationOnDisk)} B/invocation`]);
  }
  if (enqueue) rows.push(['enqueue (req/s, all 202)', fmt(enqueue.requestsPerSecond), '-', '-']);
  if (drain) {
    rows.push([`drain (completed/s, ${drain.instances} × ${drain.concurrencyPerInstance} in flight)`, fmt(drain.completedPerSecond), '-', '-']);
    rows.push(['server RSS after the drain window (MiB)', mib(drain.rssAfter.vmRssBytes), mib(idle?.rss.vmRssBytes ?? NaN), idle ? `${round(drain.rssAfter.vmRssBytes / idle.rss.vmRssBytes, 2)}×` : '-']);
  }
  if (rows.length === 1) return;
  log(`\n==== backlog: ${fmt(COUNT)} invocations queued, ${BODY_BYTES}-byte JSON ====`);
  printRows(rows);
  log('(ratios are informational, not asserted)');
}

// Dispatch benchmark: how fast asyncinfer drains a queue into a model (lease → POST /invocations →
// output object → outcome), next to the rate a client reaches calling the same model directly.
//
//   node bench/dispatch.mjs [--count 20000] [--concurrency 8] [--warmup 1000] [--out FILE] [--profile] [--keep-data]
//
// 1. direct: bench/null-model.mjs (GET /ping → 200, POST /invocations → 200 {"ok":true}) in a child
//    process, loaded by autocannon in this process: POST /invocations, 1 KiB JSON body, C connections,
//    exactly N requests (after an uncounted warm-up of --warmup requests). Rate = N / wall time.
// 2. drain: asyncinfer (dist/src/cli/main.js serve) in a child process, one endpoint whose model is
//    `url: http://127.0.0.1:<port>` with MaxConcurrentInvocationsPerInstance = C. Nothing listens on
//    <port> yet, so the URL instance is not ready and nothing is dispatched: N invocations are
//    enqueued (autocannon, 64 connections, every answer must be 202 and every row must be queued).
//    Then the null model is started on <port>, and the clock runs from that spawn until every
//    invocation has a final state in <data-dir>/queue.db (read-only, polled every 50 ms; the poll
//    counts the queued and running rows, which the partial indexes cover: counting `completed`
//    scans the table and cost this process 0.2 cores at N = 20000, on a 2-core machine).
//    Rate = N / that time. It includes the null model's start-up and asyncinfer's next /ping (polled
//    every 200 ms until the URL first answers); the rate from "model URL ready" and the rate between
//    10% and 90% done are reported next to it. Every invocation must end `completed` and
//    <data-dir>/s3/bench-bucket/out/ must hold exactly N objects.
//
// Figures are printed and written to bench/dispatch-results.json (or --out FILE). The drain/direct ratio is
// informational: the exit code is non-zero only when something was *wrong* (errors, answers other
// than 200/202, invocations not completed, missing outputs, a server that failed to start or to
// exit 0 on SIGTERM, warnings or errors in its log).
//
// --profile starts asyncinfer with --cpu-prof; the part of the profile recorded during the drain is
// cut out (bench/profiles/<timestamp>/asyncinfer-drain.cpuprofile) and summarised. Profiled figures
// are perturbed, so they go to bench/profiles/<timestamp>/dispatch-results.json instead.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import {
  BENCH_DIR, CLOCK_TICKS_PER_SECOND, ROOT, SERVER_MAIN, c2, cpuSince, cpuSnapshot, flagged, fmt, fsyncReport, log, machineInfo,
  makeBody, noisy, nonNegativeInt, parseBenchArgs, positiveInt, printRows, processTicks, quietCheck, reportIssues, round, sleep,
  startChild as startChildProcess, stopChild as stopChildProcess,
} from './lib.mjs';
import { summarizeProfile, printProfileSummary } from './profile-summary.mjs';

const NULL_MODEL = path.join(BENCH_DIR, 'null-model.mjs');
const ENDPOINT = 'bench';
const BUCKET = 'bench-bucket';
const OUTPUT_PREFIX = 'out';
const BODY_BYTES = 1024;
const ENQUEUE_CONNECTIONS = 64;
const POLL_MS = 50;
/** The drain is declared stuck when no invocation reaches a final state for this long. */
const STALL_MS = 60_000;
const FINAL_STATES = ['completed', 'failed', 'expired', 'canceled'];

const flags = parseBenchArgs('usage: node bench/dispatch.mjs [--count N=20000] [--concurrency C=8] [--warmup REQUESTS=1000] [--out FILE=bench/dispatch-results.json] [--profile] [--keep-data]', {
  count: { type: 'string', default: '20000' },
  concurrency: { type: 'string', default: '8' },
  warmup: { type: 'string', default: '1000' },
  out: { type: 'string', default: path.join(BENCH_DIR, 'dispatch-results.json') },
});
const COUNT = positiveInt(flags.count, '--count');
const CONCURRENCY = positiveInt(flags.concurrency, '--concurrency');
const WARMUP = nonNegativeInt(flags.warmup, '--warmup');
if (CONCURRENCY > 1000) {
  process.stderr.write('bench: --concurrency must be at most 1000 (MaxConcurrentInvocationsPerInstance)\n');
  process.exit(2);
}
if (CONCURRENCY > COUNT) {
  process.stderr.write('bench: --concurrency cannot exceed --count (autocannon needs a request per connection)\n');
  process.exit(2);
}

if (!existsSync(SERVER_MAIN)) {
  process.stderr.write(`bench: ${path.relative(ROOT, SERVER_MAIN)} is missing; run "npm run build" first.\n`);
  process.exit(1);
}

const BODY = makeBody(BODY_BYTES);
const stamp = new Date().toISOString();
const profileDir = flags.profile ? path.join(BENCH_DIR, 'profiles', `dispatch-${stamp.replace(/[:.]/g, '-')}`) : undefined;
if (profileDir) mkdirSync(profileDir, { recursive: true });
const work = mkdtempSync(path.join(os.tmpdir(), 'asyncinfer-dispatch-'));
/** Things that were wrong (not slow): each makes the exit code 1. */
const problems = [];
/** Things that make the figures unreliable (a busy machine): reported, exit code unchanged. */
const warnings = [];
/** Every child started, so that all of them are stopped whatever happens. */
const children = [];

const machine = machineInfo();

log(`dispatch benchmark: ${fmt(COUNT)} invocations, concurrency ${CONCURRENCY}, ${BODY_BYTES}-byte JSON body, null model`);
log(`machine: ${machine.cpuCount} × ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB, ${machine.os}, node ${machine.node}`);
log(`NOTE: the direct run's load generator (autocannon) runs in this process; in the drain, asyncinfer is the client.`);
log('      All processes share the same CPU cores: figures compare the two on one machine, not a capacity claim.');
if (profileDir) log(`PROFILING: asyncinfer runs with --cpu-prof (figures perturbed; not written to ${path.relative(ROOT, flags.out)}); profiles in ${path.relative(ROOT, profileDir)}`);

const fsync = fsyncReport(work);

let direct;
let drain;
let profile;
try {
  direct = await runDirect();
  drain = await runDrain();
} catch (err) {
  problems.push(`benchmark aborted: ${err.message}`);
  process.stderr.write(`\nbench: ${err.stack ?? err}\n`);
} finally {
  // Whatever happened, nothing is left running. asyncinfer first: its model must outlive it.
  for (const child of [...children].sort((a, b) => Number(b.name === 'asyncinfer') - Number(a.name === 'asyncinfer'))) await stopChild(child);
}

const ratio = direct && drain?.requestsPerSecond ? round(drain.requestsPerSecond / direct.requestsPerSecond, 3) : undefined;
if (direct || drain) printTable(direct, drain, ratio);

if (profileDir && drain?.window) profile = summarizeDrainProfile(drain.window);

const results = {
  benchmark: 'dispatch',
  timestamp: stamp,
  machine,
  settings: {
    count: COUNT, concurrency: CONCURRENCY, bodyBytes: BODY_BYTES, directWarmupRequests: WARMUP,
    enqueueConnections: ENQUEUE_CONNECTIONS, pollMs: POLL_MS, logLevel: 'info',
    model: 'bench/null-model.mjs (POST /invocations → 200 {"ok":true}, Content-Length)',
    direct: `autocannon in the benchmark process, POST /invocations, ${CONCURRENCY} connections, amount ${COUNT}`,
    drain: `asyncinfer, model.url, MaxConcurrentInvocationsPerInstance ${CONCURRENCY}; N queued before the model starts; clock from the model's spawn to the last final state in queue.db`,
    profiled: Boolean(profileDir),
  },
  fsync,
  direct,
  drain,
  ratio: { drainOverDirect: ratio },
  profile,
  problems,
  warnings,
};
const resultsFile = profileDir ? path.join(profileDir, 'dispatch-results.json') : path.resolve(flags.out);
writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
log(`\nresults written to ${path.relative(ROOT, resultsFile)}`);

const exitCode = reportIssues(warnings, problems);
if (flags['keep-data']) log(`data (queue.db, s3/, config) kept in ${work}`);
else rmSync(work, { recursive: true, force: true });
process.exitCode = exitCode;

// ---------------------------------------------------------------------------------------------

/** The model called directly: N requests over C connections. */
async function runDirect() {
  const model = await startChild('null model (direct)', [NULL_MODEL], (line) => line.msg === 'null model listening' && line.url);
  try {
    const url = `${model.url}/invocations`;
    await quietCheck('direct', warnings);
    if (WARMUP > 0) {
      log(`\n[direct] warm-up ${fmt(WARMUP)} requests (not counted) …`);
      const { result: w } = await load({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY, connections: Math.min(CONCURRENCY, WARMUP), amount: WARMUP });
      const bad = trouble(w, 200, WARMUP);
      if (bad) problems.push(`direct warm-up: ${bad}`);
    }
    log(`[direct] POST /invocations × ${fmt(COUNT)}, ${CONCURRENCY} connections …`);
    const cpuBefore = cpuSnapshot([model.child.pid]);
    const { result: r, seconds } = await load({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY, connections: CONCURRENCY, amount: COUNT });
    const cpu = cpuSince(cpuBefore, [model.child.pid]);
    noisy('direct', cpu?.other, warnings);
    const bad = trouble(r, 200, COUNT);
    if (bad) {
      problems.push(`direct: ${bad}`);
      log(`[direct] !!! ${bad}`);
    }
    const rate = round(COUNT / seconds);
    log(`[direct] ${fmt(rate)} req/s (${fmt(COUNT)} in ${seconds.toFixed(2)} s), p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ` +
      `${r['2xx']} × 2xx, ${r.non2xx} non-2xx, ${r.errors} errors`);
    log(`[direct] CPU, in cores busy: model ${c2(cpu?.children[0])}, load generator ${c2(cpu?.self)}, other ${c2(cpu?.other)}, machine ${c2(cpu?.machine)} of ${machine.cpuCount}`);
    return {
      url,
      requestsPerSecond: rate,
      seconds: round(seconds, 3),
      latencyMs: { average: round(r.latency.average, 2), p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
      responses: r.requests.total,
      '2xx': r['2xx'],
      non2xx: r.non2xx,
      errors: r.errors,
      timeouts: r.timeouts,
      resets: r.resets,
      cpuCores: cpu && { model: cpu.children[0], loadGenerator: cpu.self, other: cpu.other, machine: cpu.machine },
    };
  } finally {
    await stopChild(model);
  }
}

/** asyncinfer draining N queued invocations into the null model. */
async function runDrain() {
  const port = await freePort();
  const modelUrl = `http://127.0.0.1:${port}`;
  const dataDir = path.join(work, 'data');
  const configFile = path.join(work, 'config.json');
  writeFileSync(configFile, JSON.stringify({
    endpoints: [{
      name: ENDPOINT,
      model: { url: modelUrl },
      asyncInferenceConfig: {
        OutputConfig: { S3OutputPath: `s3://${BUCKET}/${OUTPUT_PREFIX}` },
        ClientConfig: { MaxConcurrentInvocationsPerInstance: CONCURRENCY },
      },
    }],
  }, null, 2));
  const server = await startChild('asyncinfer', [...profileArgs(), SERVER_MAIN, 'serve', '--config', configFile,
    '--port', '0', '--s3-port', '0', '--data-dir', dataDir, '--log-level', 'info'],
  (line) => line.msg === 'asyncinfer listening' && line.url);
  let modelReadyAt;
  server.onLine = (line) => {
    if (line.msg === 'model URL ready' && modelReadyAt === undefined) modelReadyAt = performance.now();
  };

  // ---- enqueue N while the model is down ----
  log(`\n[drain] enqueueing ${fmt(COUNT)} invocations (${ENQUEUE_CONNECTIONS} connections) while nothing listens on ${modelUrl} …`);
  const { result: enqueue, seconds: enqueueSeconds } = await load({
    url: `${server.url}/endpoints/${ENDPOINT}/async-invocations`, method: 'POST', body: BODY,
    headers: { 'content-type': 'application/json', 'x-amzn-sagemaker-content-type': 'application/json' },
    connections: Math.min(ENQUEUE_CONNECTIONS, COUNT), amount: COUNT,
  });
  const badEnqueue = trouble(enqueue, 202, COUNT);
  if (badEnqueue) throw new Error(`enqueue: ${badEnqueue}`);
  log(`[drain] enqueued ${fmt(COUNT)} in ${enqueueSeconds.toFixed(2)} s (${fmt(round(COUNT / enqueueSeconds))} req/s, all 202)`);

  const dbFile = path.join(dataDir, 'queue.db');
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  const byState = db.prepare('SELECT state, count(*) AS n FROM invocations GROUP BY state');
  const countStates = () => Object.fromEntries(byState.all().map((row) => [row.state, row.n]));
  // Cheap enough to run every 50 ms: both counts read a partial index (state = 'queued' / 'running').
  const unfinished = db.prepare(`SELECT (SELECT count(*) FROM invocations WHERE state = 'queued') AS queued,
    (SELECT count(*) FROM invocations WHERE state = 'running') AS running`);
  try {
    const before = countStates();
    if (before.queued !== COUNT || Object.keys(before).length !== 1) {
      throw new Error(`before the model started, queue.db should hold ${COUNT} queued invocations and nothing else, but holds ${JSON.stringify(before)}`);
    }
    if (modelReadyAt !== undefined) throw new Error('asyncinfer reported the model ready before it was started');
    await quietCheck('drain', warnings);

    // ---- start the model; the clock runs from here ----
    log(`[drain] starting the null model on ${modelUrl}; draining with MaxConcurrentInvocationsPerInstance ${CONCURRENCY} …`);
    const t0 = performance.now();
    const t0Hr = process.hrtime.bigint();
    const modelPromise = startChild('null model (drain)', [NULL_MODEL, '--port', String(port)], (line) => line.msg === 'null model listening' && line.url);
    let model;
    modelPromise.then((m) => {
      model = m;
      m.listeningAt = performance.now();
    }, () => undefined);
    const cpuBefore = cpuSnapshot([server.child.pid]);
    const samples = [];
    let finals = 0;
    let lastProgressAt = t0;
    let tEnd;
    for (;;) {
      await sleep(POLL_MS);
      const { queued, running } = unfinished.get();
      const now = performance.now();
      const f = COUNT - queued - running; // rows leave `running` only once their object is written
      if (f > finals) {
        finals = f;
        lastProgressAt = now;
        samples.push([round((now - t0) / 1000, 3), f]);
      }
      if (finals >= COUNT) {
        tEnd = now;
        break;
      }
      if (server.exited) throw new Error(`asyncinfer exited during the drain (code ${server.exitCode}, signal ${server.signal})`);
      if (now - lastProgressAt > STALL_MS) {
        throw new Error(`the drain stalled: nothing finished for ${STALL_MS / 1000} s; states ${JSON.stringify(countStates())}`);
      }
    }
    const tEndHr = process.hrtime.bigint();
    const states = countStates();
    model = await modelPromise;
    const seconds = (tEnd - t0) / 1000;
    const cpu = cpuSince(cpuBefore, [server.child.pid]);
    // The model was started inside the window, so all of its CPU time belongs to it.
    const modelTicks = processTicks(model.child.pid);
    const modelCores = modelTicks === undefined ? undefined : round((modelTicks * 1000) / CLOCK_TICKS_PER_SECOND / (tEnd - t0), 2);
    if (cpu) {
      cpu.model = modelCores;
      cpu.other = modelCores === undefined ? cpu.other : round(Math.max(0, cpu.other - modelCores), 2);
    }
    noisy('drain', cpu?.other, warnings);

    const finalCount = FINAL_STATES.reduce((sum, s) => sum + (states[s] ?? 0), 0);
    if (finalCount !== COUNT) problems.push(`drain: ${fmt(finalCount)} invocations in a final state, expected ${fmt(COUNT)}: ${JSON.stringify(states)}`);
    const completed = states.completed ?? 0;
    const notCompleted = Object.fromEntries(Object.entries(states).filter(([s, n]) => s !== 'completed' && n > 0));
    if (completed !== COUNT) problems.push(`drain: ${fmt(COUNT - completed)} of ${fmt(COUNT)} invocations did not complete: ${JSON.stringify(notCompleted)}`);
    const outputs = countFiles(path.join(dataDir, 's3', BUCKET, OUTPUT_PREFIX));
    if (outputs !== COUNT) problems.push(`drain: ${fmt(outputs)} objects under s3/${BUCKET}/${OUTPUT_PREFIX}/, expected ${fmt(COUNT)}`);
    const leftoverTmp = countFiles(path.join(dataDir, 's3', '.tmp'));
    if (leftoverTmp > 0) problems.push(`drain: ${leftoverTmp} temporary files left in s3/.tmp/`);

    const rate = round(COUNT / seconds);
    const fromReady = modelReadyAt !== undefined && tEnd > modelReadyAt ? round(COUNT / ((tEnd - modelReadyAt) / 1000)) : undefined;
    const steady = steadyRate(samples, COUNT);
    const r = {
      requestsPerSecond: rate,
      seconds: round(seconds, 3),
      modelListeningAfterSeconds: model.listeningAt === undefined ? undefined : round((model.listeningAt - t0) / 1000, 3),
      modelReadyAfterSeconds: modelReadyAt === undefined ? undefined : round((modelReadyAt - t0) / 1000, 3),
      requestsPerSecondFromModelReady: fromReady,
      requestsPerSecondBetween10And90Percent: steady,
      states: { completed, failed: states.failed ?? 0, expired: states.expired ?? 0, canceled: states.canceled ?? 0, queued: states.queued ?? 0, running: states.running ?? 0 },
      outputObjects: outputs,
      enqueue: { requestsPerSecond: round(COUNT / enqueueSeconds), seconds: round(enqueueSeconds, 3), status202: enqueue.statusCodeStats['202']?.count ?? 0 },
      cpuCores: cpu && { asyncinfer: cpu.children[0], model: cpu.model, benchProcess: cpu.self, other: cpu.other, machine: cpu.machine },
      progress: samples.length <= 400 ? samples : samples.filter((_, i) => i % Math.ceil(samples.length / 400) === 0),
      window: { startMicros: Number(t0Hr / 1000n), endMicros: Number(tEndHr / 1000n) },
      serverWarnings: server.warnings.slice(0, 20),
    };
    log(`[drain] ${fmt(rate)} invocations/s (${fmt(COUNT)} in ${seconds.toFixed(2)} s from the model's spawn; model listening after ` +
      `${r.modelListeningAfterSeconds ?? '?'} s, asyncinfer saw it ready after ${r.modelReadyAfterSeconds ?? '?'} s)`);
    log(`[drain] from "model URL ready": ${fromReady === undefined ? '?' : fmt(fromReady)}/s; between 10% and 90% done: ${steady === undefined ? '?' : fmt(steady)}/s`);
    log(`[drain] final states: ${fmt(completed)} completed, ${flagged(r.states.failed)} failed, ${flagged(r.states.expired)} expired, ${flagged(r.states.canceled)} canceled; ` +
      `${fmt(outputs)} output objects`);
    log(`[drain] CPU, in cores busy: asyncinfer ${c2(cpu?.children[0])}, model ${c2(cpu?.model)}, this process (polling) ${c2(cpu?.self)}, other ${c2(cpu?.other)}, machine ${c2(cpu?.machine)} of ${machine.cpuCount}`);
    return r;
  } finally {
    db.close();
    // asyncinfer first: the model must outlive it, or it would log the model's disappearance.
    await stopChild(server);
    for (const child of children.filter((x) => x.name === 'null model (drain)')) await stopChild(child);
  }
}

/**
 * autocannon with `amount`, timed to its last response: autocannon itself only notices that it is
 * done at its next 1 s sample, so its own duration is rounded up to whole seconds.
 */
function load(opts) {
  return new Promise((resolve, reject) => {
    let responses = 0;
    let lastResponseAt;
    const t0 = performance.now();
    const tracker = autocannon(opts, (err, result) => {
      if (err) reject(err);
      else resolve({ result, seconds: ((lastResponseAt ?? performance.now()) - t0) / 1000, responses });
    });
    tracker.on('response', () => {
      responses += 1;
      lastResponseAt = performance.now();
    });
  });
}

/** Completions per second between 10% and 90% done: the drain without its start and its tail. */
function steadyRate(samples, total) {
  const at = (fraction) => samples.find(([, done]) => done >= fraction * total);
  const a = at(0.1);
  const b = at(0.9);
  if (!a || !b || b[0] <= a[0]) return undefined;
  return round((b[1] - a[1]) / (b[0] - a[0]));
}

function countFiles(dir) {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).length;
}

/** What was wrong with an autocannon run (not slow: wrong), or undefined. */
function trouble(r, status, expected) {
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

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// ---- profile ----

function profileArgs() {
  if (!profileDir) return [];
  return ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `asyncinfer-${process.pid}.cpuprofile`];
}

/**
 * The profile covers asyncinfer's whole life (start-up, enqueue, drain, shutdown). V8's sample
 * timestamps and process.hrtime() both read CLOCK_MONOTONIC on Linux, so the drain window taken in
 * this process cuts the samples of the drain out of it.
 */
function summarizeDrainProfile(window) {
  const file = readdirSync(profileDir).find((f) => f.startsWith('asyncinfer-') && f.endsWith('.cpuprofile'));
  if (!file) {
    log('\n(no CPU profile was written for asyncinfer)');
    return undefined;
  }
  const whole = JSON.parse(readFileSync(path.join(profileDir, file), 'utf8'));
  const keep = [];
  let t = whole.startTime;
  whole.samples.forEach((id, i) => {
    t += whole.timeDeltas[i];
    if (t >= window.startMicros && t <= window.endMicros) keep.push([id, t]);
  });
  let target = path.join(profileDir, file);
  let cut = false;
  if (keep.length > 10) {
    const trimmed = {
      ...whole,
      startTime: keep[0][1],
      endTime: keep[keep.length - 1][1],
      samples: keep.map(([id]) => id),
      timeDeltas: keep.map(([, at], i) => (i === 0 ? 0 : at - keep[i - 1][1])),
    };
    target = path.join(profileDir, 'asyncinfer-drain.cpuprofile');
    writeFileSync(target, JSON.stringify(trimmed));
    cut = true;
  } else {
    log('\n(the drain window does not match the profile clock; summarising the whole profile)');
  }
  const summary = summarizeProfile(target, { root: ROOT });
  log(`\n==== CPU profile: asyncinfer ${cut ? 'during the drain' : '(whole life)'} (${path.relative(ROOT, target)}) ====`);
  printProfileSummary(summary, log);
  return { file: path.relative(ROOT, target), wholeProfile: path.relative(ROOT, path.join(profileDir, file)), drainOnly: cut, ...summary };
}

// ---- child processes ----

/** Every child is tracked in `children`; asyncinfer logs a line per invocation: only lines that can matter are parsed. */
function startChild(name, args, urlOf) {
  return startChildProcess(name, args, urlOf, {
    track: children,
    skip: (text) => text.includes('"msg":"invocation completed"') && !/"level":[4-6]0/.test(text),
  });
}

function stopChild(server) {
  return stopChildProcess(server, problems);
}

// ---- output ----

function printTable(d, a, ratioValue) {
  const rows = [['', 'req/s', 'seconds', 'completed', 'failed', 'expired', 'errors', 'CPU cores (server / model)']];
  if (d) rows.push(['direct (client → model)', fmt(d.requestsPerSecond), d.seconds.toFixed(2), fmt(d['2xx']), flagged(d.non2xx), '-', flagged(d.errors), `- / ${c2(d.cpuCores?.model)}`]);
  if (a) rows.push(['drain (asyncinfer → model)', fmt(a.requestsPerSecond), a.seconds.toFixed(2), fmt(a.states.completed), flagged(a.states.failed), flagged(a.states.expired), '0', `${c2(a.cpuCores?.asyncinfer)} / ${c2(a.cpuCores?.model)}`]);
  log(`\n==== dispatch: ${fmt(COUNT)} invocations, concurrency ${CONCURRENCY}, ${BODY_BYTES}-byte POST, null model ====`);
  printRows(rows);
  if (ratioValue !== undefined) log(`\nratio drain/direct (req/s): ${ratioValue.toFixed(3)}   (informational, not asserted)`);
  if (a) {
    log(`drain from "model URL ready": ${a.requestsPerSecondFromModelReady === undefined ? '?' : fmt(a.requestsPerSecondFromModelReady)}/s; ` +
      `between 10% and 90% done: ${a.requestsPerSecondBetween10And90Percent === undefined ? '?' : fmt(a.requestsPerSecondBetween10And90Percent)}/s`);
  }
}

// Dispatch benchmark: how fast asyncinfer drains a queue into a model (lease → POST /invocations →
// output object → outcome), next to the rate a client reaches calling the same model directly.
//
//   node bench/dispatch.mjs [--count 20000] [--concurrency 8] [--warmup 1000] [--profile] [--keep-data]
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
// Figures are printed and written to bench/dispatch-results.json. The drain/direct ratio is
// informational: the exit code is non-zero only when something was *wrong* (errors, answers other
// than 200/202, invocations not completed, missing outputs, a server that failed to start or to
// exit 0 on SIGTERM, warnings or errors in its log).
//
// --profile starts asyncinfer with --cpu-prof; the part of the profile recorded during the drain is
// cut out (bench/profiles/<timestamp>/asyncinfer-drain.cpuprofile) and summarised. Profiled figures
// are perturbed, so they go to bench/profiles/<timestamp>/dispatch-results.json instead.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { summarizeProfile, printProfileSummary } from './profile-summary.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCH_DIR = path.join(ROOT, 'bench');
const SERVER_MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
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
const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ, the unit of /proc/<pid>/stat times on Linux

const { values: flags } = parseArgs({
  options: {
    count: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '1000' },
    profile: { type: 'boolean', default: false },
    'keep-data': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (flags.help) {
  process.stdout.write('usage: node bench/dispatch.mjs [--count N=20000] [--concurrency C=8] [--warmup REQUESTS=1000] [--profile] [--keep-data]\n');
  process.exit(0);
}
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
/** More CPU than this used by other processes (in cores) makes a run noisy. */
const NOISY_CORES = 0.2;
/** Every child started, so that all of them are stopped whatever happens. */
const children = [];

const machine = {
  os: `${os.type()} ${os.release()} ${os.arch()}`,
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  cpuCount: os.cpus().length,
  totalMemoryBytes: os.totalmem(),
  totalMemoryGiB: round(os.totalmem() / 2 ** 30, 1),
  node: process.version,
};

log(`dispatch benchmark: ${fmt(COUNT)} invocations, concurrency ${CONCURRENCY}, ${BODY_BYTES}-byte JSON body, null model`);
log(`machine: ${machine.cpuCount} × ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB, ${machine.os}, node ${machine.node}`);
log(`NOTE: the direct run's load generator (autocannon) runs in this process; in the drain, asyncinfer is the client.`);
log('      All processes share the same CPU cores: figures compare the two on one machine, not a capacity claim.');
if (profileDir) log(`PROFILING: asyncinfer runs with --cpu-prof (figures perturbed; not written to bench/dispatch-results.json); profiles in ${path.relative(ROOT, profileDir)}`);

const fsync = measureFsync(work);
log(`fsync on the data-dir filesystem (${os.tmpdir()}): median ${fsync.medianMs} ms, p99 ${fsync.p99Ms} ms over ${fsync.samples} fsyncs of a 4 KiB append`);

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
const resultsFile = profileDir ? path.join(profileDir, 'dispatch-results.json') : path.join(BENCH_DIR, 'dispatch-results.json');
writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
log(`\nresults written to ${path.relative(ROOT, resultsFile)}`);

if (warnings.length > 0) {
  process.stderr.write('\nWARNING: the machine was not quiet; re-run when nothing else is using the CPU:\n');
  for (const w of warnings) process.stderr.write(`  - ${w}\n`);
}
let exitCode = 0;
if (problems.length > 0) {
  exitCode = 1;
  const bar = '!'.repeat(78);
  process.stderr.write(`\n${bar}\n!! THE BENCHMARK FOUND PROBLEMS (figures above may be meaningless):\n`);
  for (const p of problems) process.stderr.write(`!!  - ${p}\n`);
  process.stderr.write(`${bar}\n`);
}
if (flags['keep-data']) log(`data (queue.db, s3/, config) kept in ${work}`);
else rmSync(work, { recursive: true, force: true });
process.exitCode = exitCode;

// ---------------------------------------------------------------------------------------------

/** The model called directly: N requests over C connections. */
async function runDirect() {
  const model = await startChild('null model (direct)', [NULL_MODEL], (line) => line.msg === 'null model listening' && line.url);
  try {
    const url = `${model.url}/invocations`;
    await quietCheck('direct');
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
    noisy('direct', cpu);
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
    '--port', '0', '--data-dir', dataDir, '--log-level', 'info'],
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
    await quietCheck('drain');

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
    noisy('drain', cpu);

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

async function quietCheck(name) {
  const idle = cpuSnapshot([]);
  await sleep(1000);
  const busy = cpuSince(idle, [])?.machine;
  if (busy > NOISY_CORES) {
    warnings.push(`${name}: the machine was already using ${busy} cores before the run (other processes); figures are unreliable`);
    log(`[${name}] WARNING: ${busy} cores busy before the run: something else is using the CPU`);
  }
}

function noisy(name, cpu) {
  if (cpu?.other > NOISY_CORES) warnings.push(`${name}: other processes used ${cpu.other} cores during the measured run; figures are unreliable`);
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

function startChild(name, args, urlOf) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const server = { name, child, url: undefined, warnings: [], stderr: '', exited: false, exitCode: null, signal: null, exitPromise: undefined, onLine: undefined, stopped: false };
    children.push(server);
    server.exitPromise = new Promise((done) => child.once('exit', (code, signal) => {
      Object.assign(server, { exited: true, exitCode: code, signal });
      done();
    }));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not report a URL within 30 s; stderr: ${server.stderr.slice(-2000)}`));
    }, 30_000);
    let buffered = '';
    // Keep reading stdout for the whole run: a full pipe would block the server's logger. asyncinfer
    // logs a line per invocation; only lines that can matter are parsed.
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const text = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (text.includes('"msg":"invocation completed"') && !/"level":[4-6]0/.test(text)) continue;
        let line;
        try {
          line = JSON.parse(text);
        } catch {
          continue;
        }
        if (typeof line.level === 'number' && line.level >= 40 && server.warnings.length < 100) server.warnings.push(text);
        server.onLine?.(line);
        const url = !server.url && urlOf(line);
        if (url) {
          server.url = url;
          clearTimeout(timer);
          resolve(server);
        }
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      server.stderr = (server.stderr + chunk).slice(-20_000);
    });
    server.exitPromise.then(() => {
      if (!server.url) {
        clearTimeout(timer);
        reject(new Error(`${name} exited (code ${server.exitCode}, signal ${server.signal}) before listening; stderr: ${server.stderr.slice(-2000)}`));
      }
    });
  });
}

async function stopChild(server) {
  if (server.stopped) return;
  server.stopped = true;
  if (!server.exited) {
    server.child.kill('SIGTERM');
    const timedOut = await Promise.race([
      server.exitPromise.then(() => false),
      new Promise((r) => setTimeout(() => r(true), 30_000).unref()),
    ]);
    if (timedOut) {
      server.child.kill('SIGKILL');
      await server.exitPromise;
      problems.push(`${server.name} did not exit within 30 s of SIGTERM`);
      return;
    }
  }
  if (server.exitCode !== 0) {
    problems.push(`${server.name} exited with code ${server.exitCode} (signal ${server.signal}); stderr: ${server.stderr.slice(-1000)}`);
  }
  if (server.warnings.length > 0) {
    problems.push(`${server.name} logged ${server.warnings.length} warning/error line(s), first: ${server.warnings[0].slice(0, 300)}`);
  }
}

// ---- output ----

function printTable(d, a, ratioValue) {
  const rows = [['', 'req/s', 'seconds', 'completed', 'failed', 'expired', 'errors', 'CPU cores (server / model)']];
  if (d) rows.push(['direct (client → model)', fmt(d.requestsPerSecond), d.seconds.toFixed(2), fmt(d['2xx']), flagged(d.non2xx), '-', flagged(d.errors), `- / ${c2(d.cpuCores?.model)}`]);
  if (a) rows.push(['drain (asyncinfer → model)', fmt(a.requestsPerSecond), a.seconds.toFixed(2), fmt(a.states.completed), flagged(a.states.failed), flagged(a.states.expired), '0', `${c2(a.cpuCores?.asyncinfer)} / ${c2(a.cpuCores?.model)}`]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  log(`\n==== dispatch: ${fmt(COUNT)} invocations, concurrency ${CONCURRENCY}, ${BODY_BYTES}-byte POST, null model ====`);
  log(line(rows[0]));
  log(rows[0].map((_, i) => '-'.repeat(widths[i])).join('  '));
  for (const row of rows.slice(1)) log(line(row));
  if (ratioValue !== undefined) log(`\nratio drain/direct (req/s): ${ratioValue.toFixed(3)}   (informational, not asserted)`);
  if (a) {
    log(`drain from "model URL ready": ${a.requestsPerSecondFromModelReady === undefined ? '?' : fmt(a.requestsPerSecondFromModelReady)}/s; ` +
      `between 10% and 90% done: ${a.requestsPerSecondBetween10And90Percent === undefined ? '?' : fmt(a.requestsPerSecondBetween10And90Percent)}/s`);
  }
}

function flagged(n) {
  return n > 0 ? `${fmt(n)} !!!` : '0';
}

function c2(x) {
  return x === undefined ? '?' : x.toFixed(2);
}

// ---- helpers ----

/** A JSON document of exactly `bytes` bytes. */
function makeBody(bytes) {
  const head = '{"inputs":"';
  const tail = '"}';
  const filler = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(Math.ceil(bytes / 36)).slice(0, bytes - head.length - tail.length);
  const body = head + filler + tail;
  if (Buffer.byteLength(body) !== bytes) throw new Error('body size');
  JSON.parse(body);
  return body;
}

/** fsync latency on the filesystem holding the data dir: what every output object and outcome waits for. */
function measureFsync(dir) {
  const file = path.join(dir, `fsync-probe-${randomUUID()}`);
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(4096, 1);
  const times = [];
  const until = performance.now() + 500;
  try {
    while (performance.now() < until && times.length < 500) {
      writeSync(fd, block);
      const t = performance.now();
      fsyncSync(fd);
      times.push(performance.now() - t);
    }
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
  times.sort((a, b) => a - b);
  const at = (q) => round(times[Math.min(times.length - 1, Math.floor(q * times.length))], 3);
  return { samples: times.length, medianMs: at(0.5), p99Ms: at(0.99), filesystemOf: os.tmpdir() };
}

// ---- CPU accounting (Linux /proc for the children; /proc/stat for the machine) ----

function cpuSnapshot(pids) {
  return {
    at: performance.now(),
    machineBusyMs: machineBusyMs(),
    selfMicros: process.cpuUsage(),
    childTicks: pids.map((pid) => processTicks(pid)),
  };
}

/** Cores busy (0..cpuCount) since `before`: the machine, this process, each child, and the rest. */
function cpuSince(before, pids) {
  const after = cpuSnapshot(pids);
  const wallMs = after.at - before.at;
  if (!(wallMs > 0)) return undefined;
  const cores = (ms) => round(ms / wallMs, 2);
  const selfUsage = process.cpuUsage(before.selfMicros);
  const machineCores = cores(after.machineBusyMs - before.machineBusyMs);
  const self = cores((selfUsage.user + selfUsage.system) / 1000);
  const childCores = pids.map((_, i) => (before.childTicks[i] === undefined || after.childTicks[i] === undefined
    ? undefined : cores(((after.childTicks[i] - before.childTicks[i]) * 1000) / CLOCK_TICKS_PER_SECOND)));
  const known = self + childCores.reduce((s, x) => s + (x ?? 0), 0);
  return { machine: machineCores, self, children: childCores, other: round(Math.max(0, machineCores - known), 2) };
}

/** CPU time all cores spent busy. /proc/stat counts softirq (loopback TCP work), which os.cpus() leaves out. */
function machineBusyMs() {
  try {
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).map(Number);
    const [user, nice, system, , , irq, softirq] = ticks; // idle, iowait and steal are not busy
    return ((user + nice + system + irq + softirq) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return os.cpus().reduce((a, cpu) => a + cpu.times.user + cpu.times.nice + cpu.times.sys + cpu.times.irq, 0);
  }
}

function processTicks(pid) {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return undefined;
  }
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function positiveInt(text, name) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`bench: ${name} must be a positive integer, not "${text}"\n`);
    process.exit(2);
  }
  return n;
}

function nonNegativeInt(text, name) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`bench: ${name} must be a non-negative integer, not "${text}"\n`);
    process.exit(2);
  }
  return n;
}

function round(x, digits = 0) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function fmt(n) {
  return Number(n).toLocaleString('en-US');
}

function log(text) {
  process.stdout.write(`${text}\n`);
}

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
//    enqueued (autocannon, 64 connections, one SigV4-signed request sent N times, signed with the
//    bench key of bench/lib.mjs that asyncinfer gets in its environment; every answer must be 202
//    and every row must be queued).
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
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  BENCH_DIR, die, ROOT, SERVER_MAIN, asyncinferListening, c2, childSet, countFiles, cpuSince, cpuSnapshot, endRun, flagged, fmt, freePort,
  fsyncReport, lifetimeCores, log, machineInfo, makeBody, noisy, nonNegativeInt, parseBenchArgs, positiveInt, printRows, quietCheck,
  round, writeResults,
} from './lib.mjs';
import { drainRatesText, drainTimesText, enqueueAll, enqueueFigures, pollDrain, steadyRate, thinSamples } from './drain.mjs';
import { runDirect as runDirectLoad } from './load.mjs';
import { summarizeProfile, printProfileSummary } from './profile-summary.mjs';

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
  die('--concurrency must be at most 1000 (MaxConcurrentInvocationsPerInstance)');
}
if (CONCURRENCY > COUNT) {
  die('--concurrency cannot exceed --count (autocannon needs a request per connection)');
}

if (!existsSync(SERVER_MAIN)) {
  die(`${path.relative(ROOT, SERVER_MAIN)} is missing; run "npm run build" first.`, 1);
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
const children = childSet(problems);
const { start: startChild } = children;

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
  await children.stopAll();
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
writeResults(resultsFile, results);
endRun({ warnings, problems, keepData: flags['keep-data'], work, kept: 'queue.db, s3/, config' });

// ---------------------------------------------------------------------------------------------

/** The model called directly: N requests over C connections. */
function runDirect() {
  return runDirectLoad({ children, body: BODY, concurrency: CONCURRENCY, count: COUNT, warmup: WARMUP, cpuCount: machine.cpuCount, problems, warnings });
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
  asyncinferListening);
  let modelReadyAt;
  server.onLine = (line) => {
    if (line.msg === 'model URL ready' && modelReadyAt === undefined) modelReadyAt = performance.now();
  };

  // ---- enqueue N while the model is down ----
  log(`\n[drain] enqueueing ${fmt(COUNT)} invocations (${ENQUEUE_CONNECTIONS} connections) while nothing listens on ${modelUrl} …`);
  const enqueued = await enqueueAll({
    url: `${server.url}/endpoints/${ENDPOINT}/async-invocations`, body: BODY,
    headers: { 'content-type': 'application/json', 'x-amzn-sagemaker-content-type': 'application/json' },
    connections: ENQUEUE_CONNECTIONS, count: COUNT,
  });

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
    const modelPromise = children.startNullModel('null model (drain)', port);
    modelPromise.then((m) => {
      m.listeningAt = performance.now();
    }, () => undefined);
    const cpuBefore = cpuSnapshot([server.child.pid]);
    const { samples, tEnd, tEndHr } = await pollDrain({
      count: COUNT, t0, pollMs: POLL_MS, stallMs: STALL_MS, server, backlog: () => unfinished.get(),
      stallDetail: () => `states ${JSON.stringify(countStates())}`,
    });
    const states = countStates();
    const model = await modelPromise;
    const seconds = (tEnd - t0) / 1000;
    const cpu = cpuSince(cpuBefore, [server.child.pid]);
    // The model was started inside the window, so all of its CPU time belongs to it.
    const modelCores = lifetimeCores(model.child.pid, tEnd - t0);
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
      enqueue: enqueueFigures(enqueued, COUNT),
      cpuCores: cpu && { asyncinfer: cpu.children[0], model: cpu.model, benchProcess: cpu.self, other: cpu.other, machine: cpu.machine },
      progress: thinSamples(samples),
      window: { startMicros: Number(t0Hr / 1000n), endMicros: Number(tEndHr / 1000n) },
      serverWarnings: server.warnings.slice(0, 20),
    };
    log(`[drain] ${drainTimesText(rate, COUNT, seconds, r)}`);
    log(`[drain] ${drainRatesText(fromReady, steady)}`);
    log(`[drain] final states: ${fmt(completed)} completed, ${flagged(r.states.failed)} failed, ${flagged(r.states.expired)} expired, ${flagged(r.states.canceled)} canceled; ` +
      `${fmt(outputs)} output objects`);
    log(`[drain] CPU, in cores busy: asyncinfer ${c2(cpu?.children[0])}, model ${c2(cpu?.model)}, this process (polling) ${c2(cpu?.self)}, other ${c2(cpu?.other)}, machine ${c2(cpu?.machine)} of ${machine.cpuCount}`);
    return r;
  } finally {
    db.close();
    // asyncinfer first: the model must outlive it, or it would log the model's disappearance.
    await children.stopServerThenModels(server, 'null model (drain)');
  }
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

// ---- output ----

function printTable(d, a, ratioValue) {
  const rows = [['', 'req/s', 'seconds', 'completed', 'failed', 'expired', 'errors', 'CPU cores (server / model)']];
  if (d) rows.push(['direct (client → model)', fmt(d.requestsPerSecond), d.seconds.toFixed(2), fmt(d['2xx']), flagged(d.non2xx), '-', flagged(d.errors), `- / ${c2(d.cpuCores?.model)}`]);
  if (a) rows.push(['drain (asyncinfer → model)', fmt(a.requestsPerSecond), a.seconds.toFixed(2), fmt(a.states.completed), flagged(a.states.failed), flagged(a.states.expired), '0', `${c2(a.cpuCores?.asyncinfer)} / ${c2(a.cpuCores?.model)}`]);
  log(`\n==== dispatch: ${fmt(COUNT)} invocations, concurrency ${CONCURRENCY}, ${BODY_BYTES}-byte POST, null model ====`);
  printRows(rows);
  if (ratioValue !== undefined) log(`\nratio drain/direct (req/s): ${ratioValue.toFixed(3)}   (informational, not asserted)`);
  if (a) {
    log(`drain ${drainRatesText(a.requestsPerSecondFromModelReady, a.requestsPerSecondBetween10And90Percent)}`);
  }
}

// Ingest benchmark: how fast asyncinfer accepts invocations (accept → enqueue → fsync'd commit → 202),
// next to a bare node:http server that answers the same 202 without doing the work.
//
//   npm run bench                          (builds dist/, then bench/run-all.mjs runs every benchmark, this one first)
//   node bench/ingest.mjs [--duration 10] [--warmup 2] [--connections 64] [--out FILE] [--profile] [--keep-data]
//
// Both servers run as child processes, one after the other; the load generator (autocannon) runs in
// this process. Each server gets an uncounted warm-up run, then the measured run. Figures are printed
// and written to bench/ingest-results.json (or --out FILE; bench/run-all.mjs merges every benchmark's
// file into bench/results.json). The asyncinfer/baseline ratio is reported next to its target
// but never asserted: the exit code is non-zero only when something was *wrong* (errors, answers
// other than 202, a 202 missing from the database, a server that failed to start or stop cleanly).
//
// --profile passes --cpu-prof to both server processes, prints where their CPU time went, and keeps
// the .cpuprofile files (open them in Chrome DevTools). Profiled figures are not representative, so
// they go to bench/profiles/<timestamp>/results.json instead of bench/ingest-results.json.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import {
  BENCH_DIR, die, ROOT, SERVER_MAIN, c2, cpuSince, cpuSnapshot, endRun, flagged, fmt, fsyncReport, log, machineInfo, makeBody,
  noisy, nonNegativeInt, parseBenchArgs, positiveInt, printRows, quietCheck, round, startChild, stopChild, writeResults,
} from './lib.mjs';
import { latencyFigures, reportTrouble } from './load.mjs';
import { summarizeProfile, printProfileSummary } from './profile-summary.mjs';

const CONTROL_MODEL = path.join(ROOT, 'test', 'fixtures', 'control-model.mjs');
const ENDPOINT = 'bench';
const BODY_BYTES = 1024;
const RATIO_TARGET = 0.6;
const PIPELINING = 1;

const flags = parseBenchArgs('usage: node bench/ingest.mjs [--duration SECONDS=10] [--warmup SECONDS=2] [--connections N=64] [--out FILE=bench/ingest-results.json] [--profile] [--keep-data]', {
  duration: { type: 'string', default: '10' },
  warmup: { type: 'string', default: '2' },
  connections: { type: 'string', default: '64' },
  out: { type: 'string', default: path.join(BENCH_DIR, 'ingest-results.json') },
});
const DURATION = positiveInt(flags.duration, '--duration');
const WARMUP = nonNegativeInt(flags.warmup, '--warmup');
const CONNECTIONS = positiveInt(flags.connections, '--connections');

if (!existsSync(SERVER_MAIN)) {
  die(`${path.relative(ROOT, SERVER_MAIN)} is missing; run "npm run build" first (or "npm run bench").`, 1);
}

const BODY = makeBody(BODY_BYTES);
const HEADERS = { 'content-type': 'application/json', 'x-amzn-sagemaker-content-type': 'application/json' };
const stamp = new Date().toISOString();
const profileDir = flags.profile ? path.join(BENCH_DIR, 'profiles', stamp.replace(/[:.]/g, '-')) : undefined;
if (profileDir) mkdirSync(profileDir, { recursive: true });
const work = mkdtempSync(path.join(os.tmpdir(), 'asyncinfer-bench-'));
/** Things that were wrong (not slow): each makes the exit code 1. */
const problems = [];
/** Things that make the figures unreliable (a busy machine): reported, exit code unchanged. */
const warnings = [];

const machine = machineInfo();

log(`ingest benchmark: ${DURATION} s measured (+${WARMUP} s warm-up) per server, ${CONNECTIONS} connections, pipelining ${PIPELINING}, POST ${BODY_BYTES}-byte JSON body`);
log(`machine: ${machine.cpuCount} × ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB, ${machine.os}, node ${machine.node}`);
log(`NOTE: the load generator runs in this process and shares the ${machine.cpuCount} CPU cores with the server under test;`);
log('      figures are relative (asyncinfer vs baseline on the same machine), not a capacity claim.');
if (profileDir) log(`PROFILING: servers run with --cpu-prof (figures perturbed; not written to ${path.relative(ROOT, flags.out)}); profiles in ${path.relative(ROOT, profileDir)}`);

const fsync = fsyncReport(work);

const runs = {};
let durability;
try {
  // ---- baseline ----
  {
    const server = await startChild('baseline', [...profileArgs('baseline'), path.join(BENCH_DIR, 'baseline-server.mjs')],
      (line) => line.msg === 'baseline listening' && line.url, { env: childEnv('baseline') });
    try {
      runs.baseline = await measure('baseline', server);
    } finally {
      await stopChild(server, problems);
    }
  }

  // ---- asyncinfer ----
  {
    const dataDir = path.join(work, 'data');
    const configFile = path.join(work, 'config.json');
    writeFileSync(configFile, JSON.stringify({
      endpoints: [{
        name: ENDPOINT,
        model: { command: [process.execPath, CONTROL_MODEL] },
        instances: { initial: 0 },
        asyncInferenceConfig: {
          OutputConfig: { S3OutputPath: 's3://bench-bucket/out', S3FailurePath: 's3://bench-bucket/fail' },
          ClientConfig: { MaxConcurrentInvocationsPerInstance: 4 },
        },
      }],
    }, null, 2));
    const server = await startChild('asyncinfer', [...profileArgs('asyncinfer'), SERVER_MAIN, 'serve', '--config', configFile,
      '--port', '0', '--s3-port', '0', '--data-dir', dataDir, '--log-level', 'info'],
    (line) => line.msg === 'asyncinfer listening' && line.url, { env: childEnv('asyncinfer') });
    try {
      runs.asyncinfer = await measure('asyncinfer', server);
    } finally {
      await stopChild(server, problems);
    }
    durability = checkDurability(path.join(dataDir, 'queue.db'), runs.asyncinfer);
  }
} catch (err) {
  problems.push(`benchmark aborted: ${err.message}`);
  process.stderr.write(`\nbench: ${err.stack ?? err}\n`);
}

const ratio = runs.baseline && runs.asyncinfer
  ? round(runs.asyncinfer.requestsPerSecond.average / runs.baseline.requestsPerSecond.average, 3)
  : undefined;

if (runs.baseline || runs.asyncinfer) printTable(runs, ratio);
if (durability) printDurability(durability);

let profiles;
if (profileDir) {
  profiles = {};
  for (const name of ['baseline', 'asyncinfer']) {
    const file = readdirSync(profileDir).find((f) => f.startsWith(`${name}-`) && f.endsWith('.cpuprofile'));
    if (!file) {
      log(`\n(no CPU profile was written for ${name})`);
      continue;
    }
    const summary = summarizeProfile(path.join(profileDir, file), { root: ROOT });
    profiles[name] = { file: path.relative(ROOT, path.join(profileDir, file)), ...summary };
    log(`\n==== CPU profile: ${name} (${path.relative(ROOT, path.join(profileDir, file))}) ====`);
    printProfileSummary(summary, log);
  }
  const statsFile = path.join(profileDir, 'asyncinfer-commit-stats.json');
  if (existsSync(statsFile)) {
    const stats = JSON.parse(readFileSync(statsFile, 'utf8'));
    if (profiles.asyncinfer) profiles.asyncinfer.groupCommits = stats;
    log('\n==== asyncinfer group commits (whole server lifetime: pre-flight, warm-up and measured run) ====');
    log(`  ${fmt(stats.transactions)} transactions, ${fmt(stats.rows)} rows; rows per transaction p50 ${stats.batchRows.p50}, p90 ${stats.batchRows.p90}, max ${stats.batchRows.max}`);
    log(`  transaction time p50 ${stats.transactionMs.p50} ms, p99 ${stats.transactionMs.p99} ms, max ${stats.transactionMs.max} ms; ${stats.microsecondsPerRow} µs per row`);
    log(`  event loop blocked in transactions: ${fmt(stats.transactionMs.total)} ms of ${fmt(stats.wallMs)} ms server wall time (${stats.eventLoopBlockedInTransactionsPercent}%)`);
  }
}

const results = {
  benchmark: 'ingest',
  timestamp: stamp,
  machine,
  settings: {
    durationSeconds: DURATION, warmupSeconds: WARMUP, connections: CONNECTIONS, pipelining: PIPELINING,
    method: 'POST', bodyBytes: BODY_BYTES, path: `/endpoints/${ENDPOINT}/async-invocations`,
    asyncinferInstances: 0,
    loadGenerator: `autocannon, in the benchmark process, sharing the ${machine.cpuCount} CPU cores with the server under test`,
    latencyResolution: '1 ms (autocannon histogram)',
    profiled: Boolean(profileDir),
  },
  fsync,
  baseline: runs.baseline,
  asyncinfer: runs.asyncinfer,
  ratio: { requestsPerSecond: ratio, target: RATIO_TARGET, meetsTarget: ratio === undefined ? undefined : ratio >= RATIO_TARGET },
  durability,
  profiles,
  problems,
  warnings,
};
const resultsFile = profileDir ? path.join(profileDir, 'results.json') : path.resolve(flags.out);
writeResults(resultsFile, results);
endRun({ warnings, problems, keepData: flags['keep-data'], work, kept: 'queue.db, config' });

// ---------------------------------------------------------------------------------------------

async function measure(name, server) {
  const url = `${server.url}/endpoints/${ENDPOINT}/async-invocations`;
  await quietCheck(name, warnings);
  await preflight(name, url);
  let warmup;
  if (WARMUP > 0) {
    log(`\n[${name}] warm-up ${WARMUP} s (not counted) …`);
    warmup = await load(url, WARMUP);
    const bad = trouble(warmup);
    if (bad) problems.push(`${name} warm-up: ${bad}`);
  }
  log(`[${name}] measuring ${DURATION} s …`);
  const cpuBefore = cpuSnapshot([server.child.pid]);
  const r = await load(url, DURATION);
  const cpu = serverCpu(cpuSince(cpuBefore, [server.child.pid]));
  noisy(name, cpu?.otherCores, warnings);
  reportTrouble(name, trouble(r), problems);
  if (server.exited) problems.push(`${name} server exited during the run (code ${server.exitCode}, signal ${server.signal})`);
  const s202 = r.statusCodeStats['202']?.count ?? 0;
  log(`[${name}] ${round(perSecond(r))} req/s over ${r.duration} s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ${s202} × 202, ` +
    `${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
  if (cpu) {
    log(`[${name}] CPU, in cores busy: server ${c2(cpu.serverCores)}, load generator ${c2(cpu.loadGeneratorCores)}, ` +
      `other processes ${c2(cpu.otherCores)}, machine ${c2(cpu.machineCores)} of ${machine.cpuCount}`);
  }
  return {
    url,
    // Responses over the measured duration. autocannon stops at its first 1 s sample after the
    // duration is up, so a 10 s run lasts 10 or 11 s; its per-second samples are kept for reference.
    requestsPerSecond: {
      average: round(perSecond(r)),
      autocannonSamples: { average: round(r.requests.average), stddev: round(r.requests.stddev), min: r.requests.min, max: r.requests.max, count: r.samples },
    },
    latencyMs: latencyFigures(r),
    requestsSent: r.requests.sent,
    responses: r.requests.total,
    status202: s202,
    '2xx': r['2xx'],
    non2xx: r.non2xx,
    non202: r.requests.total - s202,
    statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats).map(([code, { count }]) => [code, count])),
    errors: r.errors,
    timeouts: r.timeouts,
    resets: r.resets,
    mismatches: r.mismatches,
    durationSeconds: r.duration,
    cpuCores: cpu,
    warmup: warmup && { '2xx': warmup['2xx'], non2xx: warmup.non2xx, errors: warmup.errors, requestsPerSecond: round(perSecond(warmup)) },
    serverWarnings: server.warnings.slice(0, 20),
  };
}

/** cpuSince over [server pid] as ingest reports it: the server, this process (the load generator), the rest. */
function serverCpu(cpu) {
  if (!cpu) return undefined;
  const [serverCores] = cpu.children;
  return { serverCores, loadGeneratorCores: cpu.self, otherCores: serverCores === undefined ? undefined : cpu.other, machineCores: cpu.machine };
}

/** Average throughput of a run: responses over the measured duration. */
function perSecond(r) {
  return r.duration > 0 ? r.requests.total / r.duration : 0;
}

function load(url, duration) {
  return autocannon({
    url, method: 'POST', headers: HEADERS, body: BODY,
    connections: CONNECTIONS, pipelining: PIPELINING, duration,
  });
}

/** What was wrong with a run (not slow: wrong), or undefined. */
function trouble(r) {
  const s202 = r.statusCodeStats['202']?.count ?? 0;
  const issues = [];
  if (r.requests.total - s202 > 0) {
    const codes = Object.entries(r.statusCodeStats).filter(([c]) => c !== '202').map(([c, { count }]) => `${count} × ${c}`);
    issues.push(`${r.requests.total - s202} answers other than 202 (${codes.join(', ')})`);
  }
  if (r.errors > 0) issues.push(`${r.errors} errors (${r.timeouts} timeouts)`);
  if (r.resets > 0) issues.push(`${r.resets} connection resets`);
  if (s202 === 0) issues.push('no 202 at all');
  return issues.length ? issues.join('; ') : undefined;
}

/** One request before the load: the answer must look like an InvokeEndpointAsync answer. */
async function preflight(name, url) {
  const res = await fetch(url, { method: 'POST', headers: HEADERS, body: BODY });
  const text = await res.text();
  let inferenceId;
  try {
    inferenceId = JSON.parse(text).InferenceId;
  } catch { /* reported below */ }
  if (res.status !== 202 || typeof inferenceId !== 'string' || !res.headers.get('x-amzn-requestid')) {
    throw new Error(`${name} answered the pre-flight request with ${res.status} ${text.slice(0, 300)}`);
  }
}

function checkDurability(dbFile, run) {
  if (!run) return undefined;
  if (!existsSync(dbFile)) {
    problems.push(`durability: ${dbFile} does not exist`);
    return { dbFile, rows: 0, ok: false };
  }
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  let rows;
  try {
    rows = db.prepare('SELECT count(*) AS n FROM invocations').get().n;
  } finally {
    db.close();
  }
  const measured2xx = run['2xx'];
  const all2xx = 1 + (run.warmup?.['2xx'] ?? 0) + measured2xx; // pre-flight + warm-up + measured
  const ok = rows >= measured2xx && rows >= all2xx;
  if (!ok) problems.push(`durability: ${rows} rows in invocations but the load generator got ${all2xx} × 2xx (${measured2xx} in the measured run)`);
  return { dbFile, rows, measured2xx, all2xx, extraRows: rows - all2xx, ok };
}

// ---- child processes ----

function profileArgs(name) {
  if (!profileDir) return [];
  const args = ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${name}-${process.pid}.cpuprofile`];
  // asyncinfer also gets its group commits timed (see bench/commit-stats.mjs).
  if (name === 'asyncinfer') args.push('--import', pathToFileURL(path.join(BENCH_DIR, 'commit-stats.mjs')).href);
  return args;
}

/** Profiled servers write their group-commit stats (bench/commit-stats.mjs) next to their profile. */
function childEnv(name) {
  return profileDir ? { ...process.env, ASYNCINFER_BENCH_COMMIT_STATS: path.join(profileDir, `${name}-commit-stats.json`) } : process.env;
}

// ---- output ----

function printTable(r, ratioValue) {
  const rows = [
    ['', 'req/s (avg)', 'p50 ms', 'p99 ms', '202s', 'non-2xx', 'errors', 'server CPU (cores)'],
    ...['baseline', 'asyncinfer'].filter((n) => r[n]).map((n) => [
      n, fmt(r[n].requestsPerSecond.average), String(r[n].latencyMs.p50), String(r[n].latencyMs.p99),
      fmt(r[n].status202), flagged(r[n].non2xx), flagged(r[n].errors),
      c2(r[n].cpuCores?.serverCores),
    ]),
  ];
  log(`\n==== ingest: ${DURATION} s, ${CONNECTIONS} connections, pipelining ${PIPELINING}, ${BODY_BYTES}-byte POST ====`);
  printRows(rows);
  if (ratioValue !== undefined) {
    const verdict = ratioValue >= RATIO_TARGET ? 'meets' : 'BELOW';
    log(`\nratio asyncinfer/baseline (req/s): ${ratioValue.toFixed(3)}   target >= ${RATIO_TARGET} (${verdict} target; informational, not asserted)`);
  }
  log(`(load generator shares the ${machine.cpuCount} CPU cores with the server; latency resolution 1 ms)`);
}

function printDurability(d) {
  log(`\ndurability (asyncinfer, counted after SIGTERM; ${flags['keep-data'] ? 'data dir kept (--keep-data)' : 'data dir deleted afterwards, --keep-data keeps it'}):`);
  log(`  rows in invocations (${d.dbFile}): ${fmt(d.rows)}`);
  if (d.measured2xx !== undefined) {
    log(`  2xx counted by autocannon, measured run: ${fmt(d.measured2xx)}; incl. pre-flight + warm-up: ${fmt(d.all2xx)}`);
    log(`  ${d.ok ? 'OK: every 202 is in the database' : '!!! FAILED: fewer rows than 202s — accepted invocations are missing'}` +
      (d.ok ? ` (${d.extraRows} more rows than 202s seen: requests committed while the load generator stopped waiting at the end of a run)` : ''));
  }
}

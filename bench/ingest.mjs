// Ingest benchmark: how fast asyncinfer accepts invocations (accept → enqueue → fsync'd commit → 202),
// next to a bare node:http server that answers the same 202 without doing the work, and what
// verifying AWS SigV4 signatures (issue 12) costs on that path.
//
//   npm run bench                          (builds dist/, then bench/run-all.mjs runs every benchmark, this one first)
//   node bench/ingest.mjs [--duration 10] [--warmup 2] [--connections 64] [--out FILE] [--profile] [--keep-data]
//
// Three servers run as child processes, one after the other, each asyncinfer with a fresh data dir:
//   - baseline: bench/baseline-server.mjs (bare node:http), unsigned requests;
//   - unsigned: asyncinfer with `auth: {mode: "off"}` (loopback only), unsigned requests;
//   - asyncinfer (printed "signed"): asyncinfer as shipped, SigV4 required, every request signed
//     with the bench key (bench/lib.mjs). The request is signed once and sent again and again (a
//     signature stays valid 15 minutes; the server does no replay detection), so the server does
//     the whole verification for each request, while the load generator spends nothing on signing.
// The load generator (autocannon) runs in this process. Each server gets an uncounted warm-up run,
// then the measured run. Figures are printed and written to bench/ingest-results.json (or --out
// FILE; bench/run-all.mjs merges every benchmark's file into bench/results.json). Two ratios are
// reported next to their targets but never asserted: asyncinfer (signed) / baseline (>= 0.6) and
// signed / unsigned (>= 0.9: signing may cost at most 10% of the accepted requests per second).
// The exit code is non-zero only when something was *wrong* (errors, answers other than 202, a 202
// missing from the database, a signed server that accepts an unsigned request, a server that failed
// to start or stop cleanly).
//
// --profile passes --cpu-prof to every server process, prints where their CPU time went, and keeps
// the .cpuprofile files (open them in Chrome DevTools). Profiled figures are not representative, so
// they go to bench/profiles/<timestamp>/results.json instead of bench/ingest-results.json.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import {
  BENCH_DIR, CLOCK_TICKS_PER_SECOND, die, ROOT, SERVER_MAIN, asyncinferListening, authOffWarning, benchKeyEnv, c2, cpuSince, cpuSnapshot,
  endRun, flagged, fmt, fsyncReport, log, machineInfo, makeBody, noisy, nonNegativeInt, parseBenchArgs, positiveInt, printRows,
  processTicks, quietCheck, round, signedHeaders, startChild, stopChild, writeResults,
} from './lib.mjs';
import { latencyFigures, reportTrouble } from './load.mjs';
import { summarizeProfile, printProfileSummary } from './profile-summary.mjs';

const CONTROL_MODEL = path.join(ROOT, 'test', 'fixtures', 'control-model.mjs');
const ENDPOINT = 'bench';
const BODY_BYTES = 1024;
const RATIO_TARGET = 0.6;
/** Issue 12: signing may cost at most 10% of the accepted requests per second. */
const SIGNING_TARGET = 0.9;
const PIPELINING = 1;
/** The servers, in the order they run: key in `runs` (and the results file) → label printed. */
const SERVERS = { baseline: 'baseline', unsigned: 'unsigned', asyncinfer: 'signed' };

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
log('servers, one after the other: baseline (bare node:http), unsigned (asyncinfer, auth off), signed (asyncinfer, SigV4 on every request)');
log(`machine: ${machine.cpuCount} × ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB, ${machine.os}, node ${machine.node}`);
log(`NOTE: the load generator runs in this process and shares the ${machine.cpuCount} CPU cores with the server under test;`);
log('      figures are relative (asyncinfer vs baseline, signed vs unsigned, on the same machine), not a capacity claim.');
if (profileDir) log(`PROFILING: servers run with --cpu-prof (figures perturbed; not written to ${path.relative(ROOT, flags.out)}); profiles in ${path.relative(ROOT, profileDir)}`);

const fsync = fsyncReport(work);

const runs = {};
/** Per asyncinfer run: every 202 must be a row in its queue.db. */
const durabilities = {};
// Each server on its own: one that fails to start or answer is a problem, and the others still run.
// ---- baseline ----
await attempt('baseline', async () => {
  const server = await startChild('baseline', [...profileArgs('baseline'), path.join(BENCH_DIR, 'baseline-server.mjs')],
    (line) => line.msg === 'baseline listening' && line.url, { env: childEnv('baseline') });
  try {
    runs.baseline = await measure('baseline', server, { signed: false });
  } finally {
    await stopChild(server, problems);
  }
});
// ---- asyncinfer, auth off: what the server costs without signatures ----
await attempt('unsigned', async () => { runs.unsigned = await measureAsyncinfer('unsigned', { mode: 'off' }); });
// ---- asyncinfer as shipped: SigV4 on every request ----
await attempt('signed', async () => { runs.asyncinfer = await measureAsyncinfer('asyncinfer', undefined); });

const rate = (name) => runs[name]?.requestsPerSecond.average;
const ratio = runs.baseline && runs.asyncinfer ? round(rate('asyncinfer') / rate('baseline'), 3) : undefined;
const unsignedRatio = runs.baseline && runs.unsigned ? round(rate('unsigned') / rate('baseline'), 3) : undefined;
const signingRatio = runs.unsigned && runs.asyncinfer ? round(rate('asyncinfer') / rate('unsigned'), 3) : undefined;
const cpuPerRequest = (name) => runs[name]?.serverCpuMicrosPerRequest;
const signing = {
  ratio: signingRatio,
  target: SIGNING_TARGET,
  meetsTarget: signingRatio === undefined ? undefined : signingRatio >= SIGNING_TARGET,
  serverCpuMicrosPerRequest: { unsigned: cpuPerRequest('unsigned'), signed: cpuPerRequest('asyncinfer') },
  serverCpuMicrosPerRequestAdded: cpuPerRequest('unsigned') !== undefined && cpuPerRequest('asyncinfer') !== undefined
    ? round(cpuPerRequest('asyncinfer') - cpuPerRequest('unsigned'), 1) : undefined,
  requests: 'the signed run sends one request signed once (SigV4, service sagemaker, the bench key), again and again; the server verifies every one in full',
};

if (Object.keys(runs).length > 0) printTable(runs, ratio, signing);
for (const name of ['unsigned', 'asyncinfer']) if (durabilities[name]) printDurability(name, durabilities[name]);

let profiles;
if (profileDir) {
  profiles = {};
  for (const name of Object.keys(SERVERS)) {
    const file = readdirSync(profileDir).find((f) => f.startsWith(`${name}-`) && f.endsWith('.cpuprofile'));
    if (!file) {
      log(`\n(no CPU profile was written for ${name})`);
      continue;
    }
    const summary = summarizeProfile(path.join(profileDir, file), { root: ROOT });
    profiles[name] = { file: path.relative(ROOT, path.join(profileDir, file)), ...summary };
    log(`\n==== CPU profile: ${SERVERS[name]} (${path.relative(ROOT, path.join(profileDir, file))}) ====`);
    printProfileSummary(summary, log);
  }
  for (const name of ['unsigned', 'asyncinfer']) {
    const statsFile = path.join(profileDir, `${name}-commit-stats.json`);
    if (!existsSync(statsFile)) continue;
    const stats = JSON.parse(readFileSync(statsFile, 'utf8'));
    if (profiles[name]) profiles[name].groupCommits = stats;
    log(`\n==== ${SERVERS[name]} asyncinfer group commits (whole server lifetime: pre-flight, warm-up and measured run) ====`);
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
    servers: 'baseline: bare node:http; unsigned: asyncinfer with auth {mode: "off"}, unsigned requests; asyncinfer: SigV4 required (the default), signed requests',
    loadGenerator: `autocannon, in the benchmark process, sharing the ${machine.cpuCount} CPU cores with the server under test`,
    latencyResolution: '1 ms (autocannon histogram)',
    profiled: Boolean(profileDir),
  },
  fsync,
  baseline: runs.baseline,
  unsigned: runs.unsigned,
  asyncinfer: runs.asyncinfer,
  ratio: {
    requestsPerSecond: ratio, target: RATIO_TARGET, meetsTarget: ratio === undefined ? undefined : ratio >= RATIO_TARGET,
    unsignedRequestsPerSecond: unsignedRatio,
  },
  signing,
  durability: durabilities.asyncinfer,
  unsignedDurability: durabilities.unsigned,
  profiles,
  problems,
  warnings,
};
const resultsFile = profileDir ? path.join(profileDir, 'results.json') : path.resolve(flags.out);
writeResults(resultsFile, results);
endRun({ warnings, problems, keepData: flags['keep-data'], work, kept: 'unsigned/ and asyncinfer/, each with its config and data/queue.db' });

// ---------------------------------------------------------------------------------------------

async function attempt(name, fn) {
  try {
    await fn();
  } catch (err) {
    problems.push(`${name}: benchmark aborted: ${err.message}`);
    process.stderr.write(`\nbench: ${name}: ${err.stack ?? err}\n`);
  }
}

/**
 * asyncinfer with a fresh data dir and config (`auth` added when given), measured, stopped, and its
 * queue.db checked. Without `auth` it requires SigV4 (the default): it gets the bench key in its
 * environment and every request is signed.
 */
async function measureAsyncinfer(name, auth) {
  const signed = auth?.mode !== 'off';
  const dir = path.join(work, name);
  mkdirSync(dir);
  const dataDir = path.join(dir, 'data');
  const configFile = path.join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify({
    ...(auth && { auth }),
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
  const server = await startChild(SERVERS[name], [...profileArgs(name), SERVER_MAIN, 'serve', '--config', configFile,
    '--port', '0', '--s3-port', '0', '--data-dir', dataDir, '--log-level', 'info'],
  asyncinferListening, { env: childEnv(name, signed), ...(!signed && { expectedWarning: authOffWarning }) });
  let run;
  try {
    run = await measure(name, server, { signed });
  } finally {
    await stopChild(server, problems);
  }
  durabilities[name] = checkDurability(SERVERS[name], path.join(dataDir, 'queue.db'), run);
  return run;
}

async function measure(name, server, { signed }) {
  const label = SERVERS[name];
  const url = `${server.url}/endpoints/${ENDPOINT}/async-invocations`;
  const headers = signed ? await signedHeaders({ url, method: 'POST', headers: HEADERS, body: BODY }) : HEADERS;
  await quietCheck(label, warnings);
  await preflight(label, url, headers);
  if (signed) await checkSigningEnforced(label, url);
  let warmup;
  if (WARMUP > 0) {
    log(`\n[${label}] warm-up ${WARMUP} s (not counted) …`);
    warmup = await load(url, headers, WARMUP);
    const bad = trouble(warmup);
    if (bad) problems.push(`${label} warm-up: ${bad}`);
  }
  log(`[${label}] measuring ${DURATION} s …`);
  const cpuBefore = cpuSnapshot([server.child.pid]);
  const r = await load(url, headers, DURATION);
  const cpu = serverCpu(cpuSince(cpuBefore, [server.child.pid]));
  const serverTicks = processTicks(server.child.pid);
  noisy(label, cpu?.otherCores, warnings);
  reportTrouble(label, trouble(r), problems);
  if (server.exited) problems.push(`${label} server exited during the run (code ${server.exitCode}, signal ${server.signal})`);
  const s202 = r.statusCodeStats['202']?.count ?? 0;
  // Server CPU time (user + system, all its threads; /proc ticks) per response over the measured window.
  const [ticksBefore] = cpuBefore.childTicks;
  const cpuMicrosPerRequest = ticksBefore !== undefined && serverTicks !== undefined && r.requests.total > 0
    ? round((((serverTicks - ticksBefore) / CLOCK_TICKS_PER_SECOND) * 1e6) / r.requests.total, 1) : undefined;
  log(`[${label}] ${round(perSecond(r))} req/s over ${r.duration} s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ${s202} × 202, ` +
    `${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
  if (cpu) {
    log(`[${label}] CPU, in cores busy: server ${c2(cpu.serverCores)} (${cpuMicrosPerRequest ?? '?'} µs per request), load generator ${c2(cpu.loadGeneratorCores)}, ` +
      `other processes ${c2(cpu.otherCores)}, machine ${c2(cpu.machineCores)} of ${machine.cpuCount}`);
  }
  return {
    url,
    signedRequests: signed,
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
    serverCpuMicrosPerRequest: cpuMicrosPerRequest,
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

function load(url, headers, duration) {
  return autocannon({
    url, method: 'POST', headers, body: BODY,
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
async function preflight(name, url, headers) {
  const res = await fetch(url, { method: 'POST', headers, body: BODY });
  const text = await res.text();
  let inferenceId;
  try {
    inferenceId = JSON.parse(text).InferenceId;
  } catch { /* reported below */ }
  if (res.status !== 202 || typeof inferenceId !== 'string' || !res.headers.get('x-amzn-requestid')) {
    throw new Error(`${name} answered the pre-flight request with ${res.status} ${text.slice(0, 300)}`);
  }
}

/**
 * The signed server must refuse the same request unsigned (403), or "signed vs unsigned" compares
 * nothing. A wrong answer is a problem, not an abort: the figures are still printed.
 */
async function checkSigningEnforced(name, url) {
  const res = await fetch(url, { method: 'POST', headers: HEADERS, body: BODY });
  const text = await res.text();
  if (res.status !== 403) {
    problems.push(`${name}: an unsigned request was answered ${res.status}, not 403: signatures are not being checked (${text.slice(0, 200)})`);
    log(`[${name}] !!! an unsigned request was answered ${res.status}, not 403`);
  }
}

function checkDurability(name, dbFile, run) {
  if (!run) return undefined;
  if (!existsSync(dbFile)) {
    problems.push(`${name} durability: ${dbFile} does not exist`);
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
  if (!ok) problems.push(`${name} durability: ${rows} rows in invocations but the load generator got ${all2xx} × 2xx (${measured2xx} in the measured run)`);
  return { dbFile, rows, measured2xx, all2xx, extraRows: rows - all2xx, ok };
}

// ---- child processes ----

function profileArgs(name) {
  if (!profileDir) return [];
  const args = ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${name}-${process.pid}.cpuprofile`];
  // asyncinfer also gets its group commits timed (see bench/commit-stats.mjs).
  if (name !== 'baseline') args.push('--import', pathToFileURL(path.join(BENCH_DIR, 'commit-stats.mjs')).href);
  return args;
}

/**
 * A server's environment: the bench key when it checks signatures (benchKeyEnv); profiled servers
 * also write their group-commit stats (bench/commit-stats.mjs) next to their profile.
 */
function childEnv(name, withKey = false) {
  const env = withKey ? benchKeyEnv() : { ...process.env };
  if (profileDir) env.ASYNCINFER_BENCH_COMMIT_STATS = path.join(profileDir, `${name}-commit-stats.json`);
  return env;
}

// ---- output ----

function printTable(r, ratioValue, s) {
  const rows = [
    ['', 'req/s (avg)', 'p50 ms', 'p99 ms', '202s', 'non-2xx', 'errors', 'server CPU (cores)', 'server CPU µs/req'],
    ...Object.keys(SERVERS).filter((n) => r[n]).map((n) => [
      SERVERS[n], fmt(r[n].requestsPerSecond.average), String(r[n].latencyMs.p50), String(r[n].latencyMs.p99),
      fmt(r[n].status202), flagged(r[n].non2xx), flagged(r[n].errors),
      c2(r[n].cpuCores?.serverCores), r[n].serverCpuMicrosPerRequest === undefined ? '?' : r[n].serverCpuMicrosPerRequest.toFixed(1),
    ]),
  ];
  log(`\n==== ingest: ${DURATION} s, ${CONNECTIONS} connections, pipelining ${PIPELINING}, ${BODY_BYTES}-byte POST ====`);
  printRows(rows);
  log('(baseline: bare node:http; unsigned: asyncinfer with auth off; signed: asyncinfer as shipped, every request SigV4-signed)');
  if (ratioValue !== undefined) {
    const verdict = ratioValue >= RATIO_TARGET ? 'meets' : 'BELOW';
    log(`\nratio asyncinfer/baseline (req/s): ${ratioValue.toFixed(3)}   target >= ${RATIO_TARGET} (${verdict} target; informational, not asserted)`);
  }
  if (s.ratio !== undefined) {
    const verdict = s.meetsTarget ? 'meets' : 'BELOW';
    log(`ratio signed/unsigned (req/s):     ${s.ratio.toFixed(3)}   target >= ${s.target} (${verdict} target; informational, not asserted)`);
    if (s.serverCpuMicrosPerRequestAdded !== undefined) {
      log(`server CPU per request: ${s.serverCpuMicrosPerRequest.unsigned} µs unsigned, ${s.serverCpuMicrosPerRequest.signed} µs signed ` +
        `(${s.serverCpuMicrosPerRequestAdded >= 0 ? '+' : ''}${s.serverCpuMicrosPerRequestAdded} µs for the verification)`);
    }
  }
  log(`(load generator shares the ${machine.cpuCount} CPU cores with the server; latency resolution 1 ms)`);
}

function printDurability(name, d) {
  log(`\ndurability (${SERVERS[name]} asyncinfer, counted after SIGTERM; ${flags['keep-data'] ? 'data dir kept (--keep-data)' : 'data dir deleted afterwards, --keep-data keeps it'}):`);
  log(`  rows in invocations (${d.dbFile}): ${fmt(d.rows)}`);
  if (d.measured2xx !== undefined) {
    log(`  2xx counted by autocannon, measured run: ${fmt(d.measured2xx)}; incl. pre-flight + warm-up: ${fmt(d.all2xx)}`);
    log(`  ${d.ok ? 'OK: every 202 is in the database' : '!!! FAILED: fewer rows than 202s — accepted invocations are missing'}` +
      (d.ok ? ` (${d.extraRows} more rows than 202s seen: requests committed while the load generator stopped waiting at the end of a run)` : ''));
  }
}

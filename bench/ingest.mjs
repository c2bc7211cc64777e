// Ingest benchmark: how fast asyncinfer accepts invocations (accept → enqueue → fsync'd commit → 202),
// next to a bare node:http server that answers the same 202 without doing the work.
//
//   npm run bench                          (builds dist/, then runs this)
//   node bench/ingest.mjs [--duration 10] [--warmup 2] [--connections 64] [--profile] [--keep-data]
//
// Both servers run as child processes, one after the other; the load generator (autocannon) runs in
// this process. Each server gets an uncounted warm-up run, then the measured run. Figures are printed
// and written to bench/results.json. The asyncinfer/baseline ratio is reported next to its target
// but never asserted: the exit code is non-zero only when something was *wrong* (errors, answers
// other than 202, a 202 missing from the database, a server that failed to start or stop cleanly).
//
// --profile passes --cpu-prof to both server processes, prints where their CPU time went, and keeps
// the .cpuprofile files (open them in Chrome DevTools). Profiled figures are not representative, so
// they go to bench/profiles/<timestamp>/results.json instead of bench/results.json.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { summarizeProfile, printProfileSummary } from './profile-summary.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCH_DIR = path.join(ROOT, 'bench');
const SERVER_MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const CONTROL_MODEL = path.join(ROOT, 'test', 'fixtures', 'control-model.mjs');
const ENDPOINT = 'bench';
const BODY_BYTES = 1024;
const RATIO_TARGET = 0.6;
const PIPELINING = 1;
const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ, the unit of /proc/<pid>/stat times on Linux

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '64' },
    profile: { type: 'boolean', default: false },
    'keep-data': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (flags.help) {
  process.stdout.write('usage: node bench/ingest.mjs [--duration SECONDS=10] [--warmup SECONDS=2] [--connections N=64] [--profile] [--keep-data]\n');
  process.exit(0);
}
const DURATION = positiveInt(flags.duration, '--duration');
const WARMUP = nonNegativeInt(flags.warmup, '--warmup');
const CONNECTIONS = positiveInt(flags.connections, '--connections');

if (!existsSync(SERVER_MAIN)) {
  process.stderr.write(`bench: ${path.relative(ROOT, SERVER_MAIN)} is missing; run "npm run build" first (or "npm run bench").\n`);
  process.exit(1);
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
/** More CPU than this used by other processes (in cores) makes a run noisy. */
const NOISY_CORES = 0.2;

const machine = {
  os: `${os.type()} ${os.release()} ${os.arch()}`,
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  cpuCount: os.cpus().length,
  totalMemoryBytes: os.totalmem(),
  totalMemoryGiB: round(os.totalmem() / 2 ** 30, 1),
  node: process.version,
};

log(`ingest benchmark: ${DURATION} s measured (+${WARMUP} s warm-up) per server, ${CONNECTIONS} connections, pipelining ${PIPELINING}, POST ${BODY_BYTES}-byte JSON body`);
log(`machine: ${machine.cpuCount} × ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB, ${machine.os}, node ${machine.node}`);
log(`NOTE: the load generator runs in this process and shares the ${machine.cpuCount} CPU cores with the server under test;`);
log('      figures are relative (asyncinfer vs baseline on the same machine), not a capacity claim.');
if (profileDir) log(`PROFILING: servers run with --cpu-prof (figures perturbed; not written to bench/results.json); profiles in ${path.relative(ROOT, profileDir)}`);

const fsync = measureFsync(work);
log(`fsync on the data-dir filesystem (${os.tmpdir()}): median ${fsync.medianMs} ms, p99 ${fsync.p99Ms} ms over ${fsync.samples} fsyncs of a 4 KiB append`);

let exitCode = 0;
const runs = {};
let durability;
try {
  // ---- baseline ----
  {
    const server = await startChild('baseline', [...profileArgs('baseline'), path.join(BENCH_DIR, 'baseline-server.mjs')],
      (line) => line.msg === 'baseline listening' && line.url);
    try {
      runs.baseline = await measure('baseline', server);
    } finally {
      await stopChild(server);
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
      '--port', '0', '--data-dir', dataDir, '--log-level', 'info'],
    (line) => line.msg === 'asyncinfer listening' && line.url);
    try {
      runs.asyncinfer = await measure('asyncinfer', server);
    } finally {
      await stopChild(server);
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
const resultsFile = profileDir ? path.join(profileDir, 'results.json') : path.join(BENCH_DIR, 'results.json');
writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
log(`\nresults written to ${path.relative(ROOT, resultsFile)}`);

if (warnings.length > 0) {
  process.stderr.write('\nWARNING: the machine was not quiet; re-run when nothing else is using the CPU:\n');
  for (const w of warnings) process.stderr.write(`  - ${w}\n`);
}
if (problems.length > 0) {
  exitCode = 1;
  const bar = '!'.repeat(78);
  process.stderr.write(`\n${bar}\n!! THE BENCHMARK FOUND PROBLEMS (figures above may be meaningless):\n`);
  for (const p of problems) process.stderr.write(`!!  - ${p}\n`);
  process.stderr.write(`${bar}\n`);
}
if (flags['keep-data']) log(`data (queue.db, config) kept in ${work}`);
else rmSync(work, { recursive: true, force: true });
process.exitCode = exitCode;

// ---------------------------------------------------------------------------------------------

async function measure(name, server) {
  const url = `${server.url}/endpoints/${ENDPOINT}/async-invocations`;
  const idle = cpuSnapshot();
  await sleep(1000);
  const busyBefore = cpuSince(idle)?.machineCores;
  if (busyBefore > NOISY_CORES) {
    warnings.push(`${name}: the machine was already using ${busyBefore} cores before the run (other processes); figures are unreliable`);
    log(`[${name}] WARNING: ${busyBefore} cores busy before the run: something else is using the CPU`);
  }
  await preflight(name, url);
  let warmup;
  if (WARMUP > 0) {
    log(`\n[${name}] warm-up ${WARMUP} s (not counted) …`);
    warmup = await load(url, WARMUP);
    const bad = trouble(warmup);
    if (bad) problems.push(`${name} warm-up: ${bad}`);
  }
  log(`[${name}] measuring ${DURATION} s …`);
  const cpuBefore = cpuSnapshot(server.child.pid);
  const r = await load(url, DURATION);
  const cpu = cpuSince(cpuBefore, server.child.pid);
  if (cpu && cpu.otherCores > NOISY_CORES) {
    warnings.push(`${name}: other processes used ${cpu.otherCores} cores during the measured run; figures are unreliable`);
  }
  const bad = trouble(r);
  if (bad) {
    problems.push(`${name}: ${bad}`);
    log(`[${name}] !!! ${bad}`);
  }
  if (server.exited) problems.push(`${name} server exited during the run (code ${server.exitCode}, signal ${server.signal})`);
  const s202 = r.statusCodeStats['202']?.count ?? 0;
  log(`[${name}] ${round(perSecond(r))} req/s over ${r.duration} s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ${s202} × 202, ` +
    `${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
  if (cpu) {
    const c = (x) => (x === undefined ? '?' : x.toFixed(2));
    log(`[${name}] CPU, in cores busy: server ${c(cpu.serverCores)}, load generator ${c(cpu.loadGeneratorCores)}, ` +
      `other processes ${c(cpu.otherCores)}, machine ${c(cpu.machineCores)} of ${machine.cpuCount}`);
  }
  return {
    url,
    // Responses over the measured duration. autocannon stops at its first 1 s sample after the
    // duration is up, so a 10 s run lasts 10 or 11 s; its per-second samples are kept for reference.
    requestsPerSecond: {
      average: round(perSecond(r)),
      autocannonSamples: { average: round(r.requests.average), stddev: round(r.requests.stddev), min: r.requests.min, max: r.requests.max, count: r.samples },
    },
    latencyMs: { average: round(r.latency.average, 2), p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
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

function startChild(name, args, urlOf) {
  return new Promise((resolve, reject) => {
    const env = profileDir ? { ...process.env, ASYNCINFER_BENCH_COMMIT_STATS: path.join(profileDir, `${name}-commit-stats.json`) } : process.env;
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const server = { name, child, url: undefined, warnings: [], stderr: '', exited: false, exitCode: null, signal: null, exitPromise: undefined };
    server.exitPromise = new Promise((done) => child.once('exit', (code, signal) => {
      Object.assign(server, { exited: true, exitCode: code, signal });
      done();
    }));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not report a URL within 30 s; stderr: ${server.stderr.slice(-2000)}`));
    }, 30_000);
    let buffered = '';
    // Keep reading stdout for the whole run: a full pipe would block the server's logger.
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const text = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let line;
        try {
          line = JSON.parse(text);
        } catch {
          continue;
        }
        if (typeof line.level === 'number' && line.level >= 40 && server.warnings.length < 100) server.warnings.push(text);
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

function printTable(r, ratioValue) {
  const rows = [
    ['', 'req/s (avg)', 'p50 ms', 'p99 ms', '202s', 'non-2xx', 'errors', 'server CPU (cores)'],
    ...['baseline', 'asyncinfer'].filter((n) => r[n]).map((n) => [
      n, fmt(r[n].requestsPerSecond.average), String(r[n].latencyMs.p50), String(r[n].latencyMs.p99),
      fmt(r[n].status202), flagged(r[n].non2xx), flagged(r[n].errors),
      r[n].cpuCores?.serverCores === undefined ? '?' : r[n].cpuCores.serverCores.toFixed(2),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  log(`\n==== ingest: ${DURATION} s, ${CONNECTIONS} connections, pipelining ${PIPELINING}, ${BODY_BYTES}-byte POST ====`);
  log(line(rows[0]));
  log(rows[0].map((_, i) => '-'.repeat(widths[i])).join('  '));
  for (const row of rows.slice(1)) log(line(row));
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

function flagged(n) {
  return n > 0 ? `${fmt(n)} !!!` : '0';
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

/** fsync latency on the filesystem holding the data dir: what every group commit waits for. */
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

// ---- CPU accounting (Linux /proc for the server; os.cpus() for the machine) ----

function cpuSnapshot(pid) {
  return {
    at: performance.now(),
    machineBusyMs: machineBusyMs(),
    selfMicros: process.cpuUsage(),
    serverTicks: pid === undefined ? undefined : processTicks(pid),
  };
}

/** Cores busy (0..cpuCount) since `before`: the whole machine, this process, the server, and the rest. */
function cpuSince(before, pid) {
  const after = cpuSnapshot(pid);
  const wallMs = after.at - before.at;
  if (!(wallMs > 0)) return undefined;
  const selfUsage = process.cpuUsage(before.selfMicros);
  const cores = (ms) => round(ms / wallMs, 2);
  const machineCores = cores(after.machineBusyMs - before.machineBusyMs);
  if (pid === undefined) return { machineCores };
  const loadGeneratorCores = cores((selfUsage.user + selfUsage.system) / 1000);
  const serverCores = before.serverTicks === undefined || after.serverTicks === undefined
    ? undefined : cores(((after.serverTicks - before.serverTicks) * 1000) / CLOCK_TICKS_PER_SECOND);
  const otherCores = serverCores === undefined ? undefined : round(Math.max(0, machineCores - loadGeneratorCores - serverCores), 2);
  return { serverCores, loadGeneratorCores, otherCores, machineCores };
}

/** CPU time all cores spent busy. /proc/stat counts softirq (loopback TCP work), which os.cpus() leaves out. */
function machineBusyMs() {
  try {
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).map(Number);
    const [user, nice, system, , , irq, softirq] = ticks; // idle, iowait and steal are not busy
    return ((user + nice + system + irq + softirq) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return os.cpus().reduce((a, c) => a + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0);
  }
}

function processTicks(pid) {
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

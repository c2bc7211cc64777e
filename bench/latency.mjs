// Latency benchmark: the time asyncinfer adds to one invocation, in milliseconds, next to the
// latency of calling the same model directly.
//
//   node bench/latency.mjs [--count 2000] [--concurrency 1,8] [--warmup 200] [--out FILE] [--keep-data]
//
// One model process, bench/null-model.mjs (GET /ping → 200; POST /invocations → 200 {"ok":true}, no
// work), serves every part, one after the other, at each concurrency C (default 1, then 8):
//
// 1. direct: autocannon in this process sends exactly --count POST /invocations (1 KiB JSON body)
//    over C connections straight to the model, after --warmup uncounted ones. The latency of each
//    request is autocannon's own per-response time (process.hrtime, read from its `response` event,
//    so to the microsecond; its histogram would round to 1 ms, too coarse for a request that takes
//    a fraction of one).
// 2. asyncinfer: dist/src/cli/main.js serve, one endpoint whose model is `url:` that same process,
//    MaxConcurrentInvocationsPerInstance = the largest C. C closed loops, each: POST
//    /endpoints/latency/async-invocations → 202 → wait until the output object exists → next. So
//    exactly C invocations are in the system at any moment, as C requests are in the direct run;
//    autocannon cannot do this (it sends the next request on the 202, not on the output), so these
//    requests go through an undici Pool of C connections. Every request is SigV4-signed with the
//    bench key (bench/lib.mjs) before its clock starts: inline ones once (they are all the same),
//    InputLocation ones each anew (the header names another object each time). The figure is the time from the 202 (its
//    headers arriving here) to the output object existing, in two modes:
//    - inline: the 1 KiB JSON as the request Body;
//    - input-location: an empty body and X-Amzn-SageMaker-InputLocation: s3://latency-bucket/in/N.json,
//      one of --count objects of the same 1 KiB written beforehand as <data-dir>/s3/latency-bucket/in/N.json
//      (the embedded store's layout), so each invocation also reads its input from the store.
//    The time from sending the request to the 202 (the accept path) and from sending it to the
//    output (end to end) are reported next to it.
//
// How "the output exists" is seen: fs.watch (inotify) on <data-dir>/s3/latency-bucket/out/, created
// before the server starts. The store writes an output to a temp file, fsyncs it and renames it into
// that folder, so the IN_MOVED_TO event marks the moment a client could first GET the object (its
// folder fsync and the outcome record in SQLite follow). Each event is stamped with performance.now()
// in its callback. Waiting in epoll costs no CPU and wakes within tens of microseconds; a tight stat()
// poll would be as precise only by keeping a core busy, on a 2-core machine shared with the server
// and the model. The event loop of this process is idle between events (C ≤ 8 requests), so the
// stamp trails the rename by about as much as autocannon's response stamp trails the response.
//
// Overhead = asyncinfer p50 − direct p50 (and p99 − p99) at the same C, in ms. Figures are printed
// and written to bench/latency-results.json (or --out). The exit code is non-zero only when
// something was *wrong* (answers other than 200/202, errors, an output that never appears or is not
// the model's answer, an invocation not completed, warnings in asyncinfer's log, a process that fails
// to start or to exit 0 on SIGTERM); never because of a figure. The default run takes about 40 seconds.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, watch, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Pool } from 'undici';
import {
  BENCH_DIR, die, ROOT, SERVER_MAIN, asyncinferListening, c2, childSet, cpuSince, cpuSnapshot, endRun, flagged, fmt, log, machineInfo,
  makeBody, noisy, nonNegativeInt, parseBenchArgs, positiveInt, printRows, quietCheck, round, signedHeaders, writeResults,
} from './lib.mjs';
import { load, reportTrouble, trouble } from './load.mjs';

const ENDPOINT = 'latency';
const BUCKET = 'latency-bucket';
const BODY_BYTES = 1024;
/** An invocation whose output has not appeared after this long is a problem (and ends the run). */
const OUTPUT_TIMEOUT_MS = 30_000;
const MODEL_ANSWER = '{"ok":true}';

const flags = parseBenchArgs('usage: node bench/latency.mjs [--count N=2000] [--concurrency LIST=1,8] [--warmup N=200] [--out FILE] [--keep-data]', {
  count: { type: 'string', default: '2000' },
  concurrency: { type: 'string', default: '1,8' },
  warmup: { type: 'string', default: '200' },
  out: { type: 'string', default: path.join(BENCH_DIR, 'latency-results.json') },
});
const COUNT = positiveInt(flags.count, '--count');
const WARMUP = nonNegativeInt(flags.warmup, '--warmup');
const CONCURRENCIES = flags.concurrency.split(',').map((c) => positiveInt(c.trim(), '--concurrency'));
const MAX_C = Math.max(...CONCURRENCIES);
if (MAX_C > COUNT) {
  die('a --concurrency cannot exceed --count (autocannon needs a request per connection)');
}
if (MAX_C > 1000) {
  die('--concurrency must be at most 1000 (MaxConcurrentInvocationsPerInstance)');
}
if (flags.profile) {
  die('latency.mjs has no --profile (use bench/dispatch.mjs --profile for where the time goes)');
}
if (!existsSync(SERVER_MAIN)) {
  die(`${path.relative(ROOT, SERVER_MAIN)} is missing; run "npm run build" first.`, 1);
}

const BODY = makeBody(BODY_BYTES);
const MODES = [
  { name: 'inline', label: 'asyncinfer, inline Body' },
  { name: 'input-location', label: 'asyncinfer, InputLocation' },
];
const stamp = new Date().toISOString();
const work = mkdtempSync(path.join(os.tmpdir(), 'asyncinfer-latency-'));
const dataDir = path.join(work, 'data');
const outDir = path.join(dataDir, 's3', BUCKET, 'out');
const failDir = path.join(dataDir, 's3', BUCKET, 'fail');
const inDir = path.join(dataDir, 's3', BUCKET, 'in');
/** Things that were wrong (not slow): each makes the exit code 1. */
const problems = [];
/** Things that make the figures unreliable (a busy machine): reported, exit code unchanged. */
const warnings = [];
const children = childSet(problems);
const { start: startChild, stop: stopChild } = children;
const machine = machineInfo();

log(`latency benchmark: ${fmt(COUNT)} invocations per mode and concurrency (+${fmt(WARMUP)} warm-up), concurrency ${CONCURRENCIES.join(', ')}, ${BODY_BYTES}-byte JSON, null model`);
log(`machine: ${machine.cpuCount} × ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB, ${machine.os}, node ${machine.node}`);
log('NOTE: the clients and the output watcher run in this process and share the CPU cores with asyncinfer and the model.');

const direct = {};
const asyncinfer = Object.fromEntries(MODES.map((m) => [m.name, {}]));
let check;
try {
  const model = await children.startNullModel('null model');
  for (const c of CONCURRENCIES) direct[`c${c}`] = await runDirect(model, c);

  mkdirSync(outDir, { recursive: true });
  mkdirSync(failDir, { recursive: true });
  mkdirSync(inDir, { recursive: true });
  for (let i = 0; i < COUNT + WARMUP; i++) writeFileSync(path.join(inDir, inputName(i)), BODY);
  const configFile = path.join(work, 'config.json');
  writeFileSync(configFile, JSON.stringify({
    endpoints: [{
      name: ENDPOINT,
      model: { url: model.url },
      asyncInferenceConfig: {
        OutputConfig: { S3OutputPath: `s3://${BUCKET}/out`, S3FailurePath: `s3://${BUCKET}/fail` },
        ClientConfig: { MaxConcurrentInvocationsPerInstance: MAX_C },
      },
    }],
  }, null, 2));
  const server = await startChild('asyncinfer', [SERVER_MAIN, 'serve', '--config', configFile, '--port', '0', '--s3-port', '0',
    '--data-dir', dataDir, '--log-level', 'info'], asyncinferListening);
  const watcher = createOutputWatcher();
  try {
    await waitForModelReady(server);
    for (const mode of MODES) {
      for (const c of CONCURRENCIES) asyncinfer[mode.name][`c${c}`] = await runAsync(server, model, mode, c, watcher);
    }
  } finally {
    watcher.close();
    await stopChild(server);
  }
  check = checkOutcomes(watcher);
} catch (err) {
  problems.push(`benchmark aborted: ${err.message}`);
  process.stderr.write(`\nbench: ${err.stack ?? err}\n`);
} finally {
  // asyncinfer first: the model must outlive it.
  await children.stopAll();
}

const overhead = {};
for (const mode of MODES) {
  overhead[mode.name] = {};
  for (const c of CONCURRENCIES) {
    const a = asyncinfer[mode.name][`c${c}`];
    const d = direct[`c${c}`];
    if (a && d) {
      overhead[mode.name][`c${c}`] = {
        p50Ms: round(a.acceptedToOutputMs.p50 - d.latencyMs.p50, 3),
        p99Ms: round(a.acceptedToOutputMs.p99 - d.latencyMs.p99, 3),
        endToEndP50Ms: round(a.sendToOutputMs.p50 - d.latencyMs.p50, 3),
        endToEndP99Ms: round(a.sendToOutputMs.p99 - d.latencyMs.p99, 3),
      };
    }
  }
}
printTable();

const results = {
  benchmark: 'latency',
  timestamp: stamp,
  machine,
  settings: {
    count: COUNT, warmup: WARMUP, concurrency: CONCURRENCIES, bodyBytes: BODY_BYTES, logLevel: 'info',
    model: 'bench/null-model.mjs (POST /invocations → 200 {"ok":true}), one process for every part; asyncinfer reaches it as model.url',
    direct: 'autocannon, POST /invocations, C connections, amount = count; per-response time from its response event (process.hrtime)',
    asyncinfer: `C closed loops over an undici Pool of C connections: POST /endpoints/${ENDPOINT}/async-invocations → 202 → output object exists → next; MaxConcurrentInvocationsPerInstance ${MAX_C}`,
    signing: 'SigV4 (the bench key), signed before the clock starts: inline requests once per row, InputLocation requests each one',
    outputDetection: 'fs.watch (inotify IN_MOVED_TO) on <data-dir>/s3/BUCKET/out/, stamped with performance.now() in the callback',
    figure: 'acceptedToOutputMs: from the 202 headers arriving to the output object renamed into place',
  },
  direct,
  asyncinfer,
  overheadMs: overhead,
  check,
  problems,
  warnings,
};
writeResults(path.resolve(flags.out), results);
endRun({ warnings, problems, keepData: flags['keep-data'], work, kept: 'queue.db, s3/, config' });

// ---------------------------------------------------------------------------------------------

function inputName(i) {
  return `${String(i).padStart(7, '0')}.json`;
}

/** The model called directly: C connections, exactly COUNT requests after WARMUP uncounted ones. */
async function runDirect(model, c) {
  const url = `${model.url}/invocations`;
  const opts = { url, method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY, connections: c };
  await quietCheck(`direct c=${c}`, warnings);
  if (WARMUP >= c) {
    const { result: w } = await load({ ...opts, amount: WARMUP }, { keepTimes: true });
    const bad = trouble(w, 200, WARMUP);
    if (bad) problems.push(`direct c=${c} warm-up: ${bad}`);
  }
  log(`\n[direct c=${c}] POST /invocations × ${fmt(COUNT)}, ${c} connection(s) …`);
  const cpuBefore = cpuSnapshot([model.child.pid]);
  const { result: r, times, seconds } = await load({ ...opts, amount: COUNT }, { keepTimes: true });
  const cpu = cpuSince(cpuBefore, [model.child.pid]);
  noisy(`direct c=${c}`, cpu?.other, warnings);
  reportTrouble(`direct c=${c}`, trouble(r, 200, COUNT), problems);
  const latencyMs = quantiles(times);
  log(`[direct c=${c}] p50 ${latencyMs.p50} ms, p99 ${latencyMs.p99} ms, ${fmt(round(COUNT / seconds))} req/s; ` +
    `CPU cores: model ${c2(cpu?.children[0])}, this process ${c2(cpu?.self)}, other ${c2(cpu?.other)}`);
  return {
    concurrency: c,
    latencyMs,
    requestsPerSecond: round(COUNT / seconds),
    responses: r.requests.total,
    '2xx': r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors,
    cpuCores: cpu && { model: cpu.children[0], benchProcess: cpu.self, other: cpu.other, machine: cpu.machine },
  };
}

/**
 * Every output (and failure) object as it is renamed into its folder, by file name, stamped when
 * this process sees the inotify event.
 */
function createOutputWatcher() {
  const seen = new Map(); // file name → { at, failed }
  const waiting = new Map(); // file name → resolve
  const on = (failed) => (_event, filename) => {
    if (!filename) return;
    const at = performance.now();
    const name = failed ? filename.replace(/-error\.out$/, '.out') : filename;
    if (seen.has(name)) return; // the first event is the rename into place
    seen.set(name, { at, failed });
    const resolve = waiting.get(name);
    if (resolve) {
      waiting.delete(name);
      resolve(seen.get(name));
    }
  };
  const watchers = [watch(outDir, on(false)), watch(failDir, on(true))];
  for (const w of watchers) w.on('error', (err) => problems.push(`fs.watch: ${err.message}`));
  return {
    seen,
    /** Resolves with { at, failed } once `name` (the output's file name) has appeared. */
    wait(name) {
      const hit = seen.get(name);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(name);
          reject(new Error(`output ${name} did not appear within ${OUTPUT_TIMEOUT_MS / 1000} s of its 202`));
        }, OUTPUT_TIMEOUT_MS);
        waiting.set(name, (v) => {
          clearTimeout(timer);
          resolve(v);
        });
      });
    },
    close() {
      for (const w of watchers) w.close();
    },
  };
}

/** C closed loops: each sends an invocation, waits for its output, then sends the next. */
async function runAsync(server, model, mode, c, watcher) {
  const name = `${mode.name} c=${c}`;
  const pool = new Pool(server.url, { connections: c, pipelining: 1 });
  const url = `/endpoints/${ENDPOINT}/async-invocations`;
  let next = 0;
  let inputIndex = 0;
  let failed = 0;
  let outputBefore202 = 0;
  const samples = { accepted: [], accept: [], endToEnd: [] };
  // Every request is signed with the bench key, before its clock starts. An inline request is the
  // same every time, so it is signed once; an InputLocation request names another object each time
  // (a signed header), so each one is signed anew, as an SDK would.
  const signUrl = `${server.url}${url}`;
  const inlineHeaders = mode.name === 'inline'
    ? await signedHeaders({ url: signUrl, headers: { 'x-amzn-sagemaker-content-type': 'application/json', 'content-type': 'application/json' }, body: BODY })
    : undefined;

  async function one(counted) {
    let headers;
    let body;
    if (mode.name === 'inline') {
      headers = inlineHeaders;
      body = BODY;
    } else {
      headers = await signedHeaders({
        url: signUrl,
        headers: {
          'x-amzn-sagemaker-content-type': 'application/json',
          'x-amzn-sagemaker-inputlocation': `s3://${BUCKET}/in/${inputName(inputIndex++ % (COUNT + WARMUP))}`,
        },
      });
    }
    const tSend = performance.now();
    const res = await pool.request({ path: url, method: 'POST', headers, body });
    const t202 = performance.now();
    const text = await res.body.text();
    if (res.statusCode !== 202) throw new Error(`${name}: answered ${res.statusCode} ${text.slice(0, 300)}`);
    const location = res.headers['x-amzn-sagemaker-outputlocation'];
    const prefix = `s3://${BUCKET}/out/`;
    if (typeof location !== 'string' || !location.startsWith(prefix) || location.slice(prefix.length).includes('/')) {
      throw new Error(`${name}: unexpected OutputLocation ${location}`);
    }
    const out = await watcher.wait(location.slice(prefix.length));
    if (out.failed) failed += 1;
    if (out.at < t202) outputBefore202 += 1;
    if (counted) {
      samples.accepted.push(out.at - t202);
      samples.accept.push(t202 - tSend);
      samples.endToEnd.push(out.at - tSend);
    }
  }

  async function loop(total, counted) {
    while (next < total) {
      next += 1;
      await one(counted);
    }
  }

  try {
    await quietCheck(name, warnings);
    if (WARMUP > 0) {
      next = 0;
      await Promise.all(Array.from({ length: Math.min(c, WARMUP) }, () => loop(WARMUP, false)));
    }
    log(`\n[${name}] ${fmt(COUNT)} invocations, ${c} in flight …`);
    next = 0;
    const pids = [server.child.pid, model.child.pid];
    const cpuBefore = cpuSnapshot(pids);
    const t0 = performance.now();
    await Promise.all(Array.from({ length: c }, () => loop(COUNT, true)));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuSince(cpuBefore, pids);
    noisy(name, cpu?.other, warnings);
    if (failed > 0) problems.push(`${name}: ${failed} invocations failed (a failure object appeared instead of the output)`);
    if (server.exited) problems.push(`${name}: asyncinfer exited during the run (code ${server.exitCode}, signal ${server.signal})`);
    const r = {
      concurrency: c,
      acceptedToOutputMs: quantiles(samples.accepted),
      sendTo202Ms: quantiles(samples.accept),
      sendToOutputMs: quantiles(samples.endToEnd),
      invocationsPerSecond: round(COUNT / seconds),
      failed,
      outputBefore202,
      cpuCores: cpu && { asyncinfer: cpu.children[0], model: cpu.children[1], benchProcess: cpu.self, other: cpu.other, machine: cpu.machine },
    };
    log(`[${name}] 202 → output: p50 ${r.acceptedToOutputMs.p50} ms, p99 ${r.acceptedToOutputMs.p99} ms; ` +
      `send → 202: p50 ${r.sendTo202Ms.p50} ms, p99 ${r.sendTo202Ms.p99} ms; send → output: p50 ${r.sendToOutputMs.p50} ms, p99 ${r.sendToOutputMs.p99} ms; ` +
      `${fmt(r.invocationsPerSecond)} invocations/s`);
    log(`[${name}] CPU cores: asyncinfer ${c2(cpu?.children[0])}, model ${c2(cpu?.children[1])}, this process ${c2(cpu?.self)}, other ${c2(cpu?.other)}`);
    if (outputBefore202 > 0) log(`[${name}] (${outputBefore202} outputs were seen before their 202 had been read here: counted as negative times)`);
    return r;
  } finally {
    await pool.close();
  }
}

async function waitForModelReady(server) {
  const until = performance.now() + 30_000;
  let ready = false;
  const prev = server.onLine;
  server.onLine = (line) => {
    prev?.(line);
    if (line.msg === 'model URL ready') ready = true;
  };
  // The URL was listening before asyncinfer started, so its first /ping answers; wait for the log line.
  while (!ready) {
    if (performance.now() > until) throw new Error('asyncinfer did not report "model URL ready" within 30 s');
    if (server.exited) throw new Error(`asyncinfer exited (code ${server.exitCode})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** After asyncinfer stopped: every invocation completed, one output each, each the model's answer. */
function checkOutcomes(watcher) {
  const expected = MODES.length * CONCURRENCIES.length * (COUNT + WARMUP);
  const db = new Database(path.join(dataDir, 'queue.db'), { readonly: true, fileMustExist: true });
  let states;
  try {
    states = Object.fromEntries(db.prepare('SELECT state, count(*) AS n FROM invocations GROUP BY state').all().map((row) => [row.state, row.n]));
  } finally {
    db.close();
  }
  const outputs = readdirSync(outDir);
  const failures = readdirSync(failDir);
  let wrongContent = 0;
  for (const f of outputs) if (readFileSync(path.join(outDir, f), 'utf8') !== MODEL_ANSWER) wrongContent += 1;
  const completed = states.completed ?? 0;
  if (completed !== expected) problems.push(`check: ${fmt(completed)} invocations completed, expected ${fmt(expected)}: ${JSON.stringify(states)}`);
  if (outputs.length !== expected) problems.push(`check: ${fmt(outputs.length)} output objects, expected ${fmt(expected)}`);
  if (failures.length > 0) problems.push(`check: ${failures.length} failure objects`);
  if (wrongContent > 0) problems.push(`check: ${wrongContent} output objects are not the model's answer ${MODEL_ANSWER}`);
  if (watcher.seen.size !== expected) problems.push(`check: the watcher saw ${watcher.seen.size} objects appear, expected ${expected}`);
  log(`\ncheck (after asyncinfer stopped): ${fmt(completed)} of ${fmt(expected)} invocations completed, ${fmt(outputs.length)} output objects ` +
    `(${wrongContent === 0 ? 'each the model\'s answer' : `${wrongContent} WRONG`}), ${flagged(failures.length)} failure objects`);
  return { expected, states, outputObjects: outputs.length, failureObjects: failures.length, wrongContent, seenByWatcher: watcher.seen.size };
}

/** Nearest-rank quantiles, in ms to the microsecond. */
function quantiles(values) {
  if (values.length === 0) return undefined;
  const s = Float64Array.from(values).sort();
  const at = (q) => round(s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))], 3);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { samples: s.length, min: round(s[0], 3), p50: at(0.5), p90: at(0.9), p99: at(0.99), max: round(s[s.length - 1], 3), mean: round(mean, 3) };
}

// ---- output ----

function printTable() {
  const ms = (x) => (x === undefined ? '-' : x.toFixed(3));
  const plus = (x) => (x === undefined ? '-' : `${x >= 0 ? '+' : ''}${x.toFixed(3)}`);
  const rows = [['', 'C', 'p50 ms', 'p99 ms', 'overhead p50', 'overhead p99', 'send→202 p50', 'send→output p50 / p99']];
  for (const c of CONCURRENCIES) {
    const d = direct[`c${c}`];
    if (d) rows.push(['direct POST /invocations', String(c), ms(d.latencyMs.p50), ms(d.latencyMs.p99), '-', '-', '-', '-']);
    for (const mode of MODES) {
      const a = asyncinfer[mode.name][`c${c}`];
      const o = overhead[mode.name][`c${c}`];
      if (a) {
        rows.push([`${mode.label} (202 → output)`, String(c), ms(a.acceptedToOutputMs.p50), ms(a.acceptedToOutputMs.p99), plus(o?.p50Ms), plus(o?.p99Ms),
          ms(a.sendTo202Ms.p50), `${ms(a.sendToOutputMs.p50)} / ${ms(a.sendToOutputMs.p99)}`]);
      }
    }
  }
  log(`\n==== latency: ${fmt(COUNT)} per row, ${BODY_BYTES}-byte JSON, null model; times in ms ====`);
  printRows(rows);
  log('overhead = asyncinfer (202 → output object exists) − direct request latency, same C; informational, not asserted');
}

// Runs every benchmark, one after the other, each in its own child process, then merges their
// results into bench/results.json and prints one summary table.
//
//   npm run bench                  (npm run build && node bench/run-all.mjs)
//   node bench/run-all.mjs [--backlog-count N=1000000] [--quick] [--only LIST] [--skip LIST] [--out-dir DIR=bench]
//                          [--ingest-args="..."] [--latency-args="..."] [--dispatch-args="..."]
//                          [--backlog-args="..."] [--redis-args="..."] [--no-wait]
//
// The order is ingest, latency, dispatch, backlog (--count from --backlog-count), redis (only when
// bench/redis.mjs exists; it needs /usr/bin/redis-server). Each writes its own results file into
// --out-dir (<name>-results.json, passed as --out; a script without an --out option writes its own
// default file, which is read from there); they are merged into <out-dir>/results.json as
// { machine, timestamp, runAll, ingest, latency, dispatch, backlog, redis }.
//
// --quick runs every benchmark with small counts and short durations (a smoke test: about 1.5
// minutes with --backlog-count 20000; not figures to quote). --<name>-args adds flags to one
// benchmark (after the ones run-all passes, so they win), e.g. --dispatch-args="--count 50000" (with
// the "=": a value that starts with "--" cannot be a separate argument).
// --only/--skip take comma-separated names.
//
// Before each benchmark, run-all waits while another benchmark process (bench/<name>.mjs, not its
// own child) is running: two benchmarks at once on one machine would measure each other.
//
// A benchmark that exits non-zero (something was wrong, never because of a figure) or writes no
// results is reported in the table, and run-all exits 1 after running the others. The default run
// takes about 5 minutes on the 2-vCPU machine of docs/benchmarks.md, half of it the million-row
// backlog.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BENCH_DIR, ROOT, fmt, log, machineInfo, parseBenchArgs, positiveInt, printRows, round, sleep } from './lib.mjs';

const flags = parseBenchArgs('usage: node bench/run-all.mjs [--backlog-count N=1000000] [--quick] [--only LIST] [--skip LIST] [--out-dir DIR=bench] ' +
  '[--ingest-args="..."] [--latency-args="..."] [--dispatch-args="..."] [--backlog-args="..."] [--redis-args="..."] [--no-wait]', {
  'backlog-count': { type: 'string', default: '1000000' },
  quick: { type: 'boolean', default: false },
  only: { type: 'string' },
  skip: { type: 'string', default: '' },
  'out-dir': { type: 'string', default: BENCH_DIR },
  'ingest-args': { type: 'string', default: '' },
  'latency-args': { type: 'string', default: '' },
  'dispatch-args': { type: 'string', default: '' },
  'backlog-args': { type: 'string', default: '' },
  'redis-args': { type: 'string', default: '' },
  'no-wait': { type: 'boolean', default: false },
});
if (flags.profile || flags['keep-data']) {
  process.stderr.write('bench: run-all passes no --profile or --keep-data; give them to one benchmark with --<name>-args\n');
  process.exit(2);
}
const BACKLOG_COUNT = positiveInt(flags['backlog-count'], '--backlog-count');
const OUT_DIR = path.resolve(flags['out-dir']);
mkdirSync(OUT_DIR, { recursive: true });

/** The benchmarks, in order. `quick`: the smoke-test flags. */
const BENCHMARKS = [
  { name: 'ingest', quick: ['--duration', '3', '--warmup', '1'] },
  { name: 'latency', quick: ['--count', '300', '--warmup', '50'] },
  { name: 'dispatch', quick: ['--count', '3000', '--warmup', '300'] },
  { name: 'backlog', args: ['--count', String(BACKLOG_COUNT)], quick: ['--drain-seconds', '10', '--scrapes', '10'] },
  { name: 'redis', optional: true, quick: ['--count', '1000', '--accept-count', '3000', '--warmup', '300'] },
];
const n0 = (x) => (typeof x === 'number' ? fmt(Math.round(x)) : x);
const ms = (x) => (typeof x === 'number' ? x.toFixed(3) : x);
const plusMs = (x) => (typeof x === 'number' ? `${x >= 0 ? '+' : ''}${x.toFixed(3)} ms` : x);
const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b !== 0 ? `${(a / b).toFixed(3)}×` : '?');
const mib = (b) => (typeof b === 'number' ? (b / 2 ** 20).toFixed(1) : b);

/** Per benchmark: rows of [figure, value, baseline, ratio/overhead], read from its results JSON. */
const FIGURES = {
  ingest: (r) => [
    ['accept req/s (vs bare node:http 202)', n0(r.asyncinfer?.requestsPerSecond?.average), n0(r.baseline?.requestsPerSecond?.average), ratio(r.asyncinfer?.requestsPerSecond?.average, r.baseline?.requestsPerSecond?.average)],
    ['accept p99 ms (1 ms resolution)', r.asyncinfer?.latencyMs?.p99, r.baseline?.latencyMs?.p99, '-'],
    ['accept req/s signed (vs auth off; target 0.9)', n0(r.asyncinfer?.requestsPerSecond?.average), n0(r.unsigned?.requestsPerSecond?.average), ratio(r.asyncinfer?.requestsPerSecond?.average, r.unsigned?.requestsPerSecond?.average)],
  ],
  latency: (r) => {
    const rows = [];
    for (const [mode, byC] of Object.entries(r.asyncinfer ?? {})) {
      for (const [c, a] of Object.entries(byC)) {
        const d = r.direct?.[c];
        const o = r.overheadMs?.[mode]?.[c];
        rows.push([`202→output p50 ms, ${mode}, C=${c.slice(1)} (vs direct)`, ms(a.acceptedToOutputMs?.p50), ms(d?.latencyMs?.p50), plusMs(o?.p50Ms)]);
        rows.push([`202→output p99 ms, ${mode}, C=${c.slice(1)} (vs direct)`, ms(a.acceptedToOutputMs?.p99), ms(d?.latencyMs?.p99), plusMs(o?.p99Ms)]);
      }
    }
    return rows;
  },
  dispatch: (r) => [
    ['drain inv/s (vs direct POST /invocations)', n0(r.drain?.requestsPerSecond), n0(r.direct?.requestsPerSecond), ratio(r.drain?.requestsPerSecond, r.direct?.requestsPerSecond)],
    ['drain inv/s from "model URL ready"', n0(r.drain?.requestsPerSecondFromModelReady), '-', '-'],
  ],
  backlog: (r) => {
    const n = r.settings?.count;
    const dispatchFromReady = merged.dispatch?.drain?.requestsPerSecondFromModelReady;
    const ingestRate = merged.ingest?.asyncinfer?.requestsPerSecond?.average;
    return [
      [`server RSS MiB, ${fmt(n)} queued (vs idle)`, mib(r.backlog?.rss?.vmRssBytes), mib(r.idle?.rss?.vmRssBytes), ratio(r.backlog?.rss?.vmRssBytes, r.idle?.rss?.vmRssBytes)],
      ['server peak RSS (VmHWM) MiB (vs idle)', mib(r.backlog?.rss?.vmHwmBytes), mib(r.idle?.rss?.vmHwmBytes), ratio(r.backlog?.rss?.vmHwmBytes, r.idle?.rss?.vmHwmBytes)],
      [`GET /metrics median ms, ${fmt(n)} queued (vs empty)`, r.backlog?.metricsMs?.median, r.idle?.metricsMs?.median, ratio(r.backlog?.metricsMs?.median, r.idle?.metricsMs?.median)],
      [`data dir MiB on disk, ${fmt(n)} queued`, mib(r.backlog?.dataDir?.allocatedBytes), '-', `${fmt(r.backlog?.bytesPerInvocationOnDisk)} B/invocation`],
      [`enqueue req/s over ${fmt(n)} (vs ingest run)`, n0(r.enqueue?.requestsPerSecond), n0(ingestRate) ?? '-', ratio(r.enqueue?.requestsPerSecond, ingestRate)],
      [`drain completed/s, ${fmt(n)} queued (vs dispatch drain)`, n0(r.drain?.completedPerSecond), n0(dispatchFromReady) ?? '-', ratio(r.drain?.completedPerSecond, dispatchFromReady)],
    ];
  },
  redis: (r) => [
    ['accept req/s on Redis (vs raw Redis writes)', n0(r.accept?.asyncinfer?.requestsPerSecond), n0(r.accept?.raw?.requestsPerSecond), ratio(r.accept?.asyncinfer?.requestsPerSecond, r.accept?.raw?.requestsPerSecond)],
    ['drain inv/s on Redis (vs raw lease+complete)', n0(r.drain?.asyncinfer?.requestsPerSecond), n0(r.drain?.raw?.requestsPerSecond), ratio(r.drain?.asyncinfer?.requestsPerSecond, r.drain?.raw?.requestsPerSecond)],
    ['drain inv/s on Redis (vs direct)', n0(r.drain?.asyncinfer?.requestsPerSecond), n0(r.drain?.direct?.requestsPerSecond), ratio(r.drain?.asyncinfer?.requestsPerSecond, r.drain?.direct?.requestsPerSecond)],
  ],
};

const known = BENCHMARKS.map((b) => b.name);
const only = flags.only?.split(',').map((s) => s.trim()).filter(Boolean);
const skip = flags.skip.split(',').map((s) => s.trim()).filter(Boolean);
for (const n of [...(only ?? []), ...skip]) {
  if (!known.includes(n)) {
    process.stderr.write(`bench: unknown benchmark "${n}" (known: ${known.join(', ')})\n`);
    process.exit(2);
  }
}

const machine = machineInfo();
const stamp = new Date().toISOString();
const t0 = performance.now();
log(`run-all: ${BENCHMARKS.filter(selected).map((b) => b.name).join(', ')}${flags.quick ? ' (--quick: small counts, a smoke test)' : ''}; backlog ${fmt(BACKLOG_COUNT)} invocations`);
log(`machine: ${machine.cpuCount} × ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB, ${machine.os}, node ${machine.node}`);

const runs = {};
const merged = {};
for (const bench of BENCHMARKS) {
  if (!selected(bench)) continue;
  const script = path.join(BENCH_DIR, `${bench.name}.mjs`);
  if (!existsSync(script)) {
    runs[bench.name] = { skipped: bench.optional ? 'the script does not exist' : undefined, failed: !bench.optional, reason: `${path.relative(ROOT, script)} does not exist` };
    log(`\n==== ${bench.name}: ${path.relative(ROOT, script)} does not exist${bench.optional ? ', skipped' : ''} ====`);
    continue;
  }
  const source = readFileSync(script, 'utf8');
  const takesOut = /\bout:\s*\{\s*type:/.test(source);
  const resultsFile = takesOut ? path.join(OUT_DIR, `${bench.name}-results.json`) : path.join(BENCH_DIR, `${bench.name}-results.json`);
  const args = [
    ...(takesOut ? ['--out', resultsFile] : []),
    ...(bench.args ?? []),
    ...(flags.quick ? bench.quick : []),
    ...splitArgs(flags[`${bench.name}-args`]),
  ];
  if (!flags['no-wait']) await waitForOtherBenchmarks(bench.name);
  log(`\n${'='.repeat(100)}\n==== ${bench.name}: node ${path.relative(ROOT, script)} ${args.map((a) => path.isAbsolute(a) ? path.relative(ROOT, a) : a).join(' ')}\n${'='.repeat(100)}`);
  const started = Date.now();
  const t = performance.now();
  const { code, signal } = await run(script, args);
  const seconds = round((performance.now() - t) / 1000, 1);
  const run1 = { command: `node ${path.relative(ROOT, script)} ${args.join(' ')}`, exitCode: code, signal, seconds, resultsFile: path.relative(ROOT, resultsFile) };
  let results;
  if (existsSync(resultsFile) && statSync(resultsFile).mtimeMs >= started - 1000) {
    try {
      results = JSON.parse(readFileSync(resultsFile, 'utf8'));
    } catch (err) {
      run1.reason = `its results file is not JSON: ${err.message}`;
    }
  } else {
    run1.reason = `it wrote no results to ${path.relative(ROOT, resultsFile)}`;
  }
  if (code !== 0) run1.reason = `exit code ${code}${signal ? ` (signal ${signal})` : ''}${run1.reason ? `; ${run1.reason}` : ''}`;
  run1.failed = code !== 0 || results === undefined;
  run1.problems = results?.problems ?? [];
  runs[bench.name] = run1;
  if (results) merged[bench.name] = results;
}

const totalSeconds = round((performance.now() - t0) / 1000, 1);
const all = {
  machine,
  timestamp: stamp,
  runAll: { quick: flags.quick, backlogCount: BACKLOG_COUNT, totalSeconds, runs },
  ...merged,
};
const mergedFile = path.join(OUT_DIR, 'results.json');
writeFileSync(mergedFile, `${JSON.stringify(all, null, 2)}\n`);

printSummary();
log(`\nmerged results: ${path.relative(ROOT, mergedFile) || mergedFile}; the whole run took ${fmtSeconds(totalSeconds)}`);
const failed = Object.entries(runs).filter(([, r]) => r.failed);
if (failed.length > 0) {
  process.stderr.write(`\n!! ${failed.length} benchmark(s) FAILED: ${failed.map(([n, r]) => `${n} (${r.reason})`).join('; ')}\n`);
  for (const [n, r] of failed) for (const p of r.problems ?? []) process.stderr.write(`!!   ${n}: ${p}\n`);
  process.exitCode = 1;
}

// ---------------------------------------------------------------------------------------------

function selected(bench) {
  return (!only || only.includes(bench.name)) && !skip.includes(bench.name);
}

function splitArgs(text) {
  return (text ?? '').split(/\s+/).filter(Boolean);
}

function run(script, args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    const forward = (sig) => child.kill(sig);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.once('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve({ code, signal });
    });
    child.once('error', (err) => resolve({ code: -1, signal: err.message }));
  });
}

/** Other benchmark processes on this machine (not run-all's own children, which have all exited). */
function otherBenchmarks() {
  const pattern = `bench/(${known.join('|')})\\.mjs`;
  try {
    return execFileSync('pgrep', ['-af', pattern], { encoding: 'utf8' }).split('\n').filter(Boolean)
      .filter((line) => Number(line.split(' ')[0]) !== process.pid);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

async function waitForOtherBenchmarks(name) {
  let waitedSince;
  for (;;) {
    const others = otherBenchmarks();
    if (others.length === 0) break;
    if (waitedSince === undefined || performance.now() - waitedSince > 60_000) {
      log(`\n[run-all] ${name} waits: another benchmark is running (${others.map((o) => o.slice(0, 100)).join('; ')})`);
      waitedSince = performance.now();
    }
    await sleep(2000);
  }
}

// ---- the summary ----

function printSummary() {
  const rows = [['benchmark', 'figure', 'value', 'baseline', 'ratio / overhead']];
  for (const bench of BENCHMARKS) {
    const r = runs[bench.name];
    if (!r) continue;
    if (r.skipped) {
      rows.push([bench.name, `skipped: ${r.skipped}`, '-', '-', '-']);
      continue;
    }
    const res = merged[bench.name];
    let figures = [];
    if (res) {
      try {
        figures = FIGURES[bench.name]?.(res) ?? [];
      } catch (err) {
        figures = [[`(figures unreadable: ${err.message})`, '-', '-', '-']];
      }
    }
    if (r.failed) rows.push([bench.name, `FAILED: ${r.reason.split(';')[0]} (see below)`, '-', '-', '-']);
    for (const f of figures) rows.push([bench.name, ...f.map((x) => (x === undefined || x === null || Number.isNaN(x) ? '?' : String(x)))]);
  }
  log(`\n${'='.repeat(100)}\n==== summary (${flags.quick ? '--quick: smoke-test counts, not figures to quote' : 'settings: see each results file'}; ratios and overheads are informational, never asserted) ====`);
  printRows(rows);
  log('');
  printRows([['benchmark', 'exit', 'seconds', 'results'], ...Object.entries(runs).map(([n, r]) => [n, r.skipped ? 'skipped' : String(r.exitCode ?? '-'), r.seconds === undefined ? '-' : String(r.seconds), r.resultsFile ?? '-'])]);
}

function fmtSeconds(s) {
  return s < 120 ? `${s} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

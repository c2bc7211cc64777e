// Helpers shared by the benchmark scripts (bench/ingest.mjs, bench/dispatch.mjs, ...): paths, argument
// checks, formatting, the fsync probe, CPU accounting, child-process handling, the benchmark's access
// key and request signing, and the end of a run.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BENCH_DIR = path.join(ROOT, 'bench');
export const SERVER_MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
export const NULL_MODEL = path.join(BENCH_DIR, 'null-model.mjs');
export const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ, the unit of /proc/<pid>/stat times on Linux
/** More CPU than this used by other processes (in cores) makes a run noisy. */
export const NOISY_CORES = 0.2;

// ---- the benchmark's access key (issue 12: every request is signed with AWS SigV4) ----

/**
 * The key every benchmark server accepts and every benchmark request is signed with. A fixed,
 * public test key: the servers only listen on 127.0.0.1 and live for one run. Frozen: give an AWS SDK
 * client a copy (`{ ...BENCH_CREDENTIALS }`), as the SDK marks the credentials object it is given.
 */
export const BENCH_CREDENTIALS = Object.freeze({ accessKeyId: 'AKIABENCH0000000000', secretAccessKey: 'bench-secret-access-key-0123456789abcd' });
export const BENCH_REGION = 'us-east-1';

/** The environment for a server child: `env` plus the bench key as its root key (ASYNCINFER_ACCESS_KEY_ID/…SECRET…). */
export function benchKeyEnv(env = process.env) {
  return { ...env, ASYNCINFER_ACCESS_KEY_ID: BENCH_CREDENTIALS.accessKeyId, ASYNCINFER_SECRET_ACCESS_KEY: BENCH_CREDENTIALS.secretAccessKey };
}

let signer;
/**
 * The headers of one request signed with the bench key (SigV4, the built server's own signer,
 * dist/src/cli/signed-request.js), without `host`: autocannon, undici and fetch set it themselves
 * (to the same value). A signature stays valid for 15 minutes and the server does no replay
 * detection, so a fixed request (same URL, headers and body) is signed once and sent again and
 * again: the server still verifies each one in full (parse, key lookup, HMAC, SHA-256 of the body).
 * Imported lazily, so that a script still loads (and says "run npm run build") without dist/.
 * @param {{ url: string, method?: string, headers?: Record<string, string>, body?: string, service?: 'sagemaker' | 's3' }} request
 */
export async function signedHeaders({ url, method = 'POST', headers = {}, body, service = 'sagemaker' }) {
  signer ??= import(pathToFileURL(path.join(ROOT, 'dist', 'src', 'cli', 'signed-request.js')).href);
  const { signHeaders } = await signer;
  const signed = await signHeaders({
    method, url, headers, ...(body !== undefined && { body }), region: BENCH_REGION, service, credentials: BENCH_CREDENTIALS,
  });
  for (const name of Object.keys(signed)) if (name.toLowerCase() === 'host') delete signed[name];
  return signed;
}

// ---- arguments ----

/**
 * The command line: the script's own `options` plus --profile, --keep-data and --help (which prints
 * `usage` and exits 0). Unknown options throw (strict).
 */
export function parseBenchArgs(usage, options) {
  const { values } = parseArgs({
    options: {
      ...options,
      profile: { type: 'boolean', default: false },
      'keep-data': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return values;
}

/** Prints `bench: <message>` to stderr and exits with `code` (2: a bad command line). */
export function die(message, code = 2) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(code);
}

export function positiveInt(text, name) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    die(`${name} must be a positive integer, not "${text}"`);
  }
  return n;
}

export function nonNegativeInt(text, name) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) {
    die(`${name} must be a non-negative integer, not "${text}"`);
  }
  return n;
}

// ---- the machine and the run ----

export function machineInfo() {
  return {
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cpuCount: os.cpus().length,
    totalMemoryBytes: os.totalmem(),
    totalMemoryGiB: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
  };
}

/** A JSON document of exactly `bytes` bytes. */
export function makeBody(bytes) {
  const head = '{"inputs":"';
  const tail = '"}';
  const filler = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(Math.ceil(bytes / 36)).slice(0, bytes - head.length - tail.length);
  const body = head + filler + tail;
  if (Buffer.byteLength(body) !== bytes) throw new Error('body size');
  JSON.parse(body);
  return body;
}

/**
 * fsync latency on the filesystem holding the data dir: what every group commit (ingest) and every
 * output object and outcome (dispatch) waits for.
 */
export function measureFsync(dir) {
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

/** measureFsync(dir), logged. */
export function fsyncReport(dir) {
  const fsync = measureFsync(dir);
  log(`fsync on the data-dir filesystem (${os.tmpdir()}): median ${fsync.medianMs} ms, p99 ${fsync.p99Ms} ms over ${fsync.samples} fsyncs of a 4 KiB append`);
  return fsync;
}

/** One second of idle: warns (into `warnings`) when other processes already keep the machine busy. */
export async function quietCheck(name, warnings) {
  const idle = cpuSnapshot([]);
  await sleep(1000);
  const busy = cpuSince(idle, [])?.machine;
  if (busy > NOISY_CORES) {
    warnings.push(`${name}: the machine was already using ${busy} cores before the run (other processes); figures are unreliable`);
    log(`[${name}] WARNING: ${busy} cores busy before the run: something else is using the CPU`);
  }
}

/** Warns (into `warnings`) when other processes used more than NOISY_CORES during a measured run. */
export function noisy(name, otherCores, warnings) {
  if (otherCores > NOISY_CORES) warnings.push(`${name}: other processes used ${otherCores} cores during the measured run; figures are unreliable`);
}

/** Prints the warnings and problems of a run to stderr; returns the exit code (1 when there are problems). */
export function reportIssues(warnings, problems) {
  if (warnings.length > 0) {
    process.stderr.write('\nWARNING: the machine was not quiet; re-run when nothing else is using the CPU:\n');
    for (const w of warnings) process.stderr.write(`  - ${w}\n`);
  }
  if (problems.length === 0) return 0;
  const bar = '!'.repeat(78);
  process.stderr.write(`\n${bar}\n!! THE BENCHMARK FOUND PROBLEMS (figures above may be meaningless):\n`);
  for (const p of problems) process.stderr.write(`!!  - ${p}\n`);
  process.stderr.write(`${bar}\n`);
  return 1;
}

// ---- CPU accounting (Linux /proc for the children; /proc/stat for the machine) ----

export function cpuSnapshot(pids = []) {
  return {
    at: performance.now(),
    machineBusyMs: machineBusyMs(),
    selfMicros: process.cpuUsage(),
    childTicks: pids.map((pid) => processTicks(pid)),
  };
}

/**
 * Cores busy (0..cpuCount) since `before` (a cpuSnapshot of the same `pids`): the machine, this
 * process, each child (undefined where its ticks could not be read), and the rest.
 */
export function cpuSince(before, pids = []) {
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
export function machineBusyMs() {
  try {
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).map(Number);
    const [user, nice, system, , , irq, softirq] = ticks; // idle, iowait and steal are not busy
    return ((user + nice + system + irq + softirq) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return os.cpus().reduce((a, cpu) => a + cpu.times.user + cpu.times.nice + cpu.times.sys + cpu.times.irq, 0);
  }
}

/** Cores a process used on average over `wallMs`, all its CPU time counted (a process started inside the window); undefined when unreadable. */
export function lifetimeCores(pid, wallMs) {
  const ticks = processTicks(pid);
  return ticks === undefined ? undefined : round((ticks * 1000) / CLOCK_TICKS_PER_SECOND / wallMs, 2);
}

/** utime + stime of a process, in clock ticks; undefined when it cannot be read. */
export function processTicks(pid) {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return undefined;
  }
}

// ---- child processes ----

/**
 * Starts `node ...args` and resolves with a server record once `urlOf(line)` returns a URL for one
 * of its JSON log lines on stdout. Options: `env` for the child; `skip(text)`, raw lines not worth
 * parsing (skipped before JSON.parse); `expectedWarning(line)`, warning lines the run asks for (not
 * counted as the server's warnings); `track`, an array the record is pushed to at spawn. Set
 * `server.onLine` to see every parsed line.
 * @param {string} name
 * @param {string[]} args
 * @param {(line: any) => string | false | undefined} urlOf
 * @param {{ env?: NodeJS.ProcessEnv, skip?: (text: string) => boolean, expectedWarning?: (line: any) => boolean, track?: object[] }} [options]
 */
export function startChild(name, args, urlOf, { env = process.env, skip, expectedWarning, track } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const server = { name, child, url: undefined, warnings: [], stderr: '', exited: false, exitCode: null, signal: null, exitPromise: undefined, onLine: undefined, stopped: false };
    track?.push(server);
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
        if (skip?.(text)) continue;
        let line;
        try {
          line = JSON.parse(text);
        } catch {
          continue;
        }
        if (typeof line.level === 'number' && line.level >= 40 && server.warnings.length < 100 && !expectedWarning?.(line)) server.warnings.push(text);
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

/** SIGTERM (SIGKILL after 30 s); anything wrong (no clean exit 0, warnings logged) goes to `problems`. Once per server. */
export async function stopChild(server, problems) {
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

/** `urlOf` for startChild: bench/null-model.mjs's listening line. */
export const nullModelListening = (line) => line.msg === 'null model listening' && line.url;
/** `urlOf` for startChild: asyncinfer's listening line. */
export const asyncinferListening = (line) => line.msg === 'asyncinfer listening' && line.url;
/** `expectedWarning` for startChild: the warning asyncinfer logs at every start with `auth: {mode: 'off'}`. */
export const authOffWarning = (line) => typeof line.msg === 'string' && line.msg.startsWith('auth.mode is "off"');

/**
 * The children of one benchmark run: every one started is tracked in `list`, so that all of them are
 * stopped whatever happens; what is wrong when one stops goes to `problems`. asyncinfer logs a line
 * per invocation: only lines that can matter are parsed. Every child gets the bench key in its
 * environment (benchKeyEnv): asyncinfer takes it as its root key, the models ignore it.
 */
export function childSet(problems) {
  const list = [];
  const start = (name, args, urlOf) => startChild(name, args, urlOf, {
    env: benchKeyEnv(),
    track: list,
    skip: (text) => text.includes('"msg":"invocation completed"') && !/"level":[4-6]0/.test(text),
  });
  const stop = (server) => stopChild(server, problems);
  return {
    list,
    start,
    stop,
    /** bench/null-model.mjs, on `port` (any free port when undefined). */
    startNullModel: (name, port) => start(name, port === undefined ? [NULL_MODEL] : [NULL_MODEL, '--port', String(port)], nullModelListening),
    /** Stops every child, asyncinfer first: its model must outlive it. */
    async stopAll() {
      const first = (x) => Number(x.name.startsWith('asyncinfer'));
      for (const child of [...list].sort((a, b) => first(b) - first(a))) await stop(child);
    },
    /** Stops `server`, then the models started under `modelName` (which must outlive it). */
    async stopServerThenModels(server, modelName) {
      await stop(server);
      for (const child of list.filter((x) => x.name === modelName)) await stop(child);
    },
  };
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Files below `dir` (0 when it does not exist). */
export function countFiles(dir) {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).length;
}

// ---- the end of a run ----

/** Writes `results` as JSON to `file` and says so (after a blank line unless `blankLine` is false). */
export function writeResults(file, results, { blankLine = true } = {}) {
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  log(`${blankLine ? '\n' : ''}results written to ${path.relative(ROOT, file)}`);
}

/** Reports warnings and problems, keeps (--keep-data: `kept` names what) or removes `work`, sets the exit code. */
export function endRun({ warnings, problems, keepData, work, kept }) {
  const exitCode = reportIssues(warnings, problems);
  if (keepData) log(`data (${kept}) kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
  process.exitCode = exitCode;
}

// ---- output ----

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

export function round(x, digits = 0) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function fmt(n) {
  return Number(n).toLocaleString('en-US');
}

/** A count, marked when it is not zero (something went wrong). */
export function flagged(n) {
  return n > 0 ? `${fmt(n)} !!!` : '0';
}

/** Cores to two decimals, or '?'. */
export function c2(x) {
  return x === undefined ? '?' : x.toFixed(2);
}

export function log(text) {
  process.stdout.write(`${text}\n`);
}

/** Prints a table: first column left-aligned, the others right-aligned, a rule under the header row. */
export function printRows(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  log(line(rows[0]));
  log(rows[0].map((_, i) => '-'.repeat(widths[i])).join('  '));
  for (const row of rows.slice(1)) log(line(row));
}

// Redis benchmark: asyncinfer on the Redis queue (queue.type "redis"), accepting and draining
// invocations, next to the same kind of work done on the same redis-server directly with ioredis.
//
//   node bench/redis.mjs [--count 5000] [--concurrency 8] [--appendfsync always|everysec]
//                        [--accept-count 50000] [--warmup 5000] [--skip-sqlite] [--profile] [--keep-data]
//
// Every request to asyncinfer is SigV4-signed with the bench key (bench/lib.mjs; the servers get it
// in their environment): one signature per URL, sent again for every request.
//
// The script starts its own /usr/bin/redis-server on a free loopback port, in a temporary --dir,
// with `--appendonly yes --appendfsync always --save ""` (--appendfsync everysec to compare) and
// `--auto-aof-rewrite-min-size 4gb` (no AOF rewrite, a fork on the same cores, inside the run), and
// stops it at the end. Everything below runs against that one server, one part after the other:
//
// 1. accept
//    - raw: the benchmark process writes to Redis itself (ioredis, 8 connections, 64 concurrent
//      writers, one command at a time each, no pipelining): each "request" is one
//      MULTI / HSET {1 KiB payload + 4 fields} / ZADD onto a per-endpoint sorted set / INCR / EXEC,
//      the least a durable enqueue can cost. --accept-count of them (after --warmup uncounted).
//    - asyncinfer: `serve --role all` on Redis (dist/src/cli/main.js, a child process), loaded by
//      autocannon in this process: POST /endpoints/accept/async-invocations, 1 KiB JSON body, 64
//      connections, --accept-count requests (after --warmup uncounted). Every answer must be 202,
//      and the endpoint's queued sorted set must then hold every 202.
//    - sqlite (context, --skip-sqlite leaves it out): the same load on asyncinfer's default queue.
//    Ratio: asyncinfer req/s ÷ raw writes/s.
// 2. drain (N = --count, C = --concurrency)
//    - asyncinfer: the same process has a second endpoint whose model is `url:
//      http://127.0.0.1:<port>` with MaxConcurrentInvocationsPerInstance C. Nothing listens on
//      <port> yet: N invocations are enqueued (autocannon, 64 connections, all 202), Redis must
//      hold N queued and none running. Then bench/null-model.mjs starts on <port>, and the clock
//      runs from that spawn until the endpoint's queued sorted set is empty and its running
//      counter is 0 (polled in Redis every 50 ms; keys as in src/queue/redis/redis-keys.ts). Every
//      invocation must end `completed` and <data-dir>/s3/bench-bucket/out/ must hold N objects.
//    - raw: the benchmark process drains N items it put in Redis itself (untimed), with C
//      concurrent workers on one ioredis connection; per item: ZPOPMIN (take the oldest),
//      MULTI { HSET running + lease fields, HINCRBY attempts, ZADD leases, HINCRBY running, HGET
//      payload } EXEC (the lease), MULTI { HSET completed, HDEL payload, ZREM leases, HINCRBY
//      running -1 } EXEC (the outcome). No model, no output object.
//    - direct: the null model called by autocannon, N requests over C connections (like
//      bench/dispatch.mjs's direct row).
//    Ratios: drain ÷ raw, drain ÷ direct.
//
// Figures are printed and written to bench/redis-results.json. The ratios are informational: the
// exit code is non-zero only when something was *wrong* (errors, answers other than 202/200,
// accepted invocations missing from Redis, invocations not completed, missing outputs, warnings or
// errors in asyncinfer's log, a process that failed to start or to exit 0 on SIGTERM).
//
// --profile starts asyncinfer on Redis with --cpu-prof; the measured accept run and the drain are
// cut out of its profile (bench/profiles/redis-<timestamp>/asyncinfer-{accept,drain}.cpuprofile)
// and summarised. Profiled figures are perturbed, so the results go to that folder too.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import {
  BENCH_DIR, die, ROOT, SERVER_MAIN, asyncinferListening, c2, childSet, countFiles, cpuSince, cpuSnapshot, endRun, flagged, fmt, freePort,
  fsyncReport, lifetimeCores, log, machineInfo, makeBody, noisy, nonNegativeInt, parseBenchArgs, positiveInt, printRows, quietCheck,
  round, signedHeaders, sleep, writeResults,
} from './lib.mjs';
import { drainRatesText, drainTimesText, enqueueAll, enqueueFigures, pollDrain, steadyRate, thinSamples } from './drain.mjs';
import { load, reportTrouble, runFigures, runDirect as runDirectLoad, trouble } from './load.mjs';
import { printProfileSummary, summarizeProfile } from './profile-summary.mjs';

const REDIS_SERVER = '/usr/bin/redis-server';
/**
 * Redis rewrites its AOF by itself once it has doubled and passed 64 MB (the default minimum): a
 * fork plus a full rewrite on the same 2 cores, landing in whichever part crosses the line. Raised
 * so that no automatic rewrite runs during the benchmark (each measured window still checks).
 */
const AOF_REWRITE_MIN_SIZE = '4gb';
const CONTROL_MODEL = path.join(ROOT, 'test', 'fixtures', 'control-model.mjs');
const ACCEPT_ENDPOINT = 'accept';
const DRAIN_ENDPOINT = 'drain';
const BUCKET = 'bench-bucket';
const OUTPUT_PREFIX = 'out';
const BODY_BYTES = 1024;
const CONNECTIONS = 64;
/** Raw accept: this many writers share one connection. */
const WRITERS_PER_CONNECTION = 8;
const POLL_MS = 50;
/** The drain is declared stuck when no invocation finishes for this long. */
const STALL_MS = 60_000;
/** asyncinfer's default key prefix; the keys are those of src/queue/redis/redis-keys.ts. */
const PREFIX = 'asyncinfer';
const K = {
  base: `{${PREFIX}}:`,
  queued: (ep) => `{${PREFIX}}:queued:${ep}`,
  running: `{${PREFIX}}:running`,
  invPattern: `{${PREFIX}}:inv:*`,
};
/** The raw baselines' own keys, apart from asyncinfer's. */
const RAW = {
  inv: (id) => `{raw}:inv:${id}`,
  queued: (ep) => `{raw}:queued:${ep}`,
  seq: '{raw}:seq',
  leases: '{raw}:leases',
  running: '{raw}:running',
};
const HEADERS = { 'content-type': 'application/json', 'x-amzn-sagemaker-content-type': 'application/json' };

const flags = parseBenchArgs('usage: node bench/redis.mjs [--count N=5000] [--concurrency C=8] [--appendfsync always|everysec] ' +
  '[--accept-count N=50000] [--warmup REQUESTS=5000] [--skip-sqlite] [--profile] [--keep-data]', {
  count: { type: 'string', default: '5000' },
  concurrency: { type: 'string', default: '8' },
  appendfsync: { type: 'string', default: 'always' },
  'accept-count': { type: 'string', default: '50000' },
  warmup: { type: 'string', default: '5000' },
  'skip-sqlite': { type: 'boolean', default: false },
});
const COUNT = positiveInt(flags.count, '--count');
const CONCURRENCY = positiveInt(flags.concurrency, '--concurrency');
const ACCEPT_COUNT = positiveInt(flags['accept-count'], '--accept-count');
const WARMUP = nonNegativeInt(flags.warmup, '--warmup');
const APPENDFSYNC = flags.appendfsync;
if (!['always', 'everysec'].includes(APPENDFSYNC)) {
  die(`--appendfsync must be "always" or "everysec", not "${APPENDFSYNC}"`);
}
if (CONCURRENCY > 1000) {
  die('--concurrency must be at most 1000 (MaxConcurrentInvocationsPerInstance)');
}
if (CONCURRENCY > COUNT) {
  die('--concurrency cannot exceed --count (autocannon needs a request per connection)');
}
if (CONNECTIONS > ACCEPT_COUNT) {
  die(`--accept-count must be at least ${CONNECTIONS} (one request per connection)`);
}
if (!existsSync(SERVER_MAIN)) {
  die(`${path.relative(ROOT, SERVER_MAIN)} is missing; run "npm run build" first.`, 1);
}
if (!existsSync(REDIS_SERVER)) {
  die(`${REDIS_SERVER} is missing (apt-get install redis-server).`, 1);
}

const BODY = makeBody(BODY_BYTES);
const stamp = new Date().toISOString();
const work = mkdtempSync(path.join(os.tmpdir(), 'asyncinfer-redis-'));
const profileDir = flags.profile ? path.join(BENCH_DIR, 'profiles', `redis-${stamp.replace(/[:.]/g, '-')}`) : undefined;
if (profileDir) mkdirSync(profileDir, { recursive: true });
/** Measured windows (process.hrtime, µs) to cut out of asyncinfer's CPU profile. */
const windows = {};
/** Things that were wrong (not slow): each makes the exit code 1. */
const problems = [];
/** Things that make the figures unreliable (a busy machine): reported, exit code unchanged. */
const warnings = [];
/** Every node child started, so that all of them are stopped whatever happens. */
const children = childSet(problems);
const { start: startChild, stop: stopChild } = children;

const machine = machineInfo();
const code = codeVersion();

log(`redis benchmark: accept ${fmt(ACCEPT_COUNT)} (+${fmt(WARMUP)} warm-up) over ${CONNECTIONS} connections; drain ${fmt(COUNT)} at concurrency ${CONCURRENCY}; ` +
  `${BODY_BYTES}-byte JSON body; redis-server appendfsync ${APPENDFSYNC}`);
log(`machine: ${machine.cpuCount} × ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB, ${machine.os}, node ${machine.node}`);
log(`code: commit ${code.commit ?? '?'}${code.srcChanged ? ' with uncommitted changes under src/' : ''}; dist/ built ${code.distBuiltAt ?? '?'}`);
log('NOTE: redis-server, asyncinfer, the model and the load generator (this process) all share the same CPU cores:');
log('      figures compare asyncinfer with raw Redis on one machine, not a capacity claim.');
if (profileDir) log(`PROFILING: asyncinfer on Redis runs with --cpu-prof (figures perturbed; not written to bench/redis-results.json); profiles in ${path.relative(ROOT, profileDir)}`);

const fsync = fsyncReport(work);

let redis;
let admin;
const accept = {};
const drain = {};
let redisAfter;
try {
  redis = await startRedis();
  admin = new Redis({ port: redis.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
  await admin.connect();
  redis.settings = await redisSettings(admin);
  log(`redis-server ${redis.version} on 127.0.0.1:${redis.port}, dir ${redis.dir}`);
  log(`  persistence: appendonly ${redis.settings.appendonly}, appendfsync ${redis.settings.appendfsync}, save "${redis.settings.save}", ` +
    `appenddirname ${redis.settings.appenddirname}, aof-use-rdb-preamble ${redis.settings['aof-use-rdb-preamble']}, ` +
    `auto-aof-rewrite-percentage ${redis.settings['auto-aof-rewrite-percentage']} (min ${redis.settings['auto-aof-rewrite-min-size']} bytes)`);
  if (redis.settings.appendonly !== 'yes' || redis.settings.appendfsync !== APPENDFSYNC || redis.settings.save !== '') {
    throw new Error(`redis-server did not take the persistence settings: ${JSON.stringify(redis.settings)}`);
  }

  accept.raw = await runRawAccept();
  const server = await startAsyncinferRedis();
  try {
    accept.asyncinfer = await runAccept('asyncinfer on Redis', server, ACCEPT_ENDPOINT);
    accept.asyncinfer.durability = await checkRedisAccept(accept.asyncinfer);
    drain.asyncinfer = await runDrain(server);
  } finally {
    // asyncinfer first: the model must outlive it.
    await children.stopServerThenModels(server, 'null model (drain)');
  }
  if (drain.asyncinfer) {
    drain.asyncinfer.finalStates = await finalStates();
    checkFinalStates(drain.asyncinfer.finalStates);
  }
  drain.raw = await runRawDrain();
  drain.direct = await runDirect();
  if (!flags['skip-sqlite']) accept.sqlite = await runSqliteAccept();
} catch (err) {
  problems.push(`benchmark aborted: ${err.message}`);
  process.stderr.write(`\nbench: ${err.stack ?? err}\n`);
} finally {
  await children.stopAll();
  if (admin) {
    try {
      redisAfter = await redisInfo(admin);
    } catch (err) {
      problems.push(`redis INFO at the end failed: ${err.message}`);
    }
    admin.disconnect();
  }
  if (redis) await stopRedis(redis);
}

const ratios = {
  acceptOverRaw: accept.asyncinfer && accept.raw ? round(accept.asyncinfer.requestsPerSecond / accept.raw.requestsPerSecond, 3) : undefined,
  sqliteAcceptOverRaw: accept.sqlite && accept.raw ? round(accept.sqlite.requestsPerSecond / accept.raw.requestsPerSecond, 3) : undefined,
  redisAcceptOverSqliteAccept: accept.sqlite && accept.asyncinfer ? round(accept.asyncinfer.requestsPerSecond / accept.sqlite.requestsPerSecond, 3) : undefined,
  drainOverRaw: drain.asyncinfer?.requestsPerSecond && drain.raw ? round(drain.asyncinfer.requestsPerSecond / drain.raw.requestsPerSecond, 3) : undefined,
  drainOverDirect: drain.asyncinfer?.requestsPerSecond && drain.direct ? round(drain.asyncinfer.requestsPerSecond / drain.direct.requestsPerSecond, 3) : undefined,
};
printTables();
let profiles;
if (profileDir) profiles = summarizeProfiles();

const results = {
  benchmark: 'redis',
  timestamp: stamp,
  machine,
  code,
  settings: {
    count: COUNT, concurrency: CONCURRENCY, acceptCount: ACCEPT_COUNT, warmupRequests: WARMUP, bodyBytes: BODY_BYTES,
    acceptConnections: CONNECTIONS, pollMs: POLL_MS, logLevel: 'info',
    redisServer: { binary: REDIS_SERVER, version: redis?.version, args: redis?.args, settings: redis?.settings, logWarnings: redis?.logWarnings },
    acceptRaw: `ioredis in the benchmark process: ${CONNECTIONS} writers on ${Math.ceil(CONNECTIONS / WRITERS_PER_CONNECTION)} connections, one MULTI{HSET 1 KiB payload + 4 fields, ZADD, INCR}EXEC at a time each`,
    acceptAsyncinfer: `autocannon in the benchmark process, POST /endpoints/${ACCEPT_ENDPOINT}/async-invocations, ${CONNECTIONS} connections, pipelining 1, amount ${ACCEPT_COUNT}`,
    drainAsyncinfer: `asyncinfer serve --role all, queue redis, storage fs; model.url, MaxConcurrentInvocationsPerInstance ${CONCURRENCY}; N queued before the model starts; clock from the model's spawn until queued:${DRAIN_ENDPOINT} is empty and running[${DRAIN_ENDPOINT}] is 0`,
    drainRaw: `ioredis in the benchmark process, ${CONCURRENCY} workers on one connection: ZPOPMIN, MULTI{HSET, HINCRBY, ZADD, HINCRBY, HGET}EXEC, MULTI{HSET, HDEL, ZREM, HINCRBY}EXEC per item`,
    drainDirect: `autocannon in the benchmark process, POST /invocations to bench/null-model.mjs, ${CONCURRENCY} connections, amount ${COUNT}`,
    profiled: Boolean(profileDir),
  },
  fsync,
  accept,
  drain,
  ratios,
  redisAfter,
  profiles,
  problems,
  warnings,
};
const resultsFile = path.join(profileDir ?? BENCH_DIR, 'redis-results.json');
writeResults(resultsFile, results);
endRun({ warnings, problems, keepData: flags['keep-data'], work, kept: 'redis dir, data dirs, configs' });

// ---------------------------------------------------------------------------------------------
// redis-server

async function startRedis() {
  const port = await freePort();
  const dir = path.join(work, 'redis');
  mkdirSync(dir);
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', APPENDFSYNC,
    '--save', '', '--auto-aof-rewrite-min-size', AOF_REWRITE_MIN_SIZE, '--daemonize', 'no', '--logfile', '', '--loglevel', 'notice'];
  const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const r = { child, port, dir, args, output: '', version: undefined, exited: false, exitCode: null, signal: null };
  r.exitPromise = new Promise((done) => child.once('exit', (code, signal) => {
    Object.assign(r, { exited: true, exitCode: code, signal });
    done();
  }));
  const onData = (chunk) => {
    r.output = (r.output + chunk).slice(-50_000);
  };
  child.stdout.setEncoding('utf8').on('data', onData);
  child.stderr.setEncoding('utf8').on('data', onData);
  const deadline = performance.now() + 10_000;
  while (!/Ready to accept connections/.test(r.output)) {
    if (r.exited) throw new Error(`redis-server exited (code ${r.exitCode}) before it was ready: ${r.output.slice(-1000)}`);
    if (performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server was not ready within 10 s: ${r.output.slice(-1000)}`);
    }
    await sleep(20);
  }
  r.version = /version=([\d.]+)/.exec(r.output)?.[1] ?? /v=([\d.]+)/.exec(r.output)?.[1];
  return r;
}

/** SIGTERM (Redis flushes and fsyncs the AOF and exits 0); anything else is a problem. */
async function stopRedis(r) {
  if (!r.exited) {
    r.child.kill('SIGTERM');
    const timedOut = await Promise.race([r.exitPromise.then(() => false), new Promise((res) => setTimeout(() => res(true), 30_000).unref())]);
    if (timedOut) {
      r.child.kill('SIGKILL');
      await r.exitPromise;
      problems.push('redis-server did not exit within 30 s of SIGTERM');
      return;
    }
  }
  if (r.exitCode !== 0) problems.push(`redis-server exited with code ${r.exitCode} (signal ${r.signal}): ${r.output.slice(-500)}`);
  // Redis's own WARNING lines (overcommit, THP …) are kept with the results (they concern the host, not asyncinfer).
  r.logWarnings = r.output.split('\n').filter((l) => /# WARNING/.test(l)).slice(0, 20);
  for (const l of r.logWarnings) log(`redis-server warned: ${l.slice(0, 300)}`);
}

async function redisSettings(client) {
  const names = ['appendonly', 'appendfsync', 'save', 'appenddirname', 'aof-use-rdb-preamble', 'auto-aof-rewrite-percentage',
    'auto-aof-rewrite-min-size', 'no-appendfsync-on-rewrite', 'io-threads', 'maxmemory'];
  const out = {};
  for (const name of names) {
    const [, value] = await client.config('GET', name);
    out[name] = value;
  }
  return out;
}

/** The INFO fields that say what persistence did during the run. */
async function redisInfo(client) {
  const text = await client.info();
  const get = (k) => new RegExp(`^${k}:(.*)$`, 'm').exec(text)?.[1]?.trim();
  return {
    usedMemoryHuman: get('used_memory_human'),
    aofEnabled: get('aof_enabled'),
    aofRewrites: Number(get('aof_rewrites')),
    aofLastWriteStatus: get('aof_last_write_status'),
    aofLastBgrewriteStatus: get('aof_last_bgrewrite_status'),
    aofDelayedFsync: Number(get('aof_delayed_fsync')),
    aofCurrentSizeBytes: Number(get('aof_current_size')),
    totalCommandsProcessed: Number(get('total_commands_processed')),
    keys: get('db0'),
  };
}

/** Calls per command name so far (INFO commandstats; commands run inside Lua scripts are counted under their own names). */
async function commandStats() {
  const out = {};
  for (const m of (await admin.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]] = Number(m[2]);
  return out;
}

/** Calls per command since `before`, per `per` (requests or invocations), biggest first; this script's own INFO and polls excluded. */
function commandsSince(before, after, per, own = {}) {
  const rows = Object.entries(after).map(([cmd, n]) => [cmd, n - (before[cmd] ?? 0) - (own[cmd] ?? 0)]).filter(([, n]) => n > 0);
  rows.sort((a, b) => b[1] - a[1]);
  return Object.fromEntries(rows.map(([cmd, n]) => [cmd, round(n / per, 3)]));
}

async function aofState() {
  const text = await admin.info('persistence');
  const get = (k) => Number(new RegExp(`^${k}:(\\d+)`, 'm').exec(text)?.[1]);
  return { rewrites: get('aof_rewrites'), inProgress: get('aof_rewrite_in_progress') === 1, scheduled: get('aof_rewrite_scheduled') === 1, sizeBytes: get('aof_current_size') };
}

/** Call at the start of a measured window; the returned function, at its end, warns when an AOF rewrite ran inside it. */
async function watchAof(name) {
  const before = await aofState();
  return async () => {
    const after = await aofState();
    const n = after.rewrites - before.rewrites + (after.inProgress ? 1 : 0);
    if (n > 0) {
      warnings.push(`${name}: an AOF rewrite ran during the measured window (fork + rewrite on the same cores); figures perturbed`);
      log(`[${name}] WARNING: an AOF rewrite ran during the measured window`);
    }
    return n;
  };
}

function commandsText(perItem) {
  return Object.entries(perItem).filter(([, n]) => n >= 0.01).map(([cmd, n]) => `${cmd} ${n}`).join(', ');
}

// ---------------------------------------------------------------------------------------------
// accept

/** The baseline: ACCEPT_COUNT minimal durable enqueues, written by this process, 64 at a time. */
async function runRawAccept() {
  const name = 'raw accept';
  const connections = [];
  for (let i = 0; i < Math.ceil(CONNECTIONS / WRITERS_PER_CONNECTION); i++) {
    const c = new Redis({ port: redis.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1, connectionName: `bench-raw-${i}` });
    await c.connect();
    connections.push(c);
  }
  let nextId = 0;
  const write = async (conn) => {
    const id = `a${nextId++}`;
    const t = Date.now();
    const replies = await conn.multi()
      .hset(RAW.inv(id), 'payload', BODY, 'endpoint', ACCEPT_ENDPOINT, 'state', 'queued', 'receivedAtMs', t, 'expiresAtMs', t + 21_600_000)
      .zadd(RAW.queued(ACCEPT_ENDPOINT), t, id)
      .incr(RAW.seq)
      .exec();
    for (const [err] of replies) if (err) throw err;
  };
  /** `total` writes, CONNECTIONS writers, each one at a time; resolves with per-write latencies (ms). */
  const run = async (total) => {
    let started = 0;
    const latencies = [];
    let errors = 0;
    let firstError;
    const writer = async (i) => {
      const conn = connections[Math.floor(i / WRITERS_PER_CONNECTION)];
      while (started < total) {
        started++;
        const t = performance.now();
        try {
          await write(conn);
          latencies.push(performance.now() - t);
        } catch (err) {
          errors++;
          firstError ??= err;
        }
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => writer(i)));
    return { seconds: (performance.now() - t0) / 1000, latencies, errors, firstError };
  };
  try {
    await quietCheck(name, warnings);
    if (WARMUP > 0) {
      log(`\n[${name}] warm-up ${fmt(WARMUP)} writes (not counted) …`);
      const w = await run(WARMUP);
      if (w.errors > 0) problems.push(`${name} warm-up: ${w.errors} errors, first: ${w.firstError?.message}`);
    }
    log(`[${name}] ${fmt(ACCEPT_COUNT)} × MULTI{HSET ${BODY_BYTES} B payload, ZADD, INCR}EXEC, ${CONNECTIONS} writers on ${connections.length} connections …`);
    const before = await admin.zcard(RAW.queued(ACCEPT_ENDPOINT));
    const aofEnd = await watchAof(name);
    const cpuBefore = cpuSnapshot([redis.child.pid]);
    const r = await run(ACCEPT_COUNT);
    const cpu = cpuSince(cpuBefore, [redis.child.pid]);
    const aofRewrites = await aofEnd();
    noisy(name, cpu?.other, warnings);
    const after = await admin.zcard(RAW.queued(ACCEPT_ENDPOINT));
    if (r.errors > 0) problems.push(`${name}: ${r.errors} errors, first: ${r.firstError?.message}`);
    if (after - before !== ACCEPT_COUNT) problems.push(`${name}: the sorted set grew by ${after - before}, expected ${ACCEPT_COUNT}`);
    const rate = round(ACCEPT_COUNT / r.seconds);
    const latencyMs = percentiles(r.latencies);
    log(`[${name}] ${fmt(rate)} writes/s (${fmt(ACCEPT_COUNT)} in ${r.seconds.toFixed(2)} s), p50 ${latencyMs.p50} ms, p99 ${latencyMs.p99} ms, ${r.errors} errors`);
    log(`[${name}] CPU, in cores busy: redis-server ${c2(cpu?.children[0])}, this process (the writers) ${c2(cpu?.self)}, other ${c2(cpu?.other)}, machine ${c2(cpu?.machine)} of ${machine.cpuCount}`);
    return {
      requestsPerSecond: rate,
      seconds: round(r.seconds, 3),
      latencyMs,
      writes: ACCEPT_COUNT,
      errors: r.errors,
      connections: connections.length,
      writers: CONNECTIONS,
      aofRewritesDuringRun: aofRewrites,
      cpuCores: cpu && { redis: cpu.children[0], benchProcess: cpu.self, other: cpu.other, machine: cpu.machine },
    };
  } finally {
    await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
  }
}

function acceptConfig(extra) {
  return {
    ...extra,
    endpoints: [
      {
        name: ACCEPT_ENDPOINT,
        model: { command: [process.execPath, CONTROL_MODEL] },
        instances: { initial: 0 },
        asyncInferenceConfig: {
          OutputConfig: { S3OutputPath: `s3://${BUCKET}/accept-out`, S3FailurePath: `s3://${BUCKET}/accept-fail` },
          ClientConfig: { MaxConcurrentInvocationsPerInstance: 4 },
        },
      },
      ...(extra.endpoints ?? []),
    ],
  };
}

async function startAsyncinferRedis() {
  const modelPort = await freePort();
  const dataDir = path.join(work, 'data-redis');
  const configFile = path.join(work, 'config-redis.json');
  writeFileSync(configFile, JSON.stringify(acceptConfig({
    queue: { type: 'redis', url: `redis://127.0.0.1:${redis.port}` },
    endpoints: [{
      name: DRAIN_ENDPOINT,
      model: { url: `http://127.0.0.1:${modelPort}` },
      asyncInferenceConfig: {
        OutputConfig: { S3OutputPath: `s3://${BUCKET}/${OUTPUT_PREFIX}` },
        ClientConfig: { MaxConcurrentInvocationsPerInstance: CONCURRENCY },
      },
    }],
  }), null, 2));
  const profileArgs = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `asyncinfer-${process.pid}.cpuprofile`] : [];
  const server = await startChild('asyncinfer (redis)', [...profileArgs, SERVER_MAIN, 'serve', '--config', configFile, '--role', 'all',
    '--port', '0', '--s3-port', '0', '--data-dir', dataDir, '--log-level', 'info'],
  asyncinferListening);
  Object.assign(server, { modelPort, dataDir });
  server.onLine = (line) => {
    if (line.msg === 'model URL ready' && server.modelReadyAt === undefined) server.modelReadyAt = performance.now();
  };
  return server;
}

async function runSqliteAccept() {
  const dataDir = path.join(work, 'data-sqlite');
  const configFile = path.join(work, 'config-sqlite.json');
  writeFileSync(configFile, JSON.stringify(acceptConfig({}), null, 2));
  const server = await startChild('asyncinfer (sqlite)', [SERVER_MAIN, 'serve', '--config', configFile,
    '--port', '0', '--s3-port', '0', '--data-dir', dataDir, '--log-level', 'info'],
  asyncinferListening);
  let r;
  try {
    r = await runAccept('asyncinfer on SQLite', server, ACCEPT_ENDPOINT);
  } finally {
    await stopChild(server);
  }
  // As bench/ingest.mjs: every 202 must be a row (counted after the server stopped).
  const db = new Database(path.join(dataDir, 'queue.db'), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT count(*) AS n FROM invocations WHERE state = 'queued'").get().n;
    r.durability = { queuedRows: rows, all202: r.all202, ok: rows >= r.all202 };
    if (!r.durability.ok) problems.push(`asyncinfer on SQLite: ${rows} queued rows but ${r.all202} × 202`);
  } finally {
    db.close();
  }
  return r;
}

/** Pre-flight, warm-up, then ACCEPT_COUNT requests over 64 connections: every answer must be 202. One signed request, sent every time. */
async function runAccept(name, server, endpoint) {
  const url = `${server.url}/endpoints/${endpoint}/async-invocations`;
  const headers = await signedHeaders({ url, method: 'POST', headers: HEADERS, body: BODY });
  await quietCheck(name, warnings);
  const res = await fetch(url, { method: 'POST', headers, body: BODY });
  const text = await res.text();
  if (res.status !== 202 || !JSON.parse(text).InferenceId) throw new Error(`${name} answered the pre-flight request with ${res.status} ${text.slice(0, 300)}`);
  let warm202 = 0;
  if (WARMUP > 0) {
    log(`\n[${name}] warm-up ${fmt(WARMUP)} requests (not counted) …`);
    const { result: w } = await load({ url, method: 'POST', headers, body: BODY, connections: Math.min(CONNECTIONS, WARMUP), amount: WARMUP });
    const bad = trouble(w, 202, WARMUP);
    if (bad) problems.push(`${name} warm-up: ${bad}`);
    warm202 = w.statusCodeStats['202']?.count ?? 0;
  }
  log(`[${name}] POST ${new URL(url).pathname} × ${fmt(ACCEPT_COUNT)}, ${CONNECTIONS} connections …`);
  const pids = [server.child.pid, redis.child.pid];
  const onRedis = name.includes('Redis');
  const commandsBefore = onRedis ? await commandStats() : undefined;
  const aofEnd = await watchAof(name);
  const cpuBefore = cpuSnapshot(pids);
  const w0 = process.hrtime.bigint();
  const { result: r, seconds } = await load({ url, method: 'POST', headers, body: BODY, connections: CONNECTIONS, amount: ACCEPT_COUNT });
  if (onRedis) windows.accept = { startMicros: Number(w0 / 1000n), endMicros: Number(process.hrtime.bigint() / 1000n) };
  const cpu = cpuSince(cpuBefore, pids);
  const aofRewrites = await aofEnd();
  const redisCommands = onRedis ? commandsSince(commandsBefore, await commandStats(), ACCEPT_COUNT, { info: 3 }) : undefined;
  noisy(name, cpu?.other, warnings);
  reportTrouble(name, trouble(r, 202, ACCEPT_COUNT), problems);
  if (server.exited) problems.push(`${name}: the server exited during the run (code ${server.exitCode}, signal ${server.signal})`);
  const s202 = r.statusCodeStats['202']?.count ?? 0;
  const rate = round(ACCEPT_COUNT / seconds);
  log(`[${name}] ${fmt(rate)} req/s (${fmt(ACCEPT_COUNT)} in ${seconds.toFixed(2)} s), p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ` +
    `${fmt(s202)} × 202, ${r.non2xx} non-2xx, ${r.errors} errors`);
  log(`[${name}] CPU, in cores busy: asyncinfer ${c2(cpu?.children[0])}, redis-server ${c2(cpu?.children[1])}, load generator ${c2(cpu?.self)}, ` +
    `other ${c2(cpu?.other)}, machine ${c2(cpu?.machine)} of ${machine.cpuCount}` +
    (redisCommands === undefined ? '' : `\n[${name}] Redis commands per request (background work included): ${commandsText(redisCommands)}`));
  return {
    ...runFigures(url, rate, seconds, r),
    status202: s202,
    non202: r.requests.total - s202,
    statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats).map(([code, { count }]) => [code, count])),
    errors: r.errors,
    timeouts: r.timeouts,
    resets: r.resets,
    all202: 1 + warm202 + s202, // pre-flight + warm-up + measured
    redisCommandsPerRequest: redisCommands,
    aofRewritesDuringRun: aofRewrites,
    cpuCores: cpu && { asyncinfer: cpu.children[0], redis: cpu.children[1], loadGenerator: cpu.self, other: cpu.other, machine: cpu.machine },
  };
}

/** Every 202 must be in the endpoint's queued sorted set (nothing runs on that endpoint). */
async function checkRedisAccept(run) {
  const queued = await admin.zcard(K.queued(ACCEPT_ENDPOINT));
  const ok = queued >= run.all202;
  log(`[asyncinfer on Redis] ${ok ? 'OK' : '!!! FAILED'}: ${fmt(queued)} in ${K.queued(ACCEPT_ENDPOINT)}, ${fmt(run.all202)} × 202 received (pre-flight + warm-up + measured)`);
  if (!ok) problems.push(`asyncinfer on Redis: ${queued} invocations in ${K.queued(ACCEPT_ENDPOINT)} but ${run.all202} × 202`);
  return { queuedInRedis: queued, all202: run.all202, ok };
}

// ---------------------------------------------------------------------------------------------
// drain

async function backlogOf(endpoint) {
  const [[e1, queued], [e2, running]] = await admin.pipeline().zcard(K.queued(endpoint)).hget(K.running, endpoint).exec();
  if (e1 || e2) throw e1 ?? e2;
  return { queued, running: Number(running ?? 0) };
}

/** asyncinfer on Redis draining N invocations into the null model. */
async function runDrain(server) {
  const modelUrl = `http://127.0.0.1:${server.modelPort}`;
  log(`\n[drain] enqueueing ${fmt(COUNT)} invocations to endpoint "${DRAIN_ENDPOINT}" (${CONNECTIONS} connections) while nothing listens on ${modelUrl} …`);
  const enqueued = await enqueueAll({
    url: `${server.url}/endpoints/${DRAIN_ENDPOINT}/async-invocations`, body: BODY, headers: HEADERS, connections: CONNECTIONS, count: COUNT,
  });
  const before = await backlogOf(DRAIN_ENDPOINT);
  if (before.queued !== COUNT || before.running !== 0) {
    throw new Error(`before the model started, Redis should hold ${COUNT} queued and 0 running for "${DRAIN_ENDPOINT}", but holds ${JSON.stringify(before)}`);
  }
  if (server.modelReadyAt !== undefined) throw new Error('asyncinfer reported the model ready before it was started');
  await quietCheck('drain', warnings);

  log(`[drain] starting the null model on ${modelUrl}; draining with MaxConcurrentInvocationsPerInstance ${CONCURRENCY} …`);
  const t0 = performance.now();
  const w0 = process.hrtime.bigint();
  const modelPromise = children.startNullModel('null model (drain)', server.modelPort);
  modelPromise.then((m) => {
    m.listeningAt = performance.now();
  }, () => undefined);
  const pids = [server.child.pid, redis.child.pid];
  const cpuBefore = cpuSnapshot(pids);
  const commandsBefore = await commandStats();
  const aofEnd = await watchAof('drain');
  // `running` drops only once the outcome is recorded, after its object is written.
  const { samples, tEnd, tEndHr, polls } = await pollDrain({
    count: COUNT, t0, pollMs: POLL_MS, stallMs: STALL_MS, server, backlog: () => backlogOf(DRAIN_ENDPOINT),
    stallDetail: ({ queued, running }) => `queued ${queued}, running ${running}`,
  });
  windows.drain = { startMicros: Number(w0 / 1000n), endMicros: Number(tEndHr / 1000n) };
  const cpu = cpuSince(cpuBefore, pids);
  const aofRewrites = await aofEnd();
  const redisCommands = commandsSince(commandsBefore, await commandStats(), COUNT, { info: 3, zcard: polls, hget: polls });
  const model = await modelPromise;
  const seconds = (tEnd - t0) / 1000;
  const modelCores = lifetimeCores(model.child.pid, tEnd - t0);
  if (cpu && modelCores !== undefined) cpu.other = round(Math.max(0, cpu.other - modelCores), 2);
  noisy('drain', cpu?.other, warnings);

  const outputs = countFiles(path.join(server.dataDir, 's3', BUCKET, OUTPUT_PREFIX));
  if (outputs !== COUNT) problems.push(`drain: ${fmt(outputs)} objects under s3/${BUCKET}/${OUTPUT_PREFIX}/, expected ${fmt(COUNT)}`);
  const leftoverTmp = countFiles(path.join(server.dataDir, 's3', '.tmp'));
  if (leftoverTmp > 0) problems.push(`drain: ${leftoverTmp} temporary files left in s3/.tmp/`);
  const rate = round(COUNT / seconds);
  const fromReady = server.modelReadyAt !== undefined && tEnd > server.modelReadyAt ? round(COUNT / ((tEnd - server.modelReadyAt) / 1000)) : undefined;
  const steady = steadyRate(samples, COUNT);
  const r = {
    requestsPerSecond: rate,
    seconds: round(seconds, 3),
    modelListeningAfterSeconds: model.listeningAt === undefined ? undefined : round((model.listeningAt - t0) / 1000, 3),
    modelReadyAfterSeconds: server.modelReadyAt === undefined ? undefined : round((server.modelReadyAt - t0) / 1000, 3),
    requestsPerSecondFromModelReady: fromReady,
    requestsPerSecondBetween10And90Percent: steady,
    outputObjects: outputs,
    redisCommandsPerInvocation: redisCommands,
    aofRewritesDuringRun: aofRewrites,
    enqueue: enqueueFigures(enqueued, COUNT),
    cpuCores: cpu && { asyncinfer: cpu.children[0], redis: cpu.children[1], model: modelCores, benchProcess: cpu.self, other: cpu.other, machine: cpu.machine },
    progress: thinSamples(samples),
  };
  log(`[drain] ${drainTimesText(rate, COUNT, seconds, r)}`);
  log(`[drain] ${drainRatesText(fromReady, steady)}; ${fmt(outputs)} output objects`);
  log(`[drain] Redis commands per invocation (background work included): ${commandsText(redisCommands)}`);
  log(`[drain] CPU, in cores busy: asyncinfer ${c2(cpu?.children[0])}, redis-server ${c2(cpu?.children[1])}, model ${c2(modelCores)}, ` +
    `this process (polling) ${c2(cpu?.self)}, other ${c2(cpu?.other)}, machine ${c2(cpu?.machine)} of ${machine.cpuCount}`);
  return r;
}

/** The state of every invocation hash asyncinfer left in Redis, by endpoint (after the drain; not timed). */
async function finalStates() {
  const byEndpoint = {};
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', K.invPattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length === 0) continue;
    const pipe = admin.pipeline();
    for (const key of keys) pipe.hmget(key, 'endpoint', 'state');
    for (const [err, [ep, state]] of await pipe.exec()) {
      if (err) throw err;
      const e = (byEndpoint[ep ?? '?'] ??= {});
      e[state ?? '?'] = (e[state ?? '?'] ?? 0) + 1;
    }
  } while (cursor !== '0');
  return byEndpoint;
}

function checkFinalStates(states) {
  if (!states || !drain.asyncinfer) return;
  const d = states[DRAIN_ENDPOINT] ?? {};
  const completed = d.completed ?? 0;
  const others = Object.fromEntries(Object.entries(d).filter(([s]) => s !== 'completed'));
  log(`[drain] final states in Redis for "${DRAIN_ENDPOINT}": ${fmt(completed)} completed` +
    (Object.keys(others).length ? `, others ${JSON.stringify(others)} !!!` : ', nothing else'));
  if (completed !== COUNT || Object.keys(others).length > 0) problems.push(`drain: ${completed} of ${COUNT} invocations completed; others: ${JSON.stringify(others)}`);
  const a = states[ACCEPT_ENDPOINT] ?? {};
  if (Object.keys(a).some((s) => s !== 'queued')) problems.push(`accept endpoint: invocations left the queued state though nothing runs them: ${JSON.stringify(a)}`);
}

/** The baseline: N items leased and completed by this process in Redis, C workers on one connection. */
async function runRawDrain() {
  const name = 'raw drain';
  const conn = new Redis({ port: redis.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1, connectionName: 'bench-raw-drain' });
  await conn.connect();
  try {
    log(`\n[${name}] loading ${fmt(COUNT)} items into ${RAW.queued(DRAIN_ENDPOINT)} (not timed) …`);
    const t = Date.now();
    for (let i = 0; i < COUNT; i += 500) {
      const pipe = conn.pipeline();
      for (let j = i; j < Math.min(COUNT, i + 500); j++) {
        const id = `d${j}`;
        pipe.hset(RAW.inv(id), 'payload', BODY, 'endpoint', DRAIN_ENDPOINT, 'state', 'queued', 'attempts', 0, 'seq', j, 'receivedAtMs', t)
          .zadd(RAW.queued(DRAIN_ENDPOINT), j, id);
      }
      for (const [err] of await pipe.exec()) if (err) throw err;
    }
    if (await conn.zcard(RAW.queued(DRAIN_ENDPOINT)) !== COUNT) throw new Error(`${name}: the sorted set does not hold ${COUNT} items`);
    await quietCheck(name, warnings);
    log(`[${name}] ${CONCURRENCY} workers, per item: ZPOPMIN; MULTI{HSET running, HINCRBY, ZADD leases, HINCRBY running, HGET payload}EXEC; ` +
      'MULTI{HSET completed, HDEL payload, ZREM leases, HINCRBY running -1}EXEC …');
    let done = 0;
    let errors = 0;
    let firstError;
    const worker = async (w) => {
      for (;;) {
        try {
          const popped = await conn.zpopmin(RAW.queued(DRAIN_ENDPOINT));
          if (popped.length === 0) return;
          const id = popped[0];
          const key = RAW.inv(id);
          const now = Date.now();
          const leased = await conn.multi()
            .hset(key, 'state', 'running', 'leaseOwner', `w${w}`, 'leaseExpiresAtMs', now + 30_000, 'startedAtMs', now)
            .hincrby(key, 'attempts', 1)
            .zadd(RAW.leases, now + 30_000, id)
            .hincrby(RAW.running, DRAIN_ENDPOINT, 1)
            .hget(key, 'payload')
            .exec();
          if (leased.some(([err]) => err) || leased[4][1]?.length !== BODY_BYTES) throw leased.find(([err]) => err)?.[0] ?? new Error(`no payload for ${id}`);
          const completed = await conn.multi()
            .hset(key, 'state', 'completed', 'finishedAtMs', Date.now())
            .hdel(key, 'payload', 'leaseOwner', 'leaseExpiresAtMs')
            .zrem(RAW.leases, id)
            .hincrby(RAW.running, DRAIN_ENDPOINT, -1)
            .exec();
          if (completed.some(([err]) => err)) throw completed.find(([err]) => err)[0];
          done++;
        } catch (err) {
          errors++;
          firstError ??= err;
          if (errors > 100) return;
        }
      }
    };
    const aofEnd = await watchAof(name);
    const cpuBefore = cpuSnapshot([redis.child.pid]);
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuSince(cpuBefore, [redis.child.pid]);
    const aofRewrites = await aofEnd();
    noisy(name, cpu?.other, warnings);
    const running = Number(await conn.hget(RAW.running, DRAIN_ENDPOINT) ?? 0);
    if (errors > 0) problems.push(`${name}: ${errors} errors, first: ${firstError?.message}`);
    if (done !== COUNT || running !== 0) problems.push(`${name}: ${done} of ${COUNT} items completed, running counter ${running}`);
    const rate = round(COUNT / seconds);
    log(`[${name}] ${fmt(rate)} items/s (${fmt(done)} in ${seconds.toFixed(2)} s), ${errors} errors`);
    log(`[${name}] CPU, in cores busy: redis-server ${c2(cpu?.children[0])}, this process (the workers) ${c2(cpu?.self)}, other ${c2(cpu?.other)}, machine ${c2(cpu?.machine)} of ${machine.cpuCount}`);
    return {
      requestsPerSecond: rate,
      seconds: round(seconds, 3),
      completed: done,
      errors,
      workers: CONCURRENCY,
      aofRewritesDuringRun: aofRewrites,
      cpuCores: cpu && { redis: cpu.children[0], benchProcess: cpu.self, other: cpu.other, machine: cpu.machine },
    };
  } finally {
    await conn.quit().catch(() => conn.disconnect());
  }
}

/** The model called directly: N requests over C connections. */
async function runDirect() {
  const { url, responses, timeouts, resets, ...r } = await runDirectLoad({ children, body: BODY, concurrency: CONCURRENCY, count: COUNT, warmup: WARMUP, cpuCount: machine.cpuCount, problems, warnings });
  return r;
}

// ---------------------------------------------------------------------------------------------
// helpers

function percentiles(values) {
  const sorted = Float64Array.from(values).sort();
  const at = (q) => (sorted.length ? round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))], 2) : undefined);
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) };
}

/** Which code ran: the commit, whether src/ differs from it, and when dist/ was built (the server runs dist/). */
function codeVersion() {
  const git = (...args) => {
    try {
      return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return undefined;
    }
  };
  let distBuiltAt;
  try {
    distBuiltAt = statSync(SERVER_MAIN).mtime.toISOString();
  } catch { /* reported as unknown */ }
  const status = git('status', '--porcelain', '--', 'src');
  return { commit: git('rev-parse', '--short', 'HEAD'), srcChanged: status === undefined ? undefined : status !== '', distBuiltAt };
}

// ---- profile ----

/**
 * asyncinfer's profile covers its whole life; V8's sample timestamps and process.hrtime() both read
 * CLOCK_MONOTONIC on Linux, so each measured window taken in this process cuts its samples out.
 */
function summarizeProfiles() {
  const file = readdirSync(profileDir).find((f) => f.startsWith('asyncinfer-') && f.endsWith('.cpuprofile') && !/-(accept|drain)\.cpuprofile$/.test(f));
  if (!file) {
    log('\n(no CPU profile was written for asyncinfer)');
    return undefined;
  }
  const whole = JSON.parse(readFileSync(path.join(profileDir, file), 'utf8'));
  const out = { wholeProfile: path.relative(ROOT, path.join(profileDir, file)) };
  for (const [label, window] of Object.entries(windows)) {
    const keep = [];
    let t = whole.startTime;
    whole.samples.forEach((id, i) => {
      t += whole.timeDeltas[i];
      if (t >= window.startMicros && t <= window.endMicros) keep.push([id, t]);
    });
    if (keep.length <= 10) {
      log(`\n(the ${label} window does not match the profile clock; not cut out)`);
      continue;
    }
    const target = path.join(profileDir, `asyncinfer-${label}.cpuprofile`);
    writeFileSync(target, JSON.stringify({
      ...whole,
      startTime: keep[0][1],
      endTime: keep[keep.length - 1][1],
      samples: keep.map(([id]) => id),
      timeDeltas: keep.map(([, at], i) => (i === 0 ? 0 : at - keep[i - 1][1])),
    }));
    const summary = summarizeProfile(target, { root: ROOT });
    log(`\n==== CPU profile: asyncinfer on Redis during the ${label} (${path.relative(ROOT, target)}) ====`);
    printProfileSummary(summary, log);
    out[label] = { file: path.relative(ROOT, target), ...summary };
  }
  return out;
}

// ---- output ----

function printTables() {
  const a = accept;
  if (a.raw || a.asyncinfer || a.sqlite) {
    log(`\n==== accept: ${fmt(ACCEPT_COUNT)} requests, ${CONNECTIONS} concurrent, ${BODY_BYTES}-byte body, redis appendfsync ${APPENDFSYNC} ====`);
    const rows = [['', 'req/s', 'seconds', 'p50 ms', 'p99 ms', 'non-202', 'errors', 'CPU cores (server / redis)']];
    if (a.raw) rows.push(['raw Redis (MULTI HSET+ZADD+INCR)', fmt(a.raw.requestsPerSecond), a.raw.seconds.toFixed(2), String(a.raw.latencyMs.p50), String(a.raw.latencyMs.p99), '-', flagged(a.raw.errors), `- / ${c2(a.raw.cpuCores?.redis)}`]);
    if (a.asyncinfer) rows.push(['asyncinfer on Redis', fmt(a.asyncinfer.requestsPerSecond), a.asyncinfer.seconds.toFixed(2), String(a.asyncinfer.latencyMs.p50), String(a.asyncinfer.latencyMs.p99), flagged(a.asyncinfer.non202), flagged(a.asyncinfer.errors), `${c2(a.asyncinfer.cpuCores?.asyncinfer)} / ${c2(a.asyncinfer.cpuCores?.redis)}`]);
    if (a.sqlite) rows.push(['asyncinfer on SQLite (context)', fmt(a.sqlite.requestsPerSecond), a.sqlite.seconds.toFixed(2), String(a.sqlite.latencyMs.p50), String(a.sqlite.latencyMs.p99), flagged(a.sqlite.non202), flagged(a.sqlite.errors), `${c2(a.sqlite.cpuCores?.asyncinfer)} / -`]);
    printRows(rows);
    if (ratios.acceptOverRaw !== undefined) log(`\nratio asyncinfer-on-Redis accept / raw Redis writes: ${ratios.acceptOverRaw.toFixed(3)}   (informational, not asserted)`);
    if (ratios.redisAcceptOverSqliteAccept !== undefined) log(`ratio asyncinfer on Redis / asyncinfer on SQLite (accept): ${ratios.redisAcceptOverSqliteAccept.toFixed(3)}`);
  }
  const d = drain;
  if (d.asyncinfer || d.raw || d.direct) {
    log(`\n==== drain: ${fmt(COUNT)} items, concurrency ${CONCURRENCY}, redis appendfsync ${APPENDFSYNC} ====`);
    const rows = [['', 'per s', 'seconds', 'CPU cores (server / redis / model)']];
    if (d.raw) rows.push(['raw Redis lease + complete', fmt(d.raw.requestsPerSecond), d.raw.seconds.toFixed(2), `- / ${c2(d.raw.cpuCores?.redis)} / -`]);
    if (d.direct) rows.push(['direct (client → null model)', fmt(d.direct.requestsPerSecond), d.direct.seconds.toFixed(2), `- / - / ${c2(d.direct.cpuCores?.model)}`]);
    if (d.asyncinfer) rows.push(['asyncinfer on Redis drain', fmt(d.asyncinfer.requestsPerSecond), d.asyncinfer.seconds.toFixed(2), `${c2(d.asyncinfer.cpuCores?.asyncinfer)} / ${c2(d.asyncinfer.cpuCores?.redis)} / ${c2(d.asyncinfer.cpuCores?.model)}`]);
    printRows(rows);
    if (ratios.drainOverRaw !== undefined) log(`\nratio drain / raw Redis lease+complete: ${ratios.drainOverRaw.toFixed(3)}   (informational, not asserted)`);
    if (ratios.drainOverDirect !== undefined) log(`ratio drain / direct: ${ratios.drainOverDirect.toFixed(3)}   (informational, not asserted)`);
    if (d.asyncinfer) {
      log(`drain ${drainRatesText(d.asyncinfer.requestsPerSecondFromModelReady, d.asyncinfer.requestsPerSecondBetween10And90Percent)}`);
    }
  }
  if (redisAfter) {
    log(`\nredis-server at the end: ${redisAfter.usedMemoryHuman} used, AOF ${fmt(redisAfter.aofCurrentSizeBytes)} bytes, ${redisAfter.aofRewrites} AOF rewrite(s), ` +
      `last write ${redisAfter.aofLastWriteStatus}, delayed fsyncs ${redisAfter.aofDelayedFsync}`);
  }
}

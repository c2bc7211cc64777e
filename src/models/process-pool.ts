/**
 * Instances started by running `model.command`, one child process each, in its own process group
 * (so a model that forks helpers is stopped whole). Each slot keeps one instance alive: start,
 * wait for `/ping`, keep pinging, and replace it when it exits or stops answering. `resize` adds
 * slots, or drains and ends them (see the InstancePool contract).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import { freePort } from './free-port.js';
import type { Drainer, Instance, InstancePool, ReplacementCause } from './instance-pool.js';
import type { InstanceRegistry } from './orphans.js';
import { ping, UNHEALTHY_AFTER_FAILED_PINGS } from './ping.js';

export interface ProcessPoolOptions {
  endpointName: string;
  command: readonly string[];
  /** The image entry's and the model's variables; added to the minimal base (see modelBaseEnv). */
  env: Readonly<Record<string, string>>;
  /** What an instance starts from: `modelBaseEnv(server's environment)`, never the whole environment. */
  baseEnv: Readonly<Record<string, string>>;
  cwd: string;
  /** Instances started by `start`. */
  count: number;
  startupTimeoutMs: number;
  logger: Logger;
  registry: InstanceRegistry;
  pingIntervalMs?: number;
  /** SIGTERM, then SIGKILL after this long (SageMaker waits 30 s). */
  stopGraceMs?: number;
  /** An instance was lost (or never became ready) and its slot starts another. */
  onReplaced?: (cause: ReplacementCause) => void;
}

const STARTUP_PING_MS = 100;
/**
 * The most instances one pool runs, whatever a caller or a stored catalog entry asks: a backstop
 * under the configurable API limits, so no count (up to 2^53) starts a loop or a process per unit.
 * A start above it fails the endpoint; a resize above it is held at it.
 */
export const MAX_INSTANCES_PER_POOL = 1000;
const MAX_BACKOFF_MS = 30_000;

/** One place for an instance: it starts one, and another whenever that one is lost, until stopped. */
interface Slot {
  n: number;
  /** Ends this slot (its instance is stopped); the pool's own stop ends all. */
  end: AbortController;
  signal: AbortSignal;
  draining: boolean;
  /** The instance, while it answers /ping. */
  healthy?: Instance;
}

interface Lost {
  cause: ReplacementCause;
  reason: string;
}

export function createProcessPool(options: ProcessPoolOptions): InstancePool {
  const { logger } = options;
  const pingIntervalMs = options.pingIntervalMs ?? 5000;
  const stopGraceMs = options.stopGraceMs ?? 10_000;
  const events = new EventEmitter();
  const stopping = new AbortController();
  const slots = new Map<number, Slot>();
  const running = new Set<Promise<void>>();
  let generation = 0;
  const changed = () => events.emit('change');

  function addSlot(): void {
    // At most MAX_INSTANCES_PER_POOL slots, so this search is bounded too.
    let n = 1;
    while (slots.has(n)) n++;
    const end = new AbortController();
    const slot: Slot = { n, end, signal: AbortSignal.any([stopping.signal, end.signal]), draining: false };
    slots.set(n, slot);
    const done: Promise<void> = runSlot(slot)
      .catch((err: unknown) => logger.error({ err }, 'model instance supervisor failed'))
      .finally(() => {
        slots.delete(n);
        running.delete(done);
        changed();
      });
    running.add(done);
    changed();
  }

  /** Takes the slot out of service; ends it at once when it has no ready instance, else once idle. */
  async function drain(slot: Slot, drainer: Drainer): Promise<void> {
    slot.draining = true;
    changed();
    const instance = slot.healthy;
    if (instance) {
      logger.info({ instance: instance.id, running: drainer.load(instance.id) }, 'model instance draining');
      await drainer.idle(instance.id);
    }
    if (slot.draining) slot.end.abort();
  }

  async function runSlot(slot: Slot): Promise<void> {
    let failures = 0;
    const { signal } = slot;
    while (!signal.aborted) {
      const port = await freePort();
      const instance: Instance = { id: `${options.endpointName}-${slot.n}.${++generation}`, url: `http://127.0.0.1:${port}` };
      const log = logger.child({ instance: instance.id });
      const child = spawn(options.command[0]!, options.command.slice(1), {
        cwd: options.cwd,
        // HOST: instances are reached on loopback; a HOST exported in the user's shell must not move them.
        env: { ...options.baseEnv, HOST: '127.0.0.1', ...options.env, SAGEMAKER_BIND_TO_PORT: String(port), PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      const exited = new Promise<string>((resolve) => {
        child.once('exit', (code, sig) => resolve(sig ? `killed by ${sig}` : `exited with code ${code}`));
        child.once('error', (err) => resolve(`could not be started: ${err.message}`));
      });
      if (child.pid) options.registry.add(child.pid);
      forwardOutput(child, log);
      log.info({ port, pid: child.pid, command: options.command }, 'model instance starting');

      let lost = await waitUntilReady(instance.url, options.startupTimeoutMs, exited, signal);
      if (lost === undefined && !signal.aborted) {
        failures = 0;
        log.info('model instance ready');
        slot.healthy = instance;
        changed();
        lost = await watch(instance.url, exited, signal);
        slot.healthy = undefined;
        changed();
      }
      await stopChild(child, exited);
      if (child.pid) options.registry.remove(child.pid);
      if (signal.aborted) {
        log.info('model instance stopped');
        return;
      }
      // Lost while draining: it was going away anyway.
      if (slot.draining) return;
      log.warn({ reason: lost!.reason, cause: lost!.cause }, 'model instance lost; replacing it');
      options.onReplaced?.(lost!.cause);
      failures++;
      const backoffMs = Math.min(MAX_BACKOFF_MS, 500 * 2 ** (failures - 1));
      await sleep(backoffMs, undefined, { signal }).catch(() => undefined);
    }
  }

  /** Undefined once /ping answers 200; otherwise why it never did. */
  async function waitUntilReady(url: string, timeoutMs: number, exited: Promise<string>, signal: AbortSignal): Promise<Lost | undefined> {
    const deadline = Date.now() + timeoutMs;
    let exit: string | undefined;
    void exited.then((why) => { exit = why; });
    while (!signal.aborted) {
      if (exit !== undefined) return { cause: 'exited', reason: `it ${exit} before answering GET /ping` };
      if (await ping(url, 2000)) return undefined;
      if (Date.now() > deadline) {
        return { cause: 'startup-timeout', reason: `GET /ping did not answer 200 within ${Math.round(timeoutMs / 1000)} s (model.startupTimeoutSeconds)` };
      }
      await sleep(STARTUP_PING_MS, undefined, { signal }).catch(() => undefined);
    }
    return { cause: 'exited', reason: 'stopping' };
  }

  /** Resolves when the instance exits or fails UNHEALTHY_AFTER_FAILED_PINGS pings in a row (or the slot ends). */
  async function watch(url: string, exited: Promise<string>, signal: AbortSignal): Promise<Lost> {
    let failed = 0;
    for (;;) {
      const tick = sleep(pingIntervalMs, 'tick' as const, { signal }).catch(() => 'stop' as const);
      const next = await Promise.race([tick, exited]);
      if (next === 'stop') return { cause: 'exited', reason: 'stopping' };
      if (next !== 'tick') return { cause: 'exited', reason: `it ${next}` };
      failed = (await ping(url, 2000)) ? 0 : failed + 1;
      if (failed >= UNHEALTHY_AFTER_FAILED_PINGS) return { cause: 'unhealthy', reason: `it failed ${failed} health checks (GET /ping) in a row` };
    }
  }

  async function stopChild(child: ChildProcess, exited: Promise<string>): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
    signalGroup(child.pid, 'SIGTERM');
    const done = await Promise.race([exited.then(() => true), sleep(stopGraceMs, false, { ref: false })]);
    if (!done) {
      logger.warn({ pid: child.pid }, `model instance ignored SIGTERM for ${stopGraceMs} ms; sending SIGKILL`);
      signalGroup(child.pid, 'SIGKILL');
      await exited;
    }
  }

  const serving = () => [...slots.values()].filter((s) => !s.draining && !s.end.signal.aborted);

  return {
    async start() {
      if (!Number.isSafeInteger(options.count) || options.count < 0 || options.count > MAX_INSTANCES_PER_POOL) {
        throw new AppError('ValidationException',
          `The instance count ${options.count} cannot be honoured: this server runs at most ${MAX_INSTANCES_PER_POOL} instances per endpoint.`);
      }
      for (let i = 0; i < options.count; i++) addSlot();
    },
    async stop() {
      stopping.abort();
      await Promise.all(running);
    },
    ready: () => serving().flatMap((s) => (s.healthy ? [s.healthy] : [])),
    counts() {
      const active = serving();
      const ready = active.filter((s) => s.healthy).length;
      return { starting: active.length - ready, ready, draining: slots.size - active.length };
    },
    resize(wanted, drainer) {
      if (stopping.signal.aborted) return;
      const count = wanted >= 0 ? Math.min(Math.floor(wanted), MAX_INSTANCES_PER_POOL) : 0;
      if (count !== wanted) logger.warn({ wanted, count }, `instance count ${wanted} cannot be honoured; holding ${count} (at most ${MAX_INSTANCES_PER_POOL} per endpoint)`);
      const active = serving();
      if (count > active.length) {
        let missing = count - active.length;
        for (const slot of slots.values()) {
          if (missing === 0) break;
          if (slot.draining && !slot.end.signal.aborted) {
            slot.draining = false;
            missing--;
            logger.info({ instance: slot.healthy?.id }, 'model instance back in service');
            changed();
          }
        }
        for (; missing > 0; missing--) addSlot();
      } else if (count < active.length) {
        // Starting ones first (no work), then the least loaded; the highest slot first on a tie.
        const rank = (s: Slot) => (s.healthy ? 1 + drainer.load(s.healthy.id) : 0);
        const victims = active.sort((a, b) => rank(a) - rank(b) || b.n - a.n).slice(0, active.length - count);
        for (const slot of victims) void drain(slot, drainer);
      }
    },
    onChange(listener) {
      events.on('change', listener);
      return () => events.off('change', listener);
    },
  };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

function forwardOutput(child: ChildProcess, log: Logger): void {
  for (const [stream, name] of [[child.stdout, 'stdout'], [child.stderr, 'stderr']] as const) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => log.info({ stream: name }, line));
  }
}

/** Variables of the server's environment a model process gets; nothing else of it (keys, tokens, NODE_OPTIONS…) reaches a model. */
export const MODEL_BASE_ENV_NAMES = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'] as const;
/** PATH when the server has none. */
export const DEFAULT_MODEL_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The minimal environment a model process starts from: PATH (the server's, or a safe default),
 * HOME, LANG, LC_ALL, TZ and TMPDIR when set. The server's own settings and secrets (AWS keys,
 * ASYNCINFER_*, tokens) never reach a model; what else it needs comes from the operator's image
 * or endpoint entry (`env`) and the model's Environment.
 */
export function modelBaseEnv(hostEnv: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const env: Record<string, string> = { PATH: DEFAULT_MODEL_PATH };
  for (const name of MODEL_BASE_ENV_NAMES) {
    const value = hostEnv[name];
    if (value !== undefined && value !== '') env[name] = value;
  }
  return env;
}

/**
 * Instances started by running `model.command`, one child process each, in its own process group
 * (so a model that forks helpers is stopped whole). Each slot keeps one instance alive: start,
 * wait for `/ping`, keep pinging, and replace it when it exits or stops answering.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { freePort } from './free-port.js';
import type { Instance, InstancePool } from './instance-pool.js';
import type { InstanceRegistry } from './orphans.js';
import { ping, UNHEALTHY_AFTER_FAILED_PINGS } from './ping.js';

export interface ProcessPoolOptions {
  endpointName: string;
  command: readonly string[];
  env: Readonly<Record<string, string>>;
  cwd: string;
  count: number;
  startupTimeoutMs: number;
  logger: Logger;
  registry: InstanceRegistry;
  pingIntervalMs?: number;
  /** SIGTERM, then SIGKILL after this long (SageMaker waits 30 s). */
  stopGraceMs?: number;
}

const STARTUP_PING_MS = 100;
const MAX_BACKOFF_MS = 30_000;

export function createProcessPool(options: ProcessPoolOptions): InstancePool {
  const { logger } = options;
  const pingIntervalMs = options.pingIntervalMs ?? 5000;
  const stopGraceMs = options.stopGraceMs ?? 10_000;
  const events = new EventEmitter();
  const readyInstances = new Map<string, Instance>();
  const stopping = new AbortController();
  const slots: Promise<void>[] = [];
  let generation = 0;

  const setReady = (instance: Instance, ready: boolean) => {
    if (ready) readyInstances.set(instance.id, instance);
    else if (!readyInstances.delete(instance.id)) return;
    events.emit('change');
  };

  async function runSlot(slot: number): Promise<void> {
    let failures = 0;
    while (!stopping.signal.aborted) {
      const port = await freePort();
      const instance: Instance = { id: `${options.endpointName}-${slot}.${++generation}`, url: `http://127.0.0.1:${port}` };
      const log = logger.child({ instance: instance.id });
      const child = spawn(options.command[0]!, options.command.slice(1), {
        cwd: options.cwd,
        // HOST: instances are reached on loopback; a HOST exported in the user's shell must not move them.
        env: { ...process.env, HOST: '127.0.0.1', ...options.env, SAGEMAKER_BIND_TO_PORT: String(port), PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      const exited = new Promise<string>((resolve) => {
        child.once('exit', (code, signal) => resolve(signal ? `killed by ${signal}` : `exited with code ${code}`));
        child.once('error', (err) => resolve(`could not be started: ${err.message}`));
      });
      if (child.pid) options.registry.add(child.pid);
      forwardOutput(child, log);
      log.info({ port, pid: child.pid, command: options.command }, 'model instance starting');

      const startup = await waitUntilReady(instance.url, options.startupTimeoutMs, exited);
      if (startup === 'ready') {
        failures = 0;
        log.info('model instance ready');
        setReady(instance, true);
        const why = await watch(instance.url, exited);
        setReady(instance, false);
        if (!stopping.signal.aborted) log.warn({ reason: why }, 'model instance lost; replacing it');
      } else if (!stopping.signal.aborted) {
        log.error({ reason: startup }, 'model instance did not become ready');
      }
      await stopChild(child, exited);
      if (child.pid) options.registry.remove(child.pid);
      if (stopping.signal.aborted) return;
      failures++;
      const backoffMs = Math.min(MAX_BACKOFF_MS, 500 * 2 ** (failures - 1));
      await sleep(backoffMs, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
  }

  async function waitUntilReady(url: string, timeoutMs: number, exited: Promise<string>): Promise<'ready' | string> {
    const deadline = Date.now() + timeoutMs;
    let exit: string | undefined;
    void exited.then((why) => { exit = why; });
    while (!stopping.signal.aborted) {
      if (exit !== undefined) return `it ${exit} before answering GET /ping`;
      if (await ping(url, 2000)) return 'ready';
      if (Date.now() > deadline) return `GET /ping did not answer 200 within ${Math.round(timeoutMs / 1000)} s (model.startupTimeoutSeconds)`;
      await sleep(STARTUP_PING_MS, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
    return 'stopping';
  }

  /** Resolves with the reason when the instance exits or fails UNHEALTHY_AFTER_FAILED_PINGS pings in a row. */
  async function watch(url: string, exited: Promise<string>): Promise<string> {
    let failed = 0;
    for (;;) {
      const tick = sleep(pingIntervalMs, 'tick' as const, { signal: stopping.signal }).catch(() => 'stop' as const);
      const next = await Promise.race([tick, exited]);
      if (next === 'stop') return 'stopping';
      if (next !== 'tick') return `it ${next}`;
      failed = (await ping(url, 2000)) ? 0 : failed + 1;
      if (failed >= UNHEALTHY_AFTER_FAILED_PINGS) return `it failed ${failed} health checks (GET /ping) in a row`;
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

  return {
    async start() {
      for (let slot = 1; slot <= options.count; slot++) {
        slots.push(runSlot(slot).catch((err: unknown) => logger.error({ err }, 'model instance supervisor failed')));
      }
    },
    async stop() {
      stopping.abort();
      await Promise.all(slots);
    },
    ready: () => [...readyInstances.values()],
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

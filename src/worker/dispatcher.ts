/**
 * Dispatcher: keeps one endpoint's instances exactly as busy as MaxConcurrentInvocationsPerInstance
 * allows. Event driven: it leases whenever work may be queued (enqueue, release, reclaim) or a slot
 * may be free (an invocation finished, an instance became ready) — no polling interval.
 *
 * A slot is reserved on the least-loaded ready instance before the lease is taken, so the limit
 * holds however many leases are in flight. While an invocation runs its lease is extended; if the
 * lease is lost the run is abandoned. On stop, running invocations get `graceMs` to finish, then
 * are interrupted and returned to the queue.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Drainer, Instance, InstancePool } from '../models/index.js';
import type { InvocationQueue, Lease } from '../queue/index.js';
import { AbortReasons } from './run-invocation.js';

export interface DispatcherOptions {
  endpointName: string;
  maxConcurrencyPerInstance: number;
  queue: InvocationQueue;
  pool: InstancePool;
  run: (lease: Lease, instance: Instance, signal: AbortSignal) => Promise<void>;
  logger: Logger;
  leaseMs?: number;
}

/** Also the pool's Drainer: it knows what runs on each instance. */
export interface Dispatcher extends Drainer {
  start(): void;
  stop(graceMs: number): Promise<void>;
}

export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { endpointName, queue, pool, logger } = options;
  const leaseMs = options.leaseMs ?? 30_000;
  const inFlight = new Map<string, number>();
  /** Per instance: who waits for it to have nothing in flight (a drain). */
  const idleWaiters = new Map<string, (() => void)[]>();
  const running = new Set<{ done: Promise<void>; abort: AbortController }>();
  const unsubscribe: (() => void)[] = [];
  let stopping = false;
  let pumping = false;
  let pumpAgain = false;

  function freeInstance(): Instance | undefined {
    let best: Instance | undefined;
    let bestLoad = options.maxConcurrencyPerInstance;
    for (const instance of pool.ready()) {
      const load = inFlight.get(instance.id) ?? 0;
      if (load < bestLoad) {
        best = instance;
        bestLoad = load;
      }
    }
    return best;
  }

  const adjust = (instance: Instance, delta: number) => {
    const n = (inFlight.get(instance.id) ?? 0) + delta;
    if (n !== 0) {
      inFlight.set(instance.id, n);
      return;
    }
    inFlight.delete(instance.id);
    const waiters = idleWaiters.get(instance.id);
    idleWaiters.delete(instance.id);
    for (const resolve of waiters ?? []) resolve();
  };

  async function pump(): Promise<void> {
    if (pumping) {
      pumpAgain = true;
      return;
    }
    pumping = true;
    try {
      do {
        pumpAgain = false;
        for (let instance = freeInstance(); instance && !stopping; instance = freeInstance()) {
          adjust(instance, +1);
          let lease: Lease | undefined;
          try {
            lease = await queue.lease(endpointName, leaseMs);
          } catch (err) {
            adjust(instance, -1); // a failed lease (the queue store unreachable) must not keep its slot
            throw err;
          }
          if (!lease) {
            adjust(instance, -1);
            break;
          }
          launch(lease, instance);
        }
      } while (pumpAgain && !stopping);
    } catch (err) {
      logger.error({ err, endpoint: endpointName }, 'could not lease work; retrying shortly');
      void sleep(1000, undefined, { ref: false }).then(() => void pump());
    } finally {
      pumping = false;
    }
  }

  function launch(lease: Lease, instance: Instance): void {
    const abort = new AbortController();
    const heartbeat = setInterval(() => {
      queue.extend(lease, leaseMs).then((held) => {
        if (!held) abort.abort(AbortReasons.leaseLost);
      }, (err: unknown) => logger.warn({ err, id: lease.invocation.id }, 'could not extend a lease'));
    }, leaseMs / 3);
    const entry = {
      abort,
      done: options.run(lease, instance, abort.signal)
        .catch((err: unknown) => logger.error({ err, id: lease.invocation.id }, 'invocation run failed unexpectedly'))
        .finally(() => {
          clearInterval(heartbeat);
          adjust(instance, -1);
          running.delete(entry);
          void pump();
        }),
    };
    running.add(entry);
  }

  return {
    load: (instanceId) => inFlight.get(instanceId) ?? 0,
    idle(instanceId) {
      if (!inFlight.has(instanceId)) return Promise.resolve();
      return new Promise((resolve) => {
        const waiters = idleWaiters.get(instanceId) ?? [];
        waiters.push(resolve);
        idleWaiters.set(instanceId, waiters);
      });
    },
    start() {
      unsubscribe.push(queue.onAvailable((name) => {
        if (name === endpointName) void pump();
      }));
      unsubscribe.push(pool.onChange(() => void pump()));
      void pump();
    },
    async stop(graceMs) {
      stopping = true;
      for (const off of unsubscribe) off();
      const all = () => Promise.all([...running].map((r) => r.done));
      const finished = await Promise.race([all().then(() => true), sleep(graceMs, false, { ref: false })]);
      if (!finished) {
        logger.warn({ endpoint: endpointName, running: running.size }, 'shutdown grace period over; returning running invocations to the queue');
        for (const r of running) r.abort.abort(AbortReasons.shutdown);
        await all();
      }
    },
  };
}

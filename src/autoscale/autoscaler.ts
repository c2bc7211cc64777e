/**
 * The autoscaling loop: applies `decideScale` to every endpoint that has scaling settings, on a
 * timer and at once when work arrives for an endpoint at zero (the wake from zero: no alarm, no
 * tick to wait for). It owns the policy's state (when each endpoint last scaled out and in, when
 * its backlog was last above zero) and a monotonic clock; the endpoints own the count, and
 * `resize` applies it (instances start, or drain before they stop).
 *
 * One evaluation per endpoint at a time: a wake that arrives during a tick is folded into it, then
 * the endpoint is looked at again, so an enqueue racing a scale-to-zero still wakes it.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { decideScale, ScalingReason, type ScalingSettings } from './scaling-policy.js';

/** The endpoints as the autoscaler sees them: a count to read and to set. */
export interface ScalableEndpoints {
  names(): string[];
  get(name: string): { variantName: string; desiredInstances: number; scaling?: ScalingSettings | undefined } | undefined;
  resize(name: string, count: number): boolean | Promise<boolean>;
}

/** The backlog: the queue's counters (O(1)) and its "work may be queued" signal. */
export interface BacklogSignal {
  backlog(endpointName: string): Promise<{ queued: number; running: number }>;
  onAvailable(listener: (endpointName: string) => void): () => void;
}

export interface ScalingEvent {
  endpoint: string;
  variant: string;
  from: number;
  to: number;
  reason: ScalingReason;
  backlog: number;
  inFlight: number;
}

export interface AutoscalerOptions {
  endpoints: ScalableEndpoints;
  queue: BacklogSignal;
  logger: Logger;
  intervalMs: number;
  /** Every change of a desired count (metrics). */
  onScale?: (event: ScalingEvent) => void;
  /** Monotonic milliseconds; performance.now() by default. */
  now?: () => number;
}

export interface Autoscaler {
  start(): void;
  stop(): Promise<void>;
  /** Evaluates one endpoint now (and resolves when done); used by the timer and the wake. */
  evaluate(name: string): Promise<void>;
}

interface EndpointState {
  lastScaleOutAtMs?: number;
  lastScaleInAtMs?: number;
  backlogLastNonZeroAtMs: number;
  /** The evaluation running now, and whether another was asked for meanwhile. */
  running?: Promise<void>;
  again: boolean;
}

export function createAutoscaler(options: AutoscalerOptions): Autoscaler {
  const { endpoints, queue, logger } = options;
  const now = options.now ?? (() => performance.now());
  const states = new Map<string, EndpointState>();
  let timer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  let stopped = false;

  async function once(name: string, state: EndpointState): Promise<void> {
    const endpoint = endpoints.get(name);
    if (!endpoint?.scaling) return;
    const { queued, running } = await queue.backlog(name);
    const backlog = queued + running;
    const nowMs = now();
    if (backlog > 0) state.backlogLastNonZeroAtMs = nowMs;
    const desired = endpoint.desiredInstances;
    const decision = decideScale({
      settings: endpoint.scaling,
      observation: { backlog, inFlight: running, desired },
      lastScaleOutAtMs: state.lastScaleOutAtMs,
      lastScaleInAtMs: state.lastScaleInAtMs,
      backlogLastNonZeroAtMs: state.backlogLastNonZeroAtMs,
      nowMs,
    });
    if (decision.desired === desired || stopped) return;
    if (!(await endpoints.resize(name, decision.desired))) return;
    if (decision.desired > desired) state.lastScaleOutAtMs = nowMs;
    else state.lastScaleInAtMs = nowMs;
    const event: ScalingEvent = { endpoint: name, variant: endpoint.variantName, from: desired, to: decision.desired, reason: decision.reason, backlog, inFlight: running };
    logger.info(event, `scaling ${name} from ${desired} to ${decision.desired} instances (${decision.reason})`);
    options.onScale?.(event);
  }

  function evaluate(name: string): Promise<void> {
    let state = states.get(name);
    if (!state) states.set(name, (state = { backlogLastNonZeroAtMs: now(), again: false }));
    if (state.running) {
      state.again = true;
      return state.running;
    }
    const s = state;
    s.running = (async () => {
      do {
        s.again = false;
        try {
          await once(name, s);
        } catch (err) {
          logger.warn({ err, endpoint: name }, 'autoscaler could not read the backlog; trying again at the next tick');
        }
      } while (s.again && !stopped);
    })().finally(() => { s.running = undefined; });
    return s.running;
  }

  async function tick(): Promise<void> {
    const names = endpoints.names();
    // Endpoints gone since the last tick take their state with them (a new one starts afresh).
    for (const name of states.keys()) if (!names.includes(name)) states.delete(name);
    await Promise.all(names.map(evaluate));
  }

  return {
    start() {
      unsubscribe = queue.onAvailable((name) => {
        // Cheap on every enqueue: only an endpoint at zero is evaluated at once.
        const endpoint = endpoints.get(name);
        if (endpoint?.scaling && endpoint.desiredInstances === 0) void evaluate(name);
      });
      // Seeds every endpoint's idle timer now, so instances started with the server get a full window.
      void tick();
      timer = setInterval(() => void tick(), options.intervalMs);
      timer.unref();
    },
    async stop() {
      stopped = true;
      unsubscribe?.();
      clearInterval(timer);
      await Promise.all([...states.values()].map((s) => s.running));
    },
    evaluate,
  };
}

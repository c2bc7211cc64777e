/**
 * The delivery loop: claims due outbox entries and delivers each to its topic's targets, with
 * bounded concurrency. It wakes when entries are added (the outbox's event) and on a timer set
 * for the next due retry, so it neither polls busily nor sleeps past a due entry.
 *
 * One delivery round tries every target that does not have the event yet, in parallel, each
 * bounded by `timeoutMs`. A round with a failure is retried after an exponential backoff with
 * jitter; after `maxAttempts` rounds the entry is `failed`: counted in NotificationFailures,
 * logged once, and kept for replay. The loop never throws: it logs and tries again.
 *
 * Stop: no new claims; deliveries in flight get `stopGraceMs` (default: the attempt timeout, at
 * most 5 s) to finish, then are aborted and their entries released, due at the next start.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/index.js';
import { backoffMs } from './backoff.js';
import { errorText, type Deliverer, type DeliveryResult } from './deliverer.js';
import type { DeliveryAttempt, NotificationOutbox, OutboxClaim, Settlement } from './outbox.js';
import { targetKey, type NotificationTarget } from './targets.js';

export interface DeliveryPolicy {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** One attempt at one target: connect, send, answer. */
  timeoutMs: number;
}

export interface DeliveryLoopOptions {
  outbox: NotificationOutbox;
  targets: (topicArn: string) => readonly NotificationTarget[];
  deliverer: Deliverer;
  policy: DeliveryPolicy;
  metrics: Pick<Metrics, 'notificationFailures'>;
  logger: Logger;
  /** Entries delivered at once. */
  concurrency?: number;
  /** The longest sleep without a look at the outbox (entries another process may have added). */
  idleCheckMs?: number;
  /** How long stop waits for deliveries in flight before it interrupts them. */
  stopGraceMs?: number;
  now?: () => number;
  random?: () => number;
}

export interface DeliveryLoop {
  start(): void;
  stop(): Promise<void>;
}

interface TriedAttempt extends DeliveryAttempt {
  /** Cut short by shutdown: not a real failure of the target. */
  interrupted: boolean;
}

export function createDeliveryLoop(options: DeliveryLoopOptions): DeliveryLoop {
  const { outbox, deliverer, policy, logger } = options;
  const now = options.now ?? Date.now;
  const concurrency = options.concurrency ?? 16;
  const idleCheckMs = options.idleCheckMs ?? 30_000;
  // Long enough for a round (targets in parallel, each bounded by the timeout) to settle.
  const claimMs = policy.timeoutMs * 2 + 5000;
  const shutdown = new AbortController();
  const inFlight = new Set<Promise<void>>();
  let stopping = false;
  let pumping: Promise<void> | undefined;
  let pumpAgain = false;
  let timer: NodeJS.Timeout | undefined;
  let unsubscribe = () => {};

  function wake(): void {
    if (stopping) return;
    if (pumping) {
      pumpAgain = true;
      return;
    }
    pumping = pump().finally(() => {
      pumping = undefined;
    });
  }

  async function pump(): Promise<void> {
    try {
      do {
        pumpAgain = false;
        while (!stopping && inFlight.size < concurrency) {
          const claims = await outbox.claimDue(now(), concurrency - inFlight.size, claimMs);
          for (const claim of claims) {
            if (stopping) await outbox.release(claim);
            else launch(claim);
          }
          if (claims.length === 0) break;
        }
      } while (pumpAgain && !stopping);
      if (!stopping && inFlight.size < concurrency) {
        const due = await outbox.nextDueAtMs();
        arm(due === undefined ? idleCheckMs : Math.min(idleCheckMs, Math.max(5, due - now())));
      }
    } catch (err) {
      logger.error({ err }, 'could not read the notification outbox; trying again in a second');
      arm(1000);
    }
  }

  function arm(ms: number): void {
    clearTimeout(timer);
    if (stopping) return;
    timer = setTimeout(wake, ms);
    timer.unref();
  }

  function launch(claim: OutboxClaim): void {
    const done: Promise<void> = deliverRound(claim)
      .catch((err: unknown) => logger.error({ err, eventId: claim.entry.id }, 'notification delivery failed unexpectedly; the entry is retried when its claim runs out'))
      .finally(() => {
        inFlight.delete(done);
        wake();
      });
    inFlight.add(done);
  }

  async function deliverRound(claim: OutboxClaim): Promise<void> {
    const { entry } = claim;
    const seen = new Set(entry.deliveredTargets);
    const targets = options.targets(entry.topicArn).filter((t) => {
      const key = targetKey(t);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    const attempts = await Promise.all(targets.map((t) => attempt(t, claim)));
    if (attempts.some((a) => a.interrupted)) {
      await outbox.release(claim);
      return;
    }
    const round = entry.attempts + 1;
    const failures = attempts.filter((a) => !a.ok);
    let next: Settlement;
    if (failures.length === 0) {
      next = { state: 'delivered' };
    } else {
      const lastError = failures.map((f) => `${f.target}: ${f.error ?? `HTTP ${f.status}`}`).join('; ');
      next = round >= policy.maxAttempts
        ? { state: 'failed', lastError }
        : { state: 'pending', lastError, nextAttemptAtMs: now() + backoffMs(round, { initialMs: policy.initialBackoffMs, maxMs: policy.maxBackoffMs }, options.random) };
    }
    const recorded = attempts.map(({ interrupted: _interrupted, ...a }) => a);
    const fields = { eventId: entry.id, topicArn: entry.topicArn, endpoint: entry.endpointName, variant: entry.variantName, attempts: round };
    if (!(await outbox.settle(claim, recorded, next))) {
      logger.warn(fields, 'a notification claim ran out before its delivery round ended; the entry was offered again');
      return;
    }
    if (next.state === 'failed') {
      options.metrics.notificationFailures.inc({ endpoint: entry.endpointName, variant: entry.variantName });
      logger.warn({ ...fields, lastError: next.lastError }, 'notification given up after maxAttempts; kept for replay (POST /admin/notifications/replay)');
    } else if (next.state === 'pending') {
      logger.debug({ ...fields, lastError: next.lastError, retryInMs: next.nextAttemptAtMs - now() }, 'notification delivery failed; will retry');
    }
  }

  async function attempt(target: NotificationTarget, claim: OutboxClaim): Promise<TriedAttempt> {
    const timeout = AbortSignal.timeout(policy.timeoutMs);
    const signal = AbortSignal.any([shutdown.signal, timeout]);
    const atMs = now();
    const started = performance.now();
    let result: DeliveryResult;
    try {
      const { entry } = claim;
      result = await untilAborted(deliverer.deliver(target, { id: entry.id, topicArn: entry.topicArn, endpointName: entry.endpointName, message: entry.message }, signal), signal);
    } catch (err) {
      result = { ok: false, error: errorText(err) };
    }
    const interrupted = !result.ok && shutdown.signal.aborted && !timeout.aborted;
    if (!result.ok && timeout.aborted) result = { ...result, error: `timed out after ${policy.timeoutMs} ms` };
    return { target: targetKey(target), atMs, latencyMs: performance.now() - started, ...result, interrupted };
  }

  return {
    start() {
      unsubscribe = outbox.onAdded(wake);
      wake();
    },
    async stop() {
      stopping = true;
      unsubscribe();
      clearTimeout(timer);
      await pumping;
      const all = () => Promise.all([...inFlight]);
      const finished = await Promise.race([all().then(() => true), sleep(options.stopGraceMs ?? Math.min(policy.timeoutMs, 5000), false, { ref: false })]);
      if (!finished) {
        logger.warn({ inFlight: inFlight.size }, 'stopping: notification deliveries still running were interrupted; they are delivered at the next start');
        shutdown.abort();
        await all();
      }
    },
  };
}

/** Settles when the signal aborts even if the deliverer ignores it. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

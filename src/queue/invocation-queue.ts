/**
 * InvocationQueue: the durable home of every accepted invocation, from queued to its final state.
 *
 * Guarantees:
 * - `enqueue` resolves only when the invocation is durable (fsync'd, or acknowledged by a durable
 *   store); if it rejects, nothing was queued. A rejection for lack of resources is
 *   `AppError('ServiceUnavailable')`.
 * - `lease` hands an invocation to exactly one holder at a time. A lease runs out after `leaseMs`
 *   unless extended; `reclaimExpiredLeases` returns such invocations to the queue, so a dead
 *   worker's work is done by another. Delivery is therefore at least once.
 * - Every call that takes a Lease checks it still holds (fencing): after the lease was lost it
 *   does nothing and returns false.
 * - RequestTTLSeconds covers only the wait in the queue, as on SageMaker: `leaseExpired` never
 *   returns an invocation that was ever leased by `lease` (started); one that a crash or a lost
 *   lease put back in the queue is run again, however late.
 * - An invocation gets one outcome object, output or failure, never both: before writing one the
 *   worker calls `prepareOutcome` under its lease, which remembers durably which object that
 *   invocation is getting, so a later attempt (after a crash) sees what an earlier one chose.
 * - Per endpoint, invocations are leased oldest first (best effort, as SageMaker's own queue).
 * - `onAvailable` tells listeners in this process that an endpoint may have queued work.
 * - `backlog` is cheap enough to call on every metrics scrape: counts kept as counters (O(1) per
 *   endpoint) plus at most one indexed lookup for the oldest queued invocation, never a scan.
 *
 * Deliberately not here: priorities, retries of failed invocations (SageMaker does not retry),
 * cancellation, and how outcome objects are written (the worker does that before `complete`).
 */
import type { Invocation, InvocationRequest, NotificationDraft, Outcome } from '../domain/index.js';

export interface Lease {
  invocation: Invocation;
  /** Which lease of this invocation this is: the fencing token checked by every later call. */
  attempt: number;
}

/** An endpoint's backlog, for the queue gauges (ApproximateBacklogSize and friends). */
export interface Backlog {
  queued: number;
  /** Leased: being run (or expired) by a worker. */
  running: number;
  /** When the oldest queued invocation was accepted; absent when none is queued. */
  oldestQueuedReceivedAtMs?: number;
}

export interface InvocationQueue {
  start(): Promise<void>;
  stop(): Promise<void>;
  enqueue(request: InvocationRequest): Promise<void>;
  /** The oldest queued invocation of the endpoint, leased; undefined when none is queued. */
  lease(endpointName: string, leaseMs: number): Promise<Lease | undefined>;
  /**
   * Queued invocations (any endpoint) whose RequestTTLSeconds ran out and that were never started
   * (never leased by `lease`), leased for the expiry path.
   */
  leaseExpired(nowMs: number, limit: number, leaseMs: number): Promise<Lease[]>;
  extend(lease: Lease, leaseMs: number): Promise<boolean>;
  /**
   * Before an outcome object is written (or an outcome without one recorded): remembers durably,
   * under the lease, which object the invocation is getting (`outcomeObject`). Resolves to the
   * outcome pending now: `outcome` itself when none was pending or the pending one has the same
   * object (it is replaced); an earlier attempt's outcome, unchanged, when that one chose the other
   * object — unless `replace`, which the caller passes once it knows that object was never written;
   * undefined when the lease was lost (write nothing then).
   */
  prepareOutcome(lease: Lease, outcome: Outcome, options?: { replace?: boolean }): Promise<Outcome | undefined>;
  /**
   * Records the final state, and in the same transaction puts `notifications` in the outbox; the
   * outcome object must already be written. Durable when it resolves.
   */
  complete(lease: Lease, outcome: Outcome, notifications?: readonly NotificationDraft[]): Promise<boolean>;
  /** Gives the invocation back to the queue untouched (shutdown). */
  release(lease: Lease): Promise<boolean>;
  /** Returns invocations whose lease ran out to the queue; resolves to how many. */
  reclaimExpiredLeases(nowMs: number): Promise<number>;
  get(id: string): Promise<Invocation | undefined>;
  /** Queued and running counts of the endpoint, and its oldest queued invocation; see the contract above. */
  backlog(endpointName: string): Promise<Backlog>;
  onAvailable(listener: (endpointName: string) => void): () => void;
}

/** Which object an outcome writes: the output for `completed`, the failure object for every other state. */
export function outcomeObject(outcome: Pick<Outcome, 'state'>): 'output' | 'failure' {
  return outcome.state === 'completed' ? 'output' : 'failure';
}

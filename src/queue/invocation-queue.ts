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
  /** Queued invocations (any endpoint) whose RequestTTLSeconds ran out, leased for the expiry path. */
  leaseExpired(nowMs: number, limit: number, leaseMs: number): Promise<Lease[]>;
  extend(lease: Lease, leaseMs: number): Promise<boolean>;
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

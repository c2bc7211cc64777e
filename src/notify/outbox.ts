/**
 * NotificationOutbox: the durable list of notifications to deliver, and of every attempt made.
 * One entry per event and topic; the topic's targets (webhooks, SNS) are resolved when it is
 * delivered, and the targets that already have it are remembered, so a retry sends only to the rest.
 *
 * Guarantees:
 * - An entry written by `InvocationQueue.complete` (with its outcome, one transaction) or by `add`
 *   is durable when that resolves, and is offered by `claimDue` until it is settled `delivered` or
 *   `failed`: delivery is at least once. Adding an event id that is already there does nothing.
 * - A claim is exclusive while it lasts. A claim that is neither settled nor released runs out
 *   after `claimMs` and the entry is offered again: a holder killed mid-delivery loses nothing
 *   (the receiver may get the event twice; the event id is the same, so it can deduplicate).
 * - `settle` and `release` are fenced by the claim: once a claim ran out and the entry was claimed
 *   again they change nothing and resolve false. The attempts given to `settle` are kept anyway:
 *   they happened.
 * - `replay` returns `failed` entries to `pending` with a fresh attempt budget; their history stays.
 * - `onAdded` tells listeners in this process that entries may be due (added or replayed).
 *
 * Deliberately not here: delivery itself (the deliverers), the retry policy (the delivery loop
 * decides the next state and when to try again), ordering beyond "due first, then oldest", and
 * retention (delivered entries are kept; pruning is a later job).
 */
import type { NotificationDraft } from '../domain/index.js';

export const OutboxStates = ['pending', 'delivered', 'failed'] as const;
export type OutboxState = (typeof OutboxStates)[number];

export interface OutboxEntry {
  /** The event id: the entry's key, and what receivers deduplicate on. */
  id: string;
  topicArn: string;
  endpointName: string;
  variantName: string;
  message: string;
  state: OutboxState;
  /** Delivery rounds in the current attempt budget (replay starts it again at 0). */
  attempts: number;
  /** Keys of the targets that acknowledged it (see `targetKey`). */
  deliveredTargets: string[];
  createdAtMs: number;
  updatedAtMs: number;
  /** When a pending entry is due. */
  nextAttemptAtMs: number;
  lastError?: string;
}

/** One try of one target. */
export interface DeliveryAttempt {
  target: string;
  atMs: number;
  latencyMs: number;
  ok: boolean;
  /** The HTTP status, when the target answered. */
  status?: number;
  error?: string;
}

export interface OutboxClaim {
  entry: OutboxEntry;
  /** Fences `settle` and `release`. */
  token: string;
}

export type Settlement =
  | { state: 'delivered' }
  | { state: 'failed'; lastError: string }
  | { state: 'pending'; nextAttemptAtMs: number; lastError: string };

export interface OutboxFilter {
  state?: OutboxState;
  endpointName?: string;
  /** Newest first, at most this many. */
  limit: number;
}

export type OutboxEntryWithHistory = OutboxEntry & { history: DeliveryAttempt[] };

export interface NotificationOutbox {
  /** Durable when it resolves (TestNotifications; outcomes' events go in with `complete`). */
  add(drafts: readonly NotificationDraft[]): Promise<void>;
  /** Pending entries due at `nowMs` and not claimed, claimed for `claimMs`. */
  claimDue(nowMs: number, limit: number, claimMs: number): Promise<OutboxClaim[]>;
  /** When the next pending entry is due (or its claim runs out); undefined when none is pending. */
  nextDueAtMs(): Promise<number | undefined>;
  /** Ends one delivery round: records its attempts, counts the round, and moves the entry on. */
  settle(claim: OutboxClaim, attempts: readonly DeliveryAttempt[], next: Settlement): Promise<boolean>;
  /** Gives the entry back untouched, due now (shutdown). */
  release(claim: OutboxClaim): Promise<boolean>;
  get(id: string): Promise<OutboxEntryWithHistory | undefined>;
  list(filter: OutboxFilter): Promise<OutboxEntryWithHistory[]>;
  /** Failed entries (all, or those of `ids`) back to pending; resolves to how many. */
  replay(ids?: readonly string[]): Promise<number>;
  onAdded(listener: () => void): () => void;
}

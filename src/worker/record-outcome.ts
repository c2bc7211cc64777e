/**
 * Records an outcome: the final state in the queue, and (same transaction) its notification in
 * the outbox. Called after the outcome object is written, never before, for every outcome:
 * success, model failure, timeout, expiry and failQueued.
 *
 * The event is built here, once, before the outcome is recorded: the outcome is recorded at most
 * once (its lease fences it), so its event id is too, and a lost lease writes no event.
 */
import { inferenceResultDraft, type EndpointNotifications, type NotificationDraft, type Outcome } from '../domain/index.js';
import type { Lease } from '../queue/index.js';
import type { RunDeps } from './run-invocation.js';

const FAILURE_BODY_PREVIEW = 512;

/** What the model answered, for the notification: its Content-Type and, when small, its body. */
export interface ModelResponse {
  contentType?: string;
  /** Only when the whole response is at most 128 KB (the most a notification carries). */
  body?: Uint8Array;
}

/** How an outcome finds what its notification needs. */
export interface OutcomeNotifications {
  /** The event's awsRegion. */
  region: string;
  /**
   * The endpoint's variant and NotificationConfig, by name. The endpoint runner binds each
   * dispatcher's own (an endpoint being replaced or deleted still notifies with the config its
   * invocations ran under); other paths look it up, or pass it explicitly (failQueued).
   */
  endpoint(name: string): EndpointNotifications | undefined | Promise<EndpointNotifications | undefined>;
}

export async function recordOutcome(deps: RunDeps, lease: Lease, outcome: Outcome, ms: number, response?: ModelResponse): Promise<void> {
  const inv = lease.invocation;
  const draft = await notificationFor(deps, lease, outcome, response);
  const recorded = await completeWithRetries(deps, lease, outcome, draft ? [draft] : []);
  const fields = { id: inv.id, inferenceId: inv.inferenceId, endpoint: inv.endpointName, state: outcome.state, modelStatus: outcome.modelStatus, ms, ...(draft && { eventId: draft.eventId }) };
  if (recorded) countOutcome(deps, lease, outcome);
  if (!recorded) deps.logger.warn(fields, 'outcome not recorded: the lease was lost, another worker owns the invocation');
  else if (outcome.state === 'completed') deps.logger.info(fields, 'invocation completed');
  else deps.logger.info({ ...fields, failureReason: outcome.failureReason?.slice(0, FAILURE_BODY_PREVIEW) }, `invocation ${outcome.state}`);
}

/** How long a failing queue write of the outcome is retried (the dispatcher keeps extending the lease meanwhile). */
const QUEUE_RETRY_FOR_MS = 5 * 60_000;
const QUEUE_MAX_DELAY_MS = 5000;

/**
 * A queue write of an outcome (`complete`, or the claim before its object: `prepareOutcome`),
 * retried while it throws (a full disk, the queue store unreachable): giving up would mean running
 * the model again once the lease runs out. An answer (the lease was lost) is not retried.
 */
export async function withQueueRetries<T>(deps: RunDeps, lease: Lease, what: string, write: () => Promise<T>): Promise<T> {
  const giveUpAt = Date.now() + QUEUE_RETRY_FOR_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (Date.now() > giveUpAt) throw err;
      const delayMs = Math.min(QUEUE_MAX_DELAY_MS, 100 * 2 ** attempt);
      deps.logger.warn({ err, id: lease.invocation.id, attempt, delayMs }, `${what} failed; retrying`);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

async function completeWithRetries(deps: RunDeps, lease: Lease, outcome: Outcome, drafts: NotificationDraft[]): Promise<boolean> {
  return withQueueRetries(deps, lease, 'recording the outcome', () => deps.queue.complete(lease, outcome, drafts));
}

/**
 * The outcome counters, once per recorded outcome (a lost lease counts nothing: its new holder
 * records it). `expired` never ran and is in neither processed nor failures. An invocation failed
 * by failQueued (its endpoint went away) did not run either, but its outcome is `failed`, and
 * failures are a subset of processed, so it counts in both.
 */
function countOutcome(deps: RunDeps, lease: Lease, outcome: Outcome): void {
  const inv = lease.invocation;
  const l = { endpoint: inv.endpointName, variant: deps.variantOf(inv.endpointName) };
  if (outcome.state === 'expired') {
    deps.metrics.expiredRequests.inc(l);
    return;
  }
  deps.metrics.invocationsProcessed.inc(l);
  if (outcome.state === 'failed') deps.metrics.invocationFailures.inc(l);
  deps.metrics.totalProcessingTime.observe(l, Math.max(0, (deps.now ?? Date.now)() - inv.receivedAtMs) / 1000);
}

async function notificationFor(deps: RunDeps, lease: Lease, outcome: Outcome, response: ModelResponse | undefined) {
  const inv = lease.invocation;
  if (!deps.notifications) return undefined;
  let endpoint: EndpointNotifications | undefined;
  try {
    endpoint = await deps.notifications.endpoint(inv.endpointName);
  } catch (err) {
    // Recording the outcome matters more than its event; say loudly that one is missing.
    deps.logger.error({ err, id: inv.id, endpoint: inv.endpointName }, 'could not look up the endpoint\'s NotificationConfig; the outcome is recorded without a notification');
    return undefined;
  }
  if (!endpoint?.notification) return undefined;
  return inferenceResultDraft({
    region: deps.notifications.region, variantName: endpoint.variantName, invocation: inv, outcome,
    eventTimeMs: (deps.now ?? Date.now)(), notification: endpoint.notification, ...(response && { response }),
  });
}

/**
 * Records an outcome: the final state in the queue, and (same transaction) its notifications in
 * the outbox. Called after the outcome object is written, never before.
 */
import type { Outcome } from '../domain/index.js';
import type { Lease } from '../queue/index.js';
import type { RunDeps } from './run-invocation.js';

const FAILURE_BODY_PREVIEW = 512;

/** What the model answered, for the notification: its Content-Type and, when small, its body. */
export interface ModelResponse {
  contentType?: string;
  /** Only when the whole response is at most 128 KB (the most a notification carries). */
  body?: Uint8Array;
}

export async function recordOutcome(deps: RunDeps, lease: Lease, outcome: Outcome, ms: number, response?: ModelResponse): Promise<void> {
  const inv = lease.invocation;
  const recorded = await deps.queue.complete(lease, outcome);
  const fields = { id: inv.id, inferenceId: inv.inferenceId, endpoint: inv.endpointName, state: outcome.state, modelStatus: outcome.modelStatus, ms };
  if (!recorded) deps.logger.warn(fields, 'outcome not recorded: the lease was lost, another worker owns the invocation');
  else if (outcome.state === 'completed') deps.logger.info(fields, 'invocation completed');
  else deps.logger.info({ ...fields, failureReason: outcome.failureReason?.slice(0, FAILURE_BODY_PREVIEW) }, `invocation ${outcome.state}`);
}

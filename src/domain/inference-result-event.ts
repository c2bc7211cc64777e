/**
 * The SageMaker notification events (spec §4): `InferenceResult` for every outcome of an endpoint
 * with a topic for it, and `TestNotification` when an endpoint is created or updated.
 *
 * Key order is part of the format: consumers that compare or log raw messages see the order
 * SageMaker's captures show, so the objects are built key by key, never spread from elsewhere.
 *
 * Decisions where SageMaker is UNCONFIRMED (docs/notifications.md lists them):
 * - A failure's `failureLocation` is in `responseParameters` (with the model's `contentType` when
 *   it answered) and also at top level, right after `failureReason`: consumers read it from both
 *   places. Without an S3FailurePath neither appears.
 * - An inline-Body request has no `inputLocation` in `requestParameters`.
 * - `expired` and `canceled` outcomes are `Failed` events on the ErrorTopic.
 * - A response over 128 KB gets no `responseBody` at all.
 */
import type { FinalState, InvocationRequest, Outcome } from './invocation.js';
import type { IncludeInferenceResponseTarget, NotificationDraft, NotificationSettings } from './notification.js';
import { timeOrderedUuid } from './time-ordered-uuid.js';

/** The most of a model response an event carries (IncludeInferenceResponseIn). */
export const NOTIFICATION_RESPONSE_MAX_BYTES = 128 * 1024;
export const RESPONSE_BODY_MESSAGE = 'Check S3 path location(if configured) or Cloudwatch for additional details.';
export const TEST_NOTIFICATION_MESSAGE = '{"eventVersion":"1.0","eventSource":"aws:sagemaker","eventName":"TestNotification"}';

export interface InferenceResultInput {
  region: string;
  variantName: string;
  invocation: Pick<InvocationRequest, 'id' | 'inferenceId' | 'endpointName' | 'contentType' | 'accept' | 'inputLocation' | 'outputLocation' | 'failureLocation' | 'receivedAtMs'>;
  outcome: Outcome;
  /** When the outcome happened (it is recorded in the same moment). */
  eventTimeMs: number;
  notification: NotificationSettings | undefined;
  /** What the model answered, when it did; `body` only when it is small enough to carry. */
  response?: { contentType?: string; body?: Uint8Array };
}

/**
 * The one event id of an outcome. An invocation's outcome is recorded once (fenced by its lease),
 * so deriving it from the invocation id keeps it stable across retries, replays and restarts.
 */
export function inferenceResultEventId(invocationId: string): string {
  return `result-${invocationId}`;
}

/** The event for an outcome, or undefined when the endpoint has no topic for it. */
export function inferenceResultDraft(input: InferenceResultInput): NotificationDraft | undefined {
  const succeeded = input.outcome.state === 'completed';
  const topicArn = succeeded ? input.notification?.successTopic : input.notification?.errorTopic;
  if (topicArn === undefined) return undefined;
  return {
    eventId: inferenceResultEventId(input.invocation.id),
    topicArn,
    endpointName: input.invocation.endpointName,
    variantName: input.variantName,
    message: JSON.stringify(inferenceResultEvent(input)),
  };
}

export function inferenceResultEvent(input: InferenceResultInput): Record<string, unknown> {
  const { invocation: inv, outcome, response } = input;
  const succeeded = outcome.state === 'completed';
  const event: Record<string, unknown> = {};
  event.awsRegion = input.region;
  event.eventTime = new Date(input.eventTimeMs).toISOString();
  event.receivedTime = new Date(inv.receivedAtMs).toISOString();
  event.invocationStatus = invocationStatus(outcome.state);
  if (!succeeded) {
    if (outcome.failureReason !== undefined) event.failureReason = outcome.failureReason;
    if (inv.failureLocation !== undefined) event.failureLocation = inv.failureLocation;
  }
  event.requestParameters = requestParameters(inv);
  const responseParameters: Record<string, string> = {};
  if (response?.contentType !== undefined) responseParameters.contentType = response.contentType;
  if (succeeded) responseParameters.outputLocation = inv.outputLocation;
  else if (inv.failureLocation !== undefined) responseParameters.failureLocation = inv.failureLocation;
  if (Object.keys(responseParameters).length > 0) event.responseParameters = responseParameters;
  const wanted: IncludeInferenceResponseTarget = succeeded ? 'SUCCESS_NOTIFICATION_TOPIC' : 'ERROR_NOTIFICATION_TOPIC';
  const body = response?.body;
  if (body !== undefined && body.byteLength <= NOTIFICATION_RESPONSE_MAX_BYTES && input.notification?.includeInferenceResponseIn.includes(wanted)) {
    event.responseBody = { content: Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64'), message: RESPONSE_BODY_MESSAGE, encoding: 'BASE64' };
  }
  event.inferenceId = inv.inferenceId;
  event.eventVersion = '1.0';
  event.eventSource = 'aws:sagemaker';
  event.eventName = 'InferenceResult';
  return event;
}

/** One TestNotification per distinct topic of the NotificationConfig. */
export function testNotificationDrafts(input: { endpointName: string; variantName: string; notification: NotificationSettings | undefined; newId?: () => string }): NotificationDraft[] {
  const topics = new Set([input.notification?.successTopic, input.notification?.errorTopic].filter((t): t is string => t !== undefined));
  const newId = input.newId ?? (() => `test-${timeOrderedUuid()}`);
  return [...topics].map((topicArn) => ({
    eventId: newId(), topicArn, endpointName: input.endpointName, variantName: input.variantName, message: TEST_NOTIFICATION_MESSAGE,
  }));
}

function invocationStatus(state: FinalState): 'Completed' | 'Failed' {
  return state === 'completed' ? 'Completed' : 'Failed';
}

/** Only the keys the request supplied, in alphabetical order (as observed). */
function requestParameters(inv: InferenceResultInput['invocation']): Record<string, string> {
  const params: Record<string, string> = {};
  if (inv.accept !== undefined) params.accept = inv.accept;
  if (inv.contentType !== undefined) params.contentType = inv.contentType;
  params.endpointName = inv.endpointName;
  if (inv.inputLocation !== undefined) params.inputLocation = inv.inputLocation;
  return params;
}

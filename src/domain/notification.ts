/**
 * A notification as the outbox stores it: one SageMaker-shaped event for one topic. The worker
 * hands these to `InvocationQueue.complete` so they are written in the same transaction as the
 * outcome: an outcome is never recorded without its notifications, nor the other way round.
 */
export interface NotificationDraft {
  /** Stable across retries and replays: receivers deduplicate on it (webhook-id, SNS FIFO dedup id). */
  eventId: string;
  topicArn: string;
  endpointName: string;
  variantName: string;
  /** The event JSON exactly as sent: the SNS Message, or the webhook body. */
  message: string;
}

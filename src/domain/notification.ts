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

export const IncludeInferenceResponseIn = ['SUCCESS_NOTIFICATION_TOPIC', 'ERROR_NOTIFICATION_TOPIC'] as const;
export type IncludeInferenceResponseTarget = (typeof IncludeInferenceResponseIn)[number];

/** AsyncInferenceConfig.OutputConfig.NotificationConfig, as the worker uses it. */
export interface NotificationSettings {
  successTopic?: string;
  errorTopic?: string;
  includeInferenceResponseIn: readonly IncludeInferenceResponseTarget[];
}

/** What recording an outcome needs to know of its endpoint to notify about it. */
export interface EndpointNotifications {
  variantName: string;
  /** Absent: the endpoint has no NotificationConfig, so no events. */
  notification?: NotificationSettings;
}

/** From SageMaker's NotificationConfig shape (unknown values of IncludeInferenceResponseIn are dropped). */
export function notificationSettings(config: { SuccessTopic?: string; ErrorTopic?: string; IncludeInferenceResponseIn?: readonly string[] } | undefined): NotificationSettings | undefined {
  if (!config) return undefined;
  return {
    ...(config.SuccessTopic !== undefined && { successTopic: config.SuccessTopic }),
    ...(config.ErrorTopic !== undefined && { errorTopic: config.ErrorTopic }),
    includeInferenceResponseIn: (config.IncludeInferenceResponseIn ?? [])
      .filter((t): t is IncludeInferenceResponseTarget => (IncludeInferenceResponseIn as readonly string[]).includes(t)),
  };
}

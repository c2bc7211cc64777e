/** What a deliverer is given and answers; one call is one attempt at one target. */
import type { NotificationTarget, SnsTarget, WebhookTarget } from './targets.js';
import { isWebhook } from './targets.js';

export interface DeliveryRequest {
  /** The event id: the webhook-id, and the SNS FIFO deduplication id. */
  id: string;
  topicArn: string;
  endpointName: string;
  /** The event JSON, sent as it is. */
  message: string;
}

/** Never a rejection: a failure is `ok: false` with what happened. */
export interface DeliveryResult {
  ok: boolean;
  status?: number;
  error?: string;
}

export interface Deliverer<T extends NotificationTarget = NotificationTarget> {
  /** `signal` aborts the attempt (its timeout, or shutdown). */
  deliver(target: T, request: DeliveryRequest, signal: AbortSignal): Promise<DeliveryResult>;
  stop(): Promise<void>;
}

/** Sends each target to the deliverer of its kind. */
export function createTargetDeliverer(kinds: { webhook: Deliverer<WebhookTarget>; sns: Deliverer<SnsTarget> }): Deliverer {
  return {
    deliver: (target, request, signal) => (isWebhook(target) ? kinds.webhook.deliver(target, request, signal) : kinds.sns.deliver(target, request, signal)),
    async stop() {
      await Promise.all([kinds.webhook.stop(), kinds.sns.stop()]);
    },
  };
}

export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    const code = (err as { code?: unknown }).code ?? (cause as { code?: unknown } | undefined)?.code;
    const base = err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
    return typeof code === 'string' && !base.includes(code) ? `${base} (${code})` : base;
  }
  return String(err);
}

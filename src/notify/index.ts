export type { DeliveryAttempt, NotificationOutbox, OutboxClaim, OutboxEntry, OutboxEntryWithHistory, OutboxFilter, OutboxState, Settlement } from './outbox.js';
export { OutboxStates } from './outbox.js';
export { createTargetDeliverer, type Deliverer, type DeliveryRequest, type DeliveryResult } from './deliverer.js';
export { createWebhookDeliverer } from './webhook-deliverer.js';
export { createSnsDeliverer } from './sns-deliverer.js';
export { createDeliveryLoop, type DeliveryLoop, type DeliveryLoopOptions, type DeliveryPolicy } from './delivery-loop.js';
export { targetKey, targetsOf, type NotificationTarget, type SnsTarget, type WebhookTarget } from './targets.js';
export { signWebhook, webhookHeaders } from './standard-webhooks.js';

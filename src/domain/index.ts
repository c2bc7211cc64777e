export * from './invocation.js';
export * from './output-naming.js';
export * from './s3-uri.js';
export * from './validate-invoke.js';
export * from './time-ordered-uuid.js';
export * from './constraints.js';
export type { NotificationDraft } from './notification.js';
export { IncludeInferenceResponseIn, notificationSettings, type EndpointNotifications, type IncludeInferenceResponseTarget, type NotificationSettings } from './notification.js';
export * from './inference-result-event.js';

export * from './invocation.js';
export * from './output-naming.js';
export * from './s3-uri.js';
export * from './validate-invoke.js';
export * from './time-ordered-uuid.js';
export * from './constraints.js';
export type { NotificationDraft } from './notification.js';

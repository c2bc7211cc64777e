export { createDispatcher, type Dispatcher, type DispatcherOptions } from './dispatcher.js';
export { createExpirySweeper } from './expiry-sweeper.js';
export { AbortReasons, expireInvocation, failQueued, runInvocation, type RunDeps } from './run-invocation.js';
export { createEndpointRunner, type DeployedEndpoint, type EndpointRunner } from './endpoint-runner.js';
export type { ModelResponse, OutcomeNotifications } from './record-outcome.js';

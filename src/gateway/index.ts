export { createGateway, type Gateway, type GatewayOptions } from './server.js';
export type { AsyncTarget } from './accept-invocation.js';

export { createGateway, type Gateway, type GatewayOptions } from './server.js';
export type { AsyncTarget } from './accept-invocation.js';
export type { ConfiguredEndpoint, ControlPlaneContext } from './control-plane/index.js';

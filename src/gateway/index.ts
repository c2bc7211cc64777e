export { createGateway, type Gateway, type GatewayOptions } from './server.js';
export type { AsyncTarget } from './accept-invocation.js';
export { bringUp, type ConfiguredEndpoint, type ControlPlaneContext, type EndpointDeployer, type EndpointDeployment } from './control-plane/index.js';

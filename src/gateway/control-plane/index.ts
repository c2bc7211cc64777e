export { registerControlPlaneRoutes } from './routes.js';
export type { ConfiguredEndpoint, ControlPlaneContext, EndpointDeployer, EndpointDeployment } from './context.js';
export { bringUp } from './endpoints.js';

export { registerControlPlaneRoutes } from './routes.js';
export type { ConfiguredEndpoint, ControlPlaneContext, EndpointDeployer, EndpointDeployment } from './context.js';
export { bringUp, endpointNotifications } from './endpoints.js';
export { wantedApiEndpoints } from './endpoint-sync.js';

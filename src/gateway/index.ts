export { createGateway, type Gateway, type GatewayOptions } from './server.js';
export type { AsyncTarget } from './accept-invocation.js';
export { bringUp, endpointNotifications, wantedApiEndpoints, type ConfiguredEndpoint, type ControlPlaneContext, type EndpointDeployer, type EndpointDeployment } from './control-plane/index.js';
export { createS3Api, type S3Api, type S3ApiOptions } from './s3-api/index.js';
export { createHttpGuard, type HttpGuard } from './http-guard.js';

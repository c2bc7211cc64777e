export { registerControlPlaneRoutes } from './routes.js';
export type { ConfiguredEndpoint, ControlPlaneContext } from './context.js';

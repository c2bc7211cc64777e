/** The HTTP front door: one Fastify instance, started and stopped with the rest of the server. */
import Fastify from 'fastify';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/index.js';
import type { NotificationOutbox } from '../notify/index.js';
import type { AcceptDeps } from './accept-invocation.js';
import { registerAdminRoutes } from './admin-routes.js';
import { registerControlPlaneRoutes, type ControlPlaneContext } from './control-plane/index.js';
import { registerRealtimeRoutes, type RealtimeDeps } from './realtime-routes.js';
import { registerRuntimeRoutes } from './runtime-routes.js';

export interface GatewayOptions extends AcceptDeps {
  host: string;
  port: number;
  logger: Logger;
  controlPlane: ControlPlaneContext;
  findEndpoint: RealtimeDeps['findEndpoint'];
  metrics: Metrics;
  /** Serves the admin API for notifications (list, replay) when given. */
  outbox?: NotificationOutbox;
}

export interface Gateway {
  /** Resolves with the bound address, e.g. `http://127.0.0.1:8080`. */
  start(): Promise<string>;
  /** Stops accepting, then waits for requests in progress. */
  stop(): Promise<void>;
}

export function createGateway(options: GatewayOptions): Gateway {
  const app = Fastify({
    // No Fastify logger: it makes a child logger for every request, which cost the accept path a
    // third of its throughput. Requests are not logged (outcomes are); errors are logged by the
    // error handler with our own logger.
    logger: false,
    // Endpoint names are at most 63 characters; longer ones must still reach validation.
    routerOptions: { maxParamLength: 2048 },
    // Each route sets its own; this is for anything else (the control plane's JSON).
    bodyLimit: 1024 * 1024,
    // While closing, a request on a kept-alive connection is still accepted: the queue closes after
    // the gateway, so it is durable. (Fastify's own 503 would not be in the AWS error shape.)
    return503OnClosing: false,
  });
  registerRuntimeRoutes(app, options, options.logger);
  registerRealtimeRoutes(app, { findEndpoint: options.findEndpoint, accountId: options.accountId, region: options.controlPlane.region });
  registerControlPlaneRoutes(app, options.controlPlane, options.logger);
  if (options.outbox) registerAdminRoutes(app, options.outbox);
  app.get('/metrics', async (_req, reply) => {
    const { registry } = options.metrics;
    return reply.type(registry.contentType).send(await registry.metrics());
  });
  return {
    async start() {
      await app.listen({ host: options.host, port: options.port });
      const address = app.server.address();
      if (address === null || typeof address === 'string') return String(address);
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `http://${host}:${address.port}`;
    },
    stop: () => app.close(),
  };
}

/** The HTTP front door: one Fastify instance, started and stopped with the rest of the server. */
import { randomUUID } from 'node:crypto';
import { maxHeaderSize, STATUS_CODES, type Server } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Authenticator } from '../auth/index.js';
import type { Metrics } from '../metrics/index.js';
import type { NotificationOutbox } from '../notify/index.js';
import type { AcceptDeps } from './accept-invocation.js';
import { sendRuntimeError } from './aws-error.js';
import { registerAdminRoutes } from './admin-routes.js';
import { registerControlPlaneRoutes, type ControlPlaneContext } from './control-plane/index.js';
import type { HttpGuard } from './http-guard.js';
import { registerRealtimeRoutes, type RealtimeDeps } from './realtime-routes.js';
import { registerRuntimeRoutes } from './runtime-routes.js';
import { registerSageMakerAuth } from './sagemaker-auth.js';
import { createApiServer, type TlsFiles } from './tls.js';

export interface GatewayOptions extends AcceptDeps {
  host: string;
  port: number;
  logger: Logger;
  controlPlane: ControlPlaneContext;
  findEndpoint: RealtimeDeps['findEndpoint'];
  metrics: Metrics;
  /** Serves the admin API for notifications (list, replay) when given. */
  outbox?: NotificationOutbox;
  /** `worker`: only GET /metrics and GET /ping (a worker's own port); default `full`. */
  surface?: 'full' | 'worker';
  /** A request (headers and body) must arrive within this; a slower client gets a 408 and is cut off. Default 60 s. */
  requestTimeoutMs?: number;
  authenticator: Authenticator;
  guard: HttpGuard;
  /** GET /metrics served unsigned (for a Prometheus scrape). */
  metricsOpen: boolean;
  tls?: TlsFiles;
}

export interface Gateway {
  /** Resolves with the bound address, e.g. `http://127.0.0.1:8080`. */
  start(): Promise<string>;
  /** Stops accepting, then waits for requests in progress. */
  stop(): Promise<void>;
  /** Reads the TLS certificate and key again (SIGHUP). */
  reloadTls(): void;
}

export function createGateway(options: GatewayOptions): Gateway {
  const requestTimeout = options.requestTimeoutMs ?? 60_000;
  let api: ReturnType<typeof createApiServer> | undefined;
  const app = Fastify({
    // Node checks request deadlines every connectionsCheckingInterval (30 s by default): often
    // enough that a slow client is cut off close to its deadline, not up to 30 s after it.
    serverFactory: (handler): Server => {
      api = createApiServer({
        requestTimeout, headersTimeout: Math.min(60_000, requestTimeout), connectionsCheckingInterval: Math.min(1000, requestTimeout),
      }, options.tls, handler);
      return api.server;
    },
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
    // Fastify's own answers to these are not in the AWS error shape, and say only "Client Error".
    frameworkErrors: answerFrameworkError,
    clientErrorHandler: answerUnparsableRequest,
  });
  // Before every route, so each one is guarded.
  registerSageMakerAuth(app, { authenticator: options.authenticator, guard: options.guard, accountId: options.accountId, metricsOpen: options.metricsOpen });
  if (options.surface !== 'worker') {
    registerRuntimeRoutes(app, { ...options, region: options.controlPlane.region }, options.logger);
    registerRealtimeRoutes(app, { findEndpoint: options.findEndpoint, accountId: options.accountId, region: options.controlPlane.region });
    registerControlPlaneRoutes(app, options.controlPlane, options.logger);
    if (options.outbox) registerAdminRoutes(app, options.outbox);
  }
  // Liveness, for load balancers and process supervisors.
  app.get('/ping', { config: { open: true } }, async (_req, reply) => reply.send({ status: 'ok' }));
  app.get('/metrics', { config: { open: 'metrics', access: () => ({ action: 'asyncinfer:GetMetrics', resource: '*' }) } }, async (_req, reply) => {
    const { registry } = options.metrics;
    return reply.type(registry.contentType).send(await registry.metrics());
  });
  return {
    async start() {
      await app.listen({ host: options.host, port: options.port });
      const address = app.server.address();
      if (address === null || typeof address === 'string') return String(address);
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `${api!.scheme}://${host}:${address.port}`;
    },
    stop: () => app.close(),
    reloadTls: () => api?.reload(),
  };
}

const ENDPOINT_NAME_RULE = 'EndpointName must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])* and have length less than or equal to 63';

/** A path the router cannot read (bad percent-encoding, a parameter past maxParamLength). */
function answerFrameworkError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const path = request.url.split('?')[0]!.slice(0, 256);
  const message = err.code === 'FST_ERR_BAD_URL'
    ? `The request path '${path}' is not valid percent-encoded UTF-8, so the EndpointName in it cannot be read. ${ENDPOINT_NAME_RULE}.`
    : err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? `The request path '${path}...' has a segment longer than 2048 characters. ${ENDPOINT_NAME_RULE}.`
      : `The request path '${path}' cannot be routed (${err.code}).`;
  void sendRuntimeError(reply, randomUUID(), { status: 400, code: 'ValidationError', message });
}

/**
 * A request Node's HTTP parser refuses (a garbage request line, a character not allowed in a
 * header, headers past the size limit) never reaches Fastify: it is answered on the socket, which
 * is then closed, since nothing after the bad bytes can be parsed.
 */
function answerUnparsableRequest(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] = err.code === 'HPE_HEADER_OVERFLOW'
    ? [431, 'ValidationError', `The request's header section is larger than ${maxHeaderSize} bytes, the most this server reads; nothing was accepted. Each SageMaker header is at most 1024 characters.`]
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'RequestTimeout', 'The request (headers and body) did not arrive within the server\'s requestTimeout; nothing was accepted. Send the whole request without pausing, or raise requestTimeout.']
      : [400, 'ValidationError', `The request is not valid HTTP/1.1 (${err.message.slice(0, 200)}); nothing was accepted. The request line must be METHOD /path HTTP/1.1, header names must be tokens and header values visible ASCII.`];
  const body = JSON.stringify({ message, Message: message });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nx-amzn-RequestId: ${randomUUID()}\r\nx-amzn-ErrorType: ${code}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

/**
 * The embedded store's S3 API: its own Fastify app on its own port, path-style only
 * (`/{bucket}/{key}`), so `aws s3 …` and the S3 SDKs work against the files the server reads
 * inputs from and writes outputs to. Every request is signed and authorized (s3-auth.ts), after
 * the Host/Origin guard.
 *
 * Bodies are never parsed by Fastify: one content-type parser accepts every request and leaves
 * the stream alone, so no body limit applies and each handler streams what it needs (see
 * request-body.ts). Every answer carries `x-amz-request-id` (and `x-amz-id-2`), as S3's do.
 */
import { randomBytes } from 'node:crypto';
import { maxHeaderSize } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { SigV4Error, type Authenticator } from '../../auth/index.js';
import { AppError } from '../../errors.js';
import type { HttpGuard } from '../http-guard.js';
import { createApiServer, type TlsFiles } from '../tls.js';
import { discardUnreadBody } from '../discard-body.js';
import { authorizeOperation, selectOperation } from './routes.js';
import { authenticateS3, toS3AuthError } from './s3-auth.js';
import { checkBucketName, type S3ApiDeps } from './s3-call.js';
import { S3Error, s3Error, sendS3Error, toS3Error } from './s3-error.js';
import { parseTarget, type S3Target } from './s3-target.js';
import { xmlDocument } from './xml.js';

export interface S3ApiOptions extends S3ApiDeps {
  host: string;
  port: number;
  authenticator: Authenticator;
  guard: HttpGuard;
  accountId: string;
  tls?: TlsFiles;
}

export interface S3Api {
  /** Resolves with the bound address, e.g. `http://127.0.0.1:9000`. */
  start(): Promise<string>;
  /** Stops accepting, then waits for requests in progress. */
  stop(): Promise<void>;
  /** Reads the TLS certificate and key again (SIGHUP). */
  reloadTls(): void;
}

/** A connection that has not sent a whole header section within this long is closed (idle connections too). */
export const S3_HEADERS_TIMEOUT_MS = 10_000;
/** A socket with no bytes either way for this long is closed: a stalled upload body, or a reader that stopped. */
export const S3_IDLE_TIMEOUT_MS = 60_000;
/** A whole request (headers and body) within this long: 5 GB, the largest single PUT, at about 1.5 MB/s. */
export const S3_REQUEST_TIMEOUT_MS = 3_600_000;

const hostId = randomBytes(24).toString('base64');

/**
 * A request Node's HTTP parser refuses (garbage, a bad header, headers past the size limit, or
 * headers not in within S3_HEADERS_TIMEOUT_MS) never reaches Fastify: it is answered here in S3's
 * XML error shape, and the connection closed (nothing after the bad bytes can be parsed).
 */
function answerUnparsableRequest(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [code, message] = err.code === 'HPE_HEADER_OVERFLOW'
    ? ['RequestHeaderSectionTooLarge', `Your request header section exceeds the maximum allowed size (${maxHeaderSize} bytes).`]
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? ['RequestTimeout', 'Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.']
      : ['InvalidRequest', `The request is not valid HTTP/1.1 (${err.message.slice(0, 200)}).`];
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  const body = xmlDocument('Error', [{ Code: code }, { Message: message }, { RequestId: requestId }, { HostId: hostId }]);
  if (socket.writable) {
    socket.write(`HTTP/1.1 400 Bad Request\r\nx-amz-request-id: ${requestId}\r\nx-amz-id-2: ${hostId}\r\n` +
      `Content-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}
const targets = new WeakMap<FastifyRequest, S3Target>();

export function createS3Api(options: S3ApiOptions): S3Api {
  let api: ReturnType<typeof createApiServer> | undefined;
  const app = Fastify({
    // Uploads of gigabytes take as long as they take, but a connection must keep moving: headers
    // within S3_HEADERS_TIMEOUT_MS, no socket silent for S3_IDLE_TIMEOUT_MS (a stalled body or
    // response), a whole request within S3_REQUEST_TIMEOUT_MS, and the listener's connection cap.
    serverFactory: (handler) => {
      api = createApiServer({
        headersTimeout: S3_HEADERS_TIMEOUT_MS, requestTimeout: S3_REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1000,
      }, options.tls, handler);
      api.server.setTimeout(S3_IDLE_TIMEOUT_MS);
      return api.server;
    },
    logger: false,
    genReqId: () => randomBytes(8).toString('hex').toUpperCase(),
    // HEAD is its own operation in S3 (HeadObject, HeadBucket), not a GET without a body.
    exposeHeadRoutes: false,
    return503OnClosing: false,
    frameworkErrors: (err, request, reply) => {
      void fail(request, reply, s3Error('InvalidRequest', `The request could not be read: ${err.message}.`));
    },
    // Fastify's own answer would be JSON; S3 clients read XML.
    clientErrorHandler: answerUnparsableRequest,
  });
  const deps: S3ApiDeps = { store: options.store, region: options.region, logger: options.logger };

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  // `Expect: 100-continue` is answered only when a handler reads the body (request-body.ts).
  app.server.on('checkContinue', (req, res) => app.server.emit('request', req, res));

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-amz-request-id', request.id).header('x-amz-id-2', hostId);
    const preflight = options.guard.preflight(request.method, request.headers);
    if (preflight) return reply.code(preflight.status).headers(preflight.headers).send();
    const verdict = options.guard.check(request.headers);
    if (!verdict.ok) return fail(request, reply, s3Error('AccessDenied', verdict.message));
    if (verdict.corsOrigin !== undefined) reply.headers(options.guard.corsHeaders(verdict.corsOrigin));
    return undefined;
  });

  function fail(request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
    // A streamed body's chunk signature fails while the store reads it.
    let wire = err instanceof SigV4Error ? toS3AuthError(err, request) : toS3Error(err);
    if (!wire) {
      options.logger.error({ err, requestId: request.id, method: request.method, url: request.url }, 'S3 API request failed');
      wire = new S3Error('InternalError', 'We encountered an internal error; it is logged with this request id. Please try again.', 500);
    }
    discardUnreadBody(request.raw);
    const target = targets.get(request);
    return sendS3Error(reply, wire, {
      requestId: request.id, hostId, head: request.method === 'HEAD',
      resource: target?.resource ?? request.url.split('?')[0] ?? '/',
      ...(target?.bucket !== undefined && { bucket: target.bucket }),
      ...(target?.key !== undefined && { key: target.key }),
    });
  }

  app.setErrorHandler((err, request, reply) => fail(request, reply, err));
  app.setNotFoundHandler((request, reply) => fail(request, reply, s3Error('MethodNotAllowed', `The specified method ${request.method} is not allowed against this resource.`)));

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const target = parseTarget(request.url);
    targets.set(request, target);
    // Before anything else is said about the request, so an unsigned caller learns nothing.
    const auth = authenticateS3(options.authenticator, request, options.accountId);
    const operation = selectOperation(request.method, target);
    if (operation instanceof S3Error) throw operation;
    if (target.bucket !== undefined) checkBucketName(target.bucket);
    authorizeOperation(operation, target, auth.authorize);
    return operation(deps, { request, reply, target, bucket: target.bucket ?? '', key: target.key ?? '', auth });
  };
  app.route({ method: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'], url: '/', handler });
  app.route({ method: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'], url: '/*', handler });

  return {
    async start() {
      try {
        await app.listen({ host: options.host, port: options.port });
      } catch (err) {
        if ((err as { code?: unknown }).code !== 'EADDRINUSE') throw err;
        // Port 9000 is also MinIO's default, so this is the likely first-run clash.
        throw new AppError('ConfigInvalid',
          `The embedded S3 API cannot listen on ${options.host}:${options.port}: the port is in use. Choose another with --s3-port ` +
          '(or s3Api.port, ASYNCINFER_S3_PORT; 0 picks a free one), or turn the S3 API off with "s3Api": {"enabled": false}.', { cause: err });
      }
      const address = app.server.address();
      if (address === null || typeof address === 'string') return String(address);
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `${api!.scheme}://${host}:${address.port}`;
    },
    stop: () => app.close(),
    reloadTls: () => api?.reload(),
  };
}

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
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { asAuthError, type Authenticator } from '../../auth/index.js';
import { AppError } from '../../errors.js';
import type { HttpGuard } from '../http-guard.js';
import { createApiServer, type TlsFiles } from '../tls.js';
import { discardUnreadBody } from './request-body.js';
import { authorizeOperation, selectOperation } from './routes.js';
import { authenticateS3, toS3AuthError } from './s3-auth.js';
import { checkBucketName, type S3ApiDeps } from './s3-call.js';
import { S3Error, s3Error, sendS3Error, toS3Error } from './s3-error.js';
import { parseTarget, type S3Target } from './s3-target.js';

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

const hostId = randomBytes(24).toString('base64');
const targets = new WeakMap<FastifyRequest, S3Target>();

export function createS3Api(options: S3ApiOptions): S3Api {
  let api: ReturnType<typeof createApiServer> | undefined;
  const app = Fastify({
    serverFactory: (handler) => {
      api = createApiServer({}, options.tls, handler);
      return api.server;
    },
    logger: false,
    genReqId: () => randomBytes(8).toString('hex').toUpperCase(),
    // HEAD is its own operation in S3 (HeadObject, HeadBucket), not a GET without a body.
    exposeHeadRoutes: false,
    // Uploads of gigabytes take as long as they take.
    requestTimeout: 0,
    return503OnClosing: false,
    frameworkErrors: (err, request, reply) => {
      void fail(request, reply, s3Error('InvalidRequest', `The request could not be read: ${err.message}.`));
    },
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
    const refused = asAuthError(err);
    let wire = refused ? toS3AuthError(refused, request) : toS3Error(err);
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

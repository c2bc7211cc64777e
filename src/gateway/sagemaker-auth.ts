/**
 * Authentication and authorization on the main port (SageMaker runtime, control plane, admin API,
 * /metrics). Every route says what it does with `config.access` (the IAM action and resource
 * ARNs, read from the request); a route that says nothing and is not `open` is refused, so a new
 * route cannot be served unchecked by mistake.
 *
 * - onRequest: the Host/Origin guard, then the signature's header-level checks (identify): an
 *   unsigned, unknown-key or skewed request is refused before its body is read.
 * - preHandler: the body is in (a Buffer): its hash completes the signature, then the policy is
 *   evaluated for each access the route declares. Only then does the handler run, so a refused
 *   invocation is never queued.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyContextConfig, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SigV4Error, denialMessage, sha256Hex, signedRequestOf, type Authenticator, type Caller, type SigV4Failure } from '../auth/index.js';
import { AppError, type ErrorCode } from '../errors.js';
import { sendControlPlaneError, sendRuntimeError, toWireError } from './aws-error.js';
import type { HttpGuard } from './http-guard.js';

export interface Access {
  action: string;
  resource: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What the request does, for the policy; evaluated after the signature. */
    access?: (request: FastifyRequest) => Access | readonly Access[];
    /** Served to anyone (liveness); `metrics` is open only when the config says so. */
    open?: boolean | 'metrics';
  }
}

export interface SageMakerAuthOptions {
  authenticator: Authenticator;
  guard: HttpGuard;
  accountId: string;
  metricsOpen: boolean;
}


const FAILURE_CODES: Record<SigV4Failure, ErrorCode> = {
  MissingAuthentication: 'MissingAuthentication',
  Malformed: 'IncompleteSignature',
  WrongScope: 'InvalidSignature',
  Skewed: 'InvalidSignature',
  Expired: 'InvalidSignature',
  NotYetValid: 'InvalidSignature',
  HeadersNotSigned: 'InvalidSignature',
  SignatureMismatch: 'InvalidSignature',
  PayloadMismatch: 'InvalidSignature',
  UnknownKey: 'UnrecognizedClient',
};

export function registerSageMakerAuth(app: FastifyInstance, options: SageMakerAuthOptions): void {
  const { authenticator, guard } = options;
  const callers = new WeakMap<FastifyRequest, Caller>();
  // routeOptions is built afresh at each read: each hook reads it once.
  const isOpen = (open: FastifyContextConfig['open']) => open === true || (open === 'metrics' && options.metricsOpen);

  app.addHook('onRequest', async (request, reply) => {
    const { open } = request.routeOptions.config;
    // Liveness answers no one anything, so a probe need not name the server.
    if (open === true) return;
    const preflight = guard.preflight(request.method, request.headers);
    if (preflight) return reply.code(preflight.status).headers(preflight.headers).send();
    const verdict = guard.check(request.headers);
    if (!verdict.ok) return refuse(request, reply, new AppError('AccessDenied', verdict.message));
    if (verdict.corsOrigin !== undefined) reply.headers(guard.corsHeaders(verdict.corsOrigin));
    if (isOpen(open)) return;
    try {
      const caller = authenticator.identify(signedRequestOf(request), 'sagemaker');
      if (caller) callers.set(request, caller);
    } catch (err) {
      return refuse(request, reply, toAppError(err));
    }
    return undefined;
  });

  app.addHook('preHandler', async (request, reply) => {
    const { open, access } = request.routeOptions.config;
    if (isOpen(open)) return;
    try {
      const caller = callers.get(request);
      if (caller) {
        const actual = sha256Hex((request.body as Buffer | undefined) ?? '');
        // Always the hash of the bytes received: these APIs take no UNSIGNED-PAYLOAD (that is S3's).
        const declared = request.headers['x-amz-content-sha256'];
        if (declared !== undefined && String(declared).toLowerCase() !== actual) {
          throw new SigV4Error('PayloadMismatch', 'The x-amz-content-sha256 header is not the SHA-256 of the body received; nothing was done. Send the request again, signing the body as it is sent.');
        }
        authenticator.verify(signedRequestOf(request), caller, actual, 'sagemaker');
      } else if (authenticator.enabled) {
        throw new AppError('MissingAuthentication', 'Missing Authentication Token');
      }
      // No route: the not-found handler says so, to a caller it now knows.
      if (request.is404) return undefined;
      if (!access) throw new AppError('AccessDenied', `${request.method} ${request.url.split('?')[0]} declares no access rule, so it is refused.`);
      // Auth off, or a key without a policy: everything is allowed, so the ARNs are not even built (the accept path).
      if (!caller?.key.policy) return undefined;
      const wanted = access(request);
      for (const { action, resource } of Array.isArray(wanted) ? wanted : [wanted as Access]) {
        const decision = authenticator.decide(caller, action, resource);
        if (decision !== 'allow') {
          throw new AppError('AccessDenied', denialMessage({ accountId: options.accountId, accessKeyId: caller.key.accessKeyId, action, resource, decision }));
        }
      }
    } catch (err) {
      return refuse(request, reply, toAppError(err));
    }
    return undefined;
  });
}

function toAppError(err: unknown): unknown {
  return err instanceof SigV4Error ? new AppError(FAILURE_CODES[err.failure], err.message) : err;
}

/** In the shape of the API the request was for: the control plane's JSON, or the runtime's. */
function refuse(request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  const wire = toWireError(err);
  if (wire.status >= 500) throw err;
  return request.method === 'POST' && request.url === '/'
    ? sendControlPlaneError(reply, randomUUID(), wire)
    : sendRuntimeError(reply, randomUUID(), wire);
}

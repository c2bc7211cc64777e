/**
 * The SageMaker Runtime API: `POST /endpoints/{EndpointName}/async-invocations`.
 * The payload's MIME type comes only from X-Amzn-SageMaker-Content-Type; the HTTP Content-Type
 * (application/octet-stream from the JS SDK, absent from botocore) is ignored, and the raw body
 * is the inline Body whatever it claims to be.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { s3Arn, sagemakerArn } from '../auth/index.js';
import type { Logger } from 'pino';
import { bodyTooLargeError, MAX_BODY_BYTES } from '../domain/index.js';
import { acceptInvocation, type AcceptDeps } from './accept-invocation.js';
import { sendRuntimeError, toWireError } from './aws-error.js';
import { discardUnreadBody } from './discard-body.js';
import type { Access } from './sagemaker-auth.js';

const EMPTY = Buffer.alloc(0);

export function registerRuntimeRoutes(app: FastifyInstance, deps: AcceptDeps & { region: string }, logger: Logger): void {
  // Every body is raw bytes, refused past 128,000 bytes before it is read whole.
  app.removeAllContentTypeParsers();
  // The limit is the route's: 128,000 bytes for InvokeEndpointAsync, more for real-time InvokeEndpoint.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err, request, reply) => {
    const requestId = randomUUID();
    const tooLarge = (err as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE';
    if (tooLarge) {
      // The connection stays usable: the rest of the body is dropped, not left unread.
      reply.removeHeader('connection');
      discardUnreadBody(request.raw);
    }
    const wire = toWireError(tooLarge ? bodyTooLargeError(request.routeOptions.bodyLimit) : err);
    if (wire.status >= 500) logger.error({ err, requestId, method: request.method, url: request.url }, 'request failed');
    return sendRuntimeError(reply, requestId, wire);
  });

  app.setNotFoundHandler((request, reply) => sendRuntimeError(reply, randomUUID(), {
    status: 404, code: 'UnknownOperationException',
    message: `No operation matches ${request.method} ${request.url.split('?')[0]}. InvokeEndpointAsync is POST /endpoints/{EndpointName}/async-invocations.`,
  }));

  const access = (request: FastifyRequest): Access[] => {
    const name = (request.params as { endpointName: string }).endpointName;
    const wanted = [{ action: 'sagemaker:InvokeEndpointAsync', resource: sagemakerArn({ region: deps.region, accountId: deps.accountId, type: 'endpoint', name }) }];
    // The caller must be able to read the input it names: the server reads it on the caller's behalf.
    const input = /^s3:\/\/([^/]+)\/(.*)$/.exec(one(request.headers, 'x-amzn-sagemaker-inputlocation') ?? '');
    if (input) wanted.push({ action: 's3:GetObject', resource: s3Arn(input[1], input[2]) });
    return wanted;
  };

  app.post<{ Params: { endpointName: string } }>('/endpoints/:endpointName/async-invocations', { bodyLimit: MAX_BODY_BYTES, config: { access } }, async (request, reply) => {
    const h = request.headers;
    const accepted = await acceptInvocation(deps, {
      endpointName: request.params.endpointName,
      contentType: one(h, 'x-amzn-sagemaker-content-type'),
      accept: one(h, 'x-amzn-sagemaker-accept'),
      customAttributes: one(h, 'x-amzn-sagemaker-custom-attributes'),
      inferenceId: one(h, 'x-amzn-sagemaker-inference-id'),
      inputLocation: one(h, 'x-amzn-sagemaker-inputlocation'),
      s3OutputPathExtension: one(h, 'x-amzn-sagemaker-s3outputpathextension'),
      filename: one(h, 'x-amzn-sagemaker-filename'),
      requestTtlSeconds: one(h, 'x-amzn-sagemaker-requestttlseconds'),
      invocationTimeoutSeconds: one(h, 'x-amzn-sagemaker-invocationtimeoutseconds'),
      body: (request.body as Buffer | undefined) ?? EMPTY,
    });
    reply.code(202)
      .header('x-amzn-RequestId', randomUUID())
      .header('X-Amzn-SageMaker-OutputLocation', accepted.outputLocation)
      .header('content-type', 'application/json');
    if (accepted.failureLocation) reply.header('X-Amzn-SageMaker-FailureLocation', accepted.failureLocation);
    return reply.send(JSON.stringify({ InferenceId: accepted.inferenceId }));
  });
}


function one(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

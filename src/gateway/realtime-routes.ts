/**
 * Real-time InvokeEndpoint (`POST /endpoints/{EndpointName}/invocations`) for endpoints without
 * an AsyncInferenceConfig: the request goes straight to a ready instance and its answer comes
 * back in the response. Here, unlike the async call, the payload type is the HTTP Content-Type.
 * A container error is SageMaker's ModelError (424) with the container's status and message.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sagemakerArn } from '../auth/index.js';
import { request as httpRequest } from 'undici';
import { constraints, runtimeRules } from '../domain/index.js';
import { AppError } from '../errors.js';
import type { Instance } from '../models/index.js';
import { endpointNotFound, type RuntimeEndpoint } from './accept-invocation.js';

/** SageMaker's real-time limits: 6 MB payloads, 60 s for the container to answer. */
const REALTIME_MAX_BODY_BYTES = 6 * 1024 * 1024;
const REALTIME_TIMEOUT_MS = 60_000;

export interface RealtimeDeps {
  findEndpoint: (name: string) => (RuntimeEndpoint & { ready(): readonly Instance[] }) | undefined;
  accountId: string;
  region: string;
}

export function registerRealtimeRoutes(app: FastifyInstance, deps: RealtimeDeps): void {
  const inFlight = new Map<string, number>();

  const config = {
    access: (request: FastifyRequest) => ({
      action: 'sagemaker:InvokeEndpoint',
      resource: sagemakerArn({ region: deps.region, accountId: deps.accountId, type: 'endpoint', name: (request.params as { endpointName: string }).endpointName }),
    }),
  };
  app.post<{ Params: { endpointName: string } }>('/endpoints/:endpointName/invocations', { bodyLimit: REALTIME_MAX_BODY_BYTES, config }, async (request, reply) => {
    const name = request.params.endpointName;
    const header = (h: string) => request.headers[h] as string | undefined;
    const c = constraints();
    c.string(runtimeRules.endpointName.member, name, runtimeRules.endpointName);
    for (const [rule, value] of [
      [runtimeRules.contentType, header('content-type')],
      [runtimeRules.accept, header('accept')],
      [runtimeRules.customAttributes, header('x-amzn-sagemaker-custom-attributes')],
      [runtimeRules.inferenceId, header('x-amzn-sagemaker-inference-id')],
    ] as const) {
      c.string(rule.member, value, rule);
    }
    const problems = c.message();
    if (problems) throw new AppError('ValidationError', problems);

    const endpoint = deps.findEndpoint(name);
    if (!endpoint) throw endpointNotFound(name, deps.accountId);
    if (endpoint.async) {
      throw new AppError('ValidationError', `Endpoint ${name} is an asynchronous endpoint (it has an AsyncInferenceConfig): call InvokeEndpointAsync (POST /endpoints/${name}/async-invocations), not InvokeEndpoint.`);
    }
    const instance = leastBusy(endpoint.ready(), inFlight);
    if (!instance) throw new AppError('ServiceUnavailable', `No instance of endpoint ${name} is ready yet (none answers GET /ping). Retry shortly.`);

    const headers: Record<string, string> = { 'content-type': header('content-type') ?? 'application/octet-stream' };
    for (const h of ['accept', 'x-amzn-sagemaker-custom-attributes', 'x-amzn-sagemaker-inference-id'] as const) {
      const v = header(h);
      if (v !== undefined) headers[h] = v;
    }
    inFlight.set(instance.id, (inFlight.get(instance.id) ?? 0) + 1);
    try {
      const res = await httpRequest(`${instance.url}/invocations`, {
        method: 'POST', headers, body: (request.body as Buffer | undefined) ?? Buffer.alloc(0),
        headersTimeout: REALTIME_TIMEOUT_MS, bodyTimeout: REALTIME_TIMEOUT_MS, signal: AbortSignal.timeout(REALTIME_TIMEOUT_MS),
      }).catch((err: Error) => ({ failure: err }) as const);
      if ('failure' in res) {
        return modelError(reply, 0, `Received server error (0) from primary with message "${res.failure.name === 'TimeoutError' ? 'Your invocation timed out while waiting for a response from container primary.' : res.failure.message}". See the server log for more information.`, '');
      }
      const body = Buffer.from(await res.body.arrayBuffer());
      if (res.statusCode < 200 || res.statusCode >= 300) {
        const kind = res.statusCode < 500 ? 'client' : 'server';
        const text = body.toString('utf8');
        return modelError(reply, res.statusCode, `Received ${kind} error (${res.statusCode}) from primary with message "${text.slice(0, 1024)}". See the server log for more information.`, text);
      }
      reply.code(200).header('x-amzn-RequestId', randomUUID()).header('content-type', String(res.headers['content-type'] ?? 'application/octet-stream'));
      const attributes = res.headers['x-amzn-sagemaker-custom-attributes'];
      if (attributes !== undefined) reply.header('X-Amzn-SageMaker-Custom-Attributes', String(attributes));
      return reply.send(body);
    } finally {
      inFlight.set(instance.id, (inFlight.get(instance.id) ?? 1) - 1);
    }

    function modelError(r: typeof reply, status: number, message: string, original: string) {
      return r.code(424).header('x-amzn-RequestId', randomUUID()).header('x-amzn-ErrorType', 'ModelError').header('content-type', 'application/json')
        .send(JSON.stringify({
          message, Message: message, OriginalStatusCode: status, OriginalMessage: original,
          LogStreamArn: `arn:aws:logs:${deps.region}:${deps.accountId}:log-group:/aws/sagemaker/Endpoints/${name}`,
        }));
    }
  });
}

function leastBusy(instances: readonly Instance[], inFlight: Map<string, number>): Instance | undefined {
  let best: Instance | undefined;
  for (const i of instances) if (!best || (inFlight.get(i.id) ?? 0) < (inFlight.get(best.id) ?? 0)) best = i;
  return best;
}

/**
 * The SageMaker control plane (awsJson1_1) on the runtime's port: `POST /` with
 * `X-Amz-Target: SageMaker.<Operation>` and a JSON body; timestamps are epoch seconds; every error
 * is `{"__type","message"}` with status 400 (5xx only for our own faults).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { AppError } from '../../errors.js';
import { sendControlPlaneError, toWireError } from '../aws-error.js';
import { discardUnreadBody } from '../discard-body.js';
import type { Access } from '../sagemaker-auth.js';
import { checkShape } from '../../domain/index.js';
import { arn, DEFAULT_LIMITS, type ArnKind, type ControlPlaneContext } from './context.js';
import { createEndpointConfig, deleteEndpointConfig, describeEndpointConfig, listEndpointConfigs } from './endpoint-configs.js';
import { createEndpoint, deleteEndpoint, describeEndpoint, listEndpoints, updateEndpoint, updateEndpointWeightsAndCapacities } from './endpoints.js';
import { inputShapes } from './input-shapes.js';
import { createModel, deleteModel, describeModel, listModels } from './models.js';

type Operation = (ctx: ControlPlaneContext, input: never) => Promise<object>;

/**
 * Looked up by the caller's X-Amz-Target, so a Map: only these names are operations (a plain
 * object would also answer `constructor`, `toString`, `__proto__`...).
 */
const OPERATIONS = new Map<string, Operation>([
  ['CreateModel', createModel],
  ['DescribeModel', describeModel],
  ['DeleteModel', deleteModel],
  ['ListModels', listModels],
  ['CreateEndpointConfig', createEndpointConfig],
  ['DescribeEndpointConfig', describeEndpointConfig],
  ['DeleteEndpointConfig', deleteEndpointConfig],
  ['ListEndpointConfigs', listEndpointConfigs],
  ['DescribeEndpoint', describeEndpoint],
  ['ListEndpoints', listEndpoints],
  ['CreateEndpoint', createEndpoint],
  ['DeleteEndpoint', deleteEndpoint],
  ['UpdateEndpoint', updateEndpoint],
  ['UpdateEndpointWeightsAndCapacities', updateEndpointWeightsAndCapacities],
]);

/** The resource each operation acts on, by the request member that names it; List* act on "*". */
const NAMED_BY = new Map<string, [ArnKind, string]>([
  ['CreateModel', ['model', 'ModelName']], ['DescribeModel', ['model', 'ModelName']], ['DeleteModel', ['model', 'ModelName']],
  ['CreateEndpointConfig', ['endpoint-config', 'EndpointConfigName']], ['DescribeEndpointConfig', ['endpoint-config', 'EndpointConfigName']], ['DeleteEndpointConfig', ['endpoint-config', 'EndpointConfigName']],
  ['CreateEndpoint', ['endpoint', 'EndpointName']], ['DescribeEndpoint', ['endpoint', 'EndpointName']], ['DeleteEndpoint', ['endpoint', 'EndpointName']],
  ['UpdateEndpoint', ['endpoint', 'EndpointName']], ['UpdateEndpointWeightsAndCapacities', ['endpoint', 'EndpointName']],
]);

/** How much of an unknown X-Amz-Target is echoed. */
const MAX_ECHOED_TARGET = 128;

function operationName(request: FastifyRequest): string {
  const target = request.headers['x-amz-target'];
  const [service, name] = String(target ?? '').split('.');
  return service === 'SageMaker' && name !== undefined && OPERATIONS.has(name) ? name : '';
}

/** The IAM action and resource of a control-plane call: `sagemaker:<Operation>` on the ARN of what it names. */
function accessOf(ctx: ControlPlaneContext, request: FastifyRequest): Access {
  const operation = operationName(request);
  const named = NAMED_BY.get(operation);
  let name: unknown;
  try {
    const body = named && parseBody(request.body as Buffer | undefined);
    name = named && body && Object.hasOwn(body, named[1]) ? body[named[1]] : undefined;
  } catch {
    // The operation answers the bad body itself, once the caller may call it at all.
  }
  return { action: `sagemaker:${operation || '*'}`, resource: named && typeof name === 'string' ? arn(ctx, named[0], name) : '*' };
}

export function registerControlPlaneRoutes(app: FastifyInstance, ctx: ControlPlaneContext, logger: Logger): void {
  const shapes = inputShapes(ctx.limits ?? DEFAULT_LIMITS);
  const errorHandler = (err: Error & { code?: string }, request: FastifyRequest, reply: FastifyReply) => {
    const requestId = randomUUID();
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      reply.removeHeader('connection');
      discardUnreadBody(request.raw);
      const limit = request.routeOptions.bodyLimit ?? 0;
      return sendControlPlaneError(reply, requestId, {
        status: 400, code: 'ValidationException',
        message: `1 validation error detected: Value at 'body' failed to satisfy constraint: Member must have length less than or equal to ${limit} (the most this server reads of a control-plane request)`,
      });
    }
    const wire = toWireError(err);
    if (wire.status >= 500) logger.error({ err, requestId, target: request.headers['x-amz-target'] }, 'control-plane request failed');
    return sendControlPlaneError(reply, requestId, wire);
  };
  // Every error, the handler's own included, is answered by errorHandler in the control plane's shape.
  app.post('/', { config: { access: (request) => accessOf(ctx, request) }, errorHandler }, async (request, reply) => {
    const target = String(request.headers['x-amz-target'] ?? '');
    const name = operationName(request);
    const operation = OPERATIONS.get(name);
    const shape = shapes.get(name);
    if (!operation || !shape) {
      const shown = target.length > MAX_ECHOED_TARGET ? `${target.slice(0, MAX_ECHOED_TARGET)}...` : target;
      throw new AppError('UnknownOperation', target === ''
        ? 'Missing X-Amz-Target header: the SageMaker API is POST / with X-Amz-Target: SageMaker.<Operation>.'
        : `Unknown operation ${JSON.stringify(shown)}. Supported: ${[...OPERATIONS.keys()].map((o) => `SageMaker.${o}`).join(', ')}.`);
    }
    const input = parseBody(request.body as Buffer | undefined);
    const problems = checkShape(shape, input);
    if (problems.types.length > 0) {
      const n = problems.types.length;
      throw new AppError('SerializationException', `${n} serialization error${n === 1 ? '' : 's'} detected: ${problems.types.join('; ')}`);
    }
    const message = problems.constraints.message();
    if (message) throw new AppError('ValidationException', message);
    const result = await operation(ctx, input as never);
    return reply.code(200).header('x-amzn-RequestId', randomUUID()).header('content-type', 'application/x-amz-json-1.1').send(JSON.stringify(result));
  });
}


function parseBody(body: Buffer | undefined): Record<string, unknown> {
  if (!body || body.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new AppError('SerializationException', `The request body is not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new AppError('SerializationException', 'The request body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}

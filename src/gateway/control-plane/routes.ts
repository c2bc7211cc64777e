/**
 * The SageMaker control plane (awsJson1_1) on the runtime's port: `POST /` with
 * `X-Amz-Target: SageMaker.<Operation>` and a JSON body; timestamps are epoch seconds; every error
 * is `{"__type","message"}` with status 400 (5xx only for our own faults).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { AppError } from '../../errors.js';
import { sendControlPlaneError, toWireError } from '../aws-error.js';
import type { Access } from '../sagemaker-auth.js';
import { arn, type ArnKind, type ControlPlaneContext } from './context.js';
import { createEndpointConfig, deleteEndpointConfig, describeEndpointConfig, listEndpointConfigs } from './endpoint-configs.js';
import { createEndpoint, deleteEndpoint, describeEndpoint, listEndpoints, updateEndpoint, updateEndpointWeightsAndCapacities } from './endpoints.js';
import { createModel, deleteModel, describeModel, listModels } from './models.js';

type Operation = (ctx: ControlPlaneContext, input: never) => Promise<object>;

const OPERATIONS: Record<string, Operation> = {
  CreateModel: createModel,
  DescribeModel: describeModel,
  DeleteModel: deleteModel,
  ListModels: listModels,
  CreateEndpointConfig: createEndpointConfig,
  DescribeEndpointConfig: describeEndpointConfig,
  DeleteEndpointConfig: deleteEndpointConfig,
  ListEndpointConfigs: listEndpointConfigs,
  DescribeEndpoint: describeEndpoint,
  ListEndpoints: listEndpoints,
  CreateEndpoint: createEndpoint,
  DeleteEndpoint: deleteEndpoint,
  UpdateEndpoint: updateEndpoint,
  UpdateEndpointWeightsAndCapacities: updateEndpointWeightsAndCapacities,
};

/** The resource each operation acts on, by the request member that names it; List* act on "*". */
const NAMED_BY: Record<string, [ArnKind, string]> = {
  CreateModel: ['model', 'ModelName'], DescribeModel: ['model', 'ModelName'], DeleteModel: ['model', 'ModelName'],
  CreateEndpointConfig: ['endpoint-config', 'EndpointConfigName'], DescribeEndpointConfig: ['endpoint-config', 'EndpointConfigName'], DeleteEndpointConfig: ['endpoint-config', 'EndpointConfigName'],
  CreateEndpoint: ['endpoint', 'EndpointName'], DescribeEndpoint: ['endpoint', 'EndpointName'], DeleteEndpoint: ['endpoint', 'EndpointName'],
  UpdateEndpoint: ['endpoint', 'EndpointName'], UpdateEndpointWeightsAndCapacities: ['endpoint', 'EndpointName'],
};

/** The IAM action and resource of a control-plane call: `sagemaker:<Operation>` on the ARN of what it names. */
function accessOf(ctx: ControlPlaneContext, request: FastifyRequest): Access {
  const operation = String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
  const named = NAMED_BY[operation];
  let name: unknown;
  try {
    name = named && (parseBody(request.body as Buffer | undefined))[named[1]];
  } catch {
    // The operation answers the bad body itself, once the caller may call it at all.
  }
  return { action: `sagemaker:${operation || '*'}`, resource: named && typeof name === 'string' ? arn(ctx, named[0], name) : '*' };
}

export function registerControlPlaneRoutes(app: FastifyInstance, ctx: ControlPlaneContext, logger: Logger): void {
  app.post('/', { config: { access: (request) => accessOf(ctx, request) } }, async (request, reply) => {
    const requestId = randomUUID();
    try {
      const target = String(request.headers['x-amz-target'] ?? '');
      const [service, name] = target.split('.');
      const operation = service === 'SageMaker' && name !== undefined ? OPERATIONS[name] : undefined;
      if (!operation) {
        throw new AppError('UnknownOperation', target === ''
          ? 'Missing X-Amz-Target header: the SageMaker API is POST / with X-Amz-Target: SageMaker.<Operation>.'
          : `Unknown operation ${target}. Supported: ${Object.keys(OPERATIONS).map((o) => `SageMaker.${o}`).join(', ')}.`);
      }
      const result = await operation(ctx, parseBody(request.body as Buffer | undefined) as never);
      return await reply.code(200).header('x-amzn-RequestId', requestId).header('content-type', 'application/x-amz-json-1.1').send(JSON.stringify(result));
    } catch (err) {
      const wire = toWireError(err);
      if (wire.status >= 500) logger.error({ err, requestId, target: request.headers['x-amz-target'] }, 'control-plane request failed');
      return sendControlPlaneError(reply, requestId, wire);
    }
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

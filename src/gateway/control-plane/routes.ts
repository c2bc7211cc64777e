/**
 * The SageMaker control plane (awsJson1_1) on the runtime's port: `POST /` with
 * `X-Amz-Target: SageMaker.<Operation>` and a JSON body; timestamps are epoch seconds; every error
 * is `{"__type","message"}` with status 400 (5xx only for our own faults).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AppError } from '../../errors.js';
import { sendControlPlaneError, toWireError } from '../aws-error.js';
import type { ControlPlaneContext } from './context.js';
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

export function registerControlPlaneRoutes(app: FastifyInstance, ctx: ControlPlaneContext, logger: Logger): void {
  app.post('/', async (request, reply) => {
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

/**
 * DescribeEndpoint and ListEndpoints. Endpoints from the config file are shown InService, with
 * their live instance counts; creating, updating and deleting endpoints through the API is not
 * implemented yet and answers ValidationException saying so.
 */
import { AppError } from '../../errors.js';
import { arn, epochSeconds, notFound, type ConfiguredEndpoint, type ControlPlaneContext } from './context.js';
import { listPage, type ListRequest } from './list-page.js';
import { requireName } from './models.js';

const STATUSES = ['OutOfService', 'Creating', 'Updating', 'SystemUpdating', 'RollingBack', 'InService', 'Deleting', 'Failed', 'UpdateRollbackFailed'] as const;

function describe(ctx: ControlPlaneContext, ep: ConfiguredEndpoint): Record<string, unknown> {
  const { current, desired } = ep.instances();
  const time = epochSeconds(ep.createdAtMs);
  return {
    EndpointName: ep.name,
    EndpointArn: arn(ctx, 'endpoint', ep.name),
    // A config-file endpoint has no separate endpoint configuration; it is named after the endpoint.
    EndpointConfigName: ep.name,
    ProductionVariants: [{
      VariantName: ep.variantName, CurrentWeight: 1, DesiredWeight: 1,
      CurrentInstanceCount: current, DesiredInstanceCount: desired,
    }],
    EndpointStatus: 'InService',
    CreationTime: time,
    LastModifiedTime: time,
    AsyncInferenceConfig: ep.asyncInferenceConfig,
  };
}

export async function describeEndpoint(ctx: ControlPlaneContext, input: { EndpointName?: string }): Promise<object> {
  const name = requireName(input.EndpointName, 'endpointName');
  const ep = ctx.configuredEndpoints.find((e) => e.name === name);
  if (!ep) throw notFound(ctx, 'endpoint', name);
  return describe(ctx, ep);
}

export async function listEndpoints(ctx: ControlPlaneContext, input: ListRequest): Promise<object> {
  const items = ctx.configuredEndpoints.map((ep) => ({ name: ep.name, createdAtMs: ep.createdAtMs, updatedAtMs: ep.createdAtMs, status: 'InService', ep }));
  const { page, nextToken } = listPage(items, input, { sortBy: ['Name', 'CreationTime', 'Status'], statuses: STATUSES });
  return {
    Endpoints: page.map(({ ep }) => {
      const d = describe(ctx, ep);
      return { EndpointName: d.EndpointName, EndpointArn: d.EndpointArn, CreationTime: d.CreationTime, LastModifiedTime: d.LastModifiedTime, EndpointStatus: d.EndpointStatus };
    }),
    ...(nextToken && { NextToken: nextToken }),
  };
}

/** Until endpoint lifecycle through the API exists, say so plainly rather than pretend. */
export async function notYetSupported(operation: string): Promise<never> {
  throw new AppError('ValidationException',
    `${operation} is not supported by this asyncinfer yet: define endpoints in the config file (see docs/configuration.md). Models and endpoint configurations can be managed through the API.`);
}

/**
 * Endpoints. Two kinds share the API:
 * - from the config file: always InService, read-only through the API;
 * - created with CreateEndpoint: Creating → InService once every instance answers /ping (or
 *   Failed with a FailureReason after ContainerStartupHealthCheckTimeoutInSeconds), Deleting → gone.
 *   They are kept in the catalog and come back after a restart.
 * UpdateEndpoint and UpdateEndpointWeightsAndCapacities are not implemented yet and say so.
 */
import { constraints } from '../../domain/index.js';
import { AppError } from '../../errors.js';
import { alreadyExists, arn, epochSeconds, notFound, type ConfiguredEndpoint, type ControlPlaneContext } from './context.js';
import { listPage, type ListRequest } from './list-page.js';
import { requireName } from './models.js';

const STATUSES = ['OutOfService', 'Creating', 'Updating', 'SystemUpdating', 'RollingBack', 'InService', 'Deleting', 'Failed', 'UpdateRollbackFailed'] as const;
const ENDPOINT_NAME = { min: 1, max: 63, pattern: /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/, patternText: '^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}' };
const DEFAULT_STARTUP_TIMEOUT_SECONDS = 240;

interface EndpointDoc {
  EndpointName: string;
  EndpointArn: string;
  EndpointConfigName: string;
  EndpointStatus: (typeof STATUSES)[number];
  FailureReason?: string;
  Tags?: unknown[];
}

interface Variant { VariantName: string; ModelName: string; InitialInstanceCount?: number; InitialVariantWeight?: number; ContainerStartupHealthCheckTimeoutInSeconds?: number }
interface ConfigDoc { ProductionVariants: Variant[]; AsyncInferenceConfig?: { ClientConfig?: { MaxConcurrentInvocationsPerInstance?: number }; OutputConfig: { S3OutputPath?: string; S3FailurePath?: string } } }
interface ModelDoc { PrimaryContainer?: { Image?: string; Environment?: Record<string, string>; ModelDataUrl?: string }; Containers?: ModelDoc['PrimaryContainer'][] }

function describeConfigured(ctx: ControlPlaneContext, ep: ConfiguredEndpoint): Record<string, unknown> {
  const { current, desired } = ep.instances();
  const time = epochSeconds(ep.createdAtMs);
  return {
    EndpointName: ep.name,
    EndpointArn: arn(ctx, 'endpoint', ep.name),
    // A config-file endpoint has no separate endpoint configuration; it is named after the endpoint.
    EndpointConfigName: ep.name,
    ProductionVariants: [{ VariantName: ep.variantName, CurrentWeight: 1, DesiredWeight: 1, CurrentInstanceCount: current, DesiredInstanceCount: desired }],
    EndpointStatus: 'InService',
    CreationTime: time,
    LastModifiedTime: time,
    AsyncInferenceConfig: ep.asyncInferenceConfig,
  };
}

async function describeCreated(ctx: ControlPlaneContext, name: string): Promise<Record<string, unknown> | undefined> {
  const resource = await ctx.catalog.get('endpoint', name);
  if (!resource) return undefined;
  const doc = resource.doc as unknown as EndpointDoc;
  const config = (await ctx.catalog.get('endpoint-config', doc.EndpointConfigName))?.doc as unknown as ConfigDoc | undefined;
  const variants = (config?.ProductionVariants ?? []).map((v) => ({
    VariantName: v.VariantName, CurrentWeight: v.InitialVariantWeight ?? 1, DesiredWeight: v.InitialVariantWeight ?? 1,
    CurrentInstanceCount: ctx.deployer.readyInstances(name), DesiredInstanceCount: v.InitialInstanceCount ?? 1,
  }));
  return {
    ...doc,
    ProductionVariants: variants,
    ...(config?.AsyncInferenceConfig && { AsyncInferenceConfig: config.AsyncInferenceConfig }),
    CreationTime: epochSeconds(resource.createdAtMs),
    LastModifiedTime: epochSeconds(resource.updatedAtMs),
  };
}

export async function describeEndpoint(ctx: ControlPlaneContext, input: { EndpointName?: string }): Promise<object> {
  const name = requireName(input.EndpointName, 'endpointName');
  const configured = ctx.configuredEndpoints.find((e) => e.name === name);
  if (configured) return describeConfigured(ctx, configured);
  const created = await describeCreated(ctx, name);
  if (!created) throw notFound(ctx, 'endpoint', name);
  return created;
}

export async function listEndpoints(ctx: ControlPlaneContext, input: ListRequest): Promise<object> {
  const configured = ctx.configuredEndpoints.map((ep) => ({ name: ep.name, createdAtMs: ep.createdAtMs, updatedAtMs: ep.createdAtMs, status: 'InService' }));
  const created = (await ctx.catalog.list('endpoint')).map((r) => ({ name: r.name, createdAtMs: r.createdAtMs, updatedAtMs: r.updatedAtMs, status: (r.doc as unknown as EndpointDoc).EndpointStatus }));
  const { page, nextToken } = listPage([...configured, ...created], input, { sortBy: ['Name', 'CreationTime', 'Status'], statuses: STATUSES });
  return {
    Endpoints: page.map((e) => ({
      EndpointName: e.name, EndpointArn: arn(ctx, 'endpoint', e.name), CreationTime: epochSeconds(e.createdAtMs),
      LastModifiedTime: epochSeconds(e.updatedAtMs), EndpointStatus: e.status,
    })),
    ...(nextToken && { NextToken: nextToken }),
  };
}

export async function createEndpoint(ctx: ControlPlaneContext, input: { EndpointName?: string; EndpointConfigName?: string; Tags?: unknown[] }): Promise<object> {
  const c = constraints();
  if (c.required('endpointName', input.EndpointName)) c.string('endpointName', input.EndpointName, ENDPOINT_NAME);
  if (c.required('endpointConfigName', input.EndpointConfigName)) c.string('endpointConfigName', input.EndpointConfigName, ENDPOINT_NAME);
  c.length('tags', input.Tags, 0, 50);
  const problems = c.message();
  if (problems) throw new AppError('ValidationException', problems);
  const name = input.EndpointName!;
  const configName = input.EndpointConfigName!;

  if (ctx.configuredEndpoints.some((e) => e.name === name)) throw alreadyExists(ctx, 'endpoint', name);
  const config = (await ctx.catalog.get('endpoint-config', configName))?.doc as unknown as ConfigDoc | undefined;
  if (!config) throw notFound(ctx, 'endpoint-config', configName);
  if (!config.AsyncInferenceConfig) {
    throw new AppError('ValidationException', `Endpoint configuration "${configName}" has no AsyncInferenceConfig: this asyncinfer serves asynchronous endpoints only (real-time InvokeEndpoint is not implemented yet).`);
  }
  if (config.ProductionVariants.length !== 1) {
    throw new AppError('ValidationException', 'An asynchronous endpoint has exactly one production variant.');
  }
  const variant = config.ProductionVariants[0]!;
  if (!(await ctx.catalog.get('model', variant.ModelName))) throw notFound(ctx, 'model', variant.ModelName);

  const doc: EndpointDoc = {
    EndpointName: name, EndpointArn: arn(ctx, 'endpoint', name), EndpointConfigName: configName, EndpointStatus: 'Creating',
    ...(input.Tags && { Tags: input.Tags }),
  };
  if (!(await ctx.catalog.create('endpoint', name, doc))) throw alreadyExists(ctx, 'endpoint', name);
  void bringUp(ctx, name);
  return { EndpointArn: doc.EndpointArn };
}

/**
 * Creating → InService or Failed. Also used after a restart for endpoints that were serving.
 * Never throws: every outcome ends in the endpoint's status.
 */
export async function bringUp(ctx: ControlPlaneContext, name: string): Promise<void> {
  const setStatus = async (status: EndpointDoc['EndpointStatus'], failureReason?: string) => {
    const current = (await ctx.catalog.get('endpoint', name))?.doc as unknown as EndpointDoc | undefined;
    if (!current || current.EndpointStatus === 'Deleting') return;
    const { FailureReason: _drop, ...rest } = current;
    await ctx.catalog.update('endpoint', name, { ...rest, EndpointStatus: status, ...(failureReason && { FailureReason: failureReason }) });
  };
  try {
    const doc = (await ctx.catalog.get('endpoint', name))?.doc as unknown as EndpointDoc;
    const config = (await ctx.catalog.get('endpoint-config', doc.EndpointConfigName))?.doc as unknown as ConfigDoc | undefined;
    const variant = config?.ProductionVariants[0];
    const model = variant && (await ctx.catalog.get('model', variant.ModelName))?.doc as unknown as ModelDoc | undefined;
    const container = model?.PrimaryContainer ?? model?.Containers?.[0];
    if (!config?.AsyncInferenceConfig || !variant || !container?.Image) {
      await setStatus('Failed', 'The endpoint configuration or model it refers to no longer exists or has no container image.');
      return;
    }
    const out = config.AsyncInferenceConfig.OutputConfig;
    if (!out.S3OutputPath?.startsWith('s3://')) {
      await setStatus('Failed', 'AsyncInferenceConfig.OutputConfig.S3OutputPath must be an s3:// URI for this server to write outputs.');
      return;
    }
    const startupTimeoutSeconds = variant.ContainerStartupHealthCheckTimeoutInSeconds ?? DEFAULT_STARTUP_TIMEOUT_SECONDS;
    const instanceCount = variant.InitialInstanceCount ?? 1;
    await ctx.deployer.deploy({
      name, image: container.Image, environment: container.Environment ?? {},
      ...(container.ModelDataUrl !== undefined && { modelDataUrl: container.ModelDataUrl }),
      instanceCount,
      maxConcurrencyPerInstance: config.AsyncInferenceConfig.ClientConfig?.MaxConcurrentInvocationsPerInstance ?? 1,
      s3OutputPath: out.S3OutputPath, ...(out.S3FailurePath !== undefined && { s3FailurePath: out.S3FailurePath }),
      startupTimeoutSeconds,
    });
    if (await ctx.deployer.waitUntilReady(name, instanceCount, startupTimeoutSeconds * 1000)) {
      await setStatus('InService');
    } else {
      await ctx.deployer.undeploy(name);
      await setStatus('Failed', `The container for variant ${variant.VariantName} did not pass the ping health check (GET /ping answering 200) within ContainerStartupHealthCheckTimeoutInSeconds (${startupTimeoutSeconds} s). Check the model's logs in the server log.`);
    }
  } catch (err) {
    await ctx.deployer.undeploy(name).catch(() => undefined);
    await setStatus('Failed', (err as Error).message).catch(() => undefined);
  }
}

export async function deleteEndpoint(ctx: ControlPlaneContext, input: { EndpointName?: string }): Promise<object> {
  const name = requireName(input.EndpointName, 'endpointName');
  if (ctx.configuredEndpoints.some((e) => e.name === name)) {
    throw new AppError('ValidationException', `Endpoint "${arn(ctx, 'endpoint', name)}" is defined in the config file; remove it there and restart to delete it.`);
  }
  const resource = await ctx.catalog.get('endpoint', name);
  if (!resource) throw notFound(ctx, 'endpoint', name);
  const doc = resource.doc as unknown as EndpointDoc;
  if (doc.EndpointStatus === 'Creating' || doc.EndpointStatus === 'Updating') {
    throw new AppError('ValidationException', `Cannot update in-progress endpoint "${doc.EndpointArn}".`);
  }
  if (doc.EndpointStatus !== 'Deleting') {
    await ctx.catalog.update('endpoint', name, { ...doc, EndpointStatus: 'Deleting' });
    void (async () => {
      await ctx.deployer.undeploy(name).catch(() => undefined);
      await ctx.catalog.delete('endpoint', name);
    })();
  }
  return {};
}

/** Until these exist, say so plainly rather than pretend. */
export async function notYetSupported(operation: string): Promise<never> {
  throw new AppError('ValidationException',
    `${operation} is not supported by this asyncinfer yet: create a new endpoint configuration and endpoint instead (CreateEndpointConfig, CreateEndpoint), or change the config file.`);
}

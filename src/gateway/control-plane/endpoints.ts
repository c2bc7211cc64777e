/**
 * Endpoints. Two kinds share the API:
 * - from the config file: always InService, read-only through the API;
 * - created with CreateEndpoint: Creating → InService once every instance answers /ping (or
 *   Failed with a FailureReason after ContainerStartupHealthCheckTimeoutInSeconds), Deleting → gone.
 *   They are kept in the catalog and come back after a restart.
 * UpdateEndpoint rolls out beside the running instances and UpdateEndpointWeightsAndCapacities
 * resizes in place (Updating → InService); neither loses anything queued or running. A
 * DesiredInstanceCount pins the count (0 included): on a config endpoint until the server restarts,
 * overriding its autoscaling; on a created one it is kept with the endpoint.
 */
import { constraints, notificationSettings, testNotificationDrafts, type EndpointNotifications } from '../../domain/index.js';
import { AppError } from '../../errors.js';
import { alreadyExists, arn, DEFAULT_LIMITS, epochSeconds, notFound, type ConfiguredEndpoint, type ControlPlaneContext, type EndpointDeployment } from './context.js';
import { listPage, type ListRequest } from './list-page.js';
import { requireName } from './stored-resource-ops.js';

const STATUSES = ['OutOfService', 'Creating', 'Updating', 'SystemUpdating', 'RollingBack', 'InService', 'Deleting', 'Failed', 'UpdateRollbackFailed'] as const;
const DEFAULT_STARTUP_TIMEOUT_SECONDS = 240;

export interface EndpointDoc {
  EndpointName: string;
  /** Set by UpdateEndpointWeightsAndCapacities; otherwise the variant's InitialInstanceCount. */
  DesiredInstanceCount?: number;
  LastDeploymentConfig?: unknown;
  EndpointArn: string;
  EndpointConfigName: string;
  EndpointStatus: (typeof STATUSES)[number];
  FailureReason?: string;
  Tags?: unknown[];
}

interface Variant { VariantName: string; ModelName: string; InitialInstanceCount?: number; InitialVariantWeight?: number; ContainerStartupHealthCheckTimeoutInSeconds?: number; ModelDataDownloadTimeoutInSeconds?: number }
interface NotificationConfig { SuccessTopic?: string; ErrorTopic?: string; IncludeInferenceResponseIn?: string[] }
interface ConfigDoc { ProductionVariants: Variant[]; AsyncInferenceConfig?: { ClientConfig?: { MaxConcurrentInvocationsPerInstance?: number }; OutputConfig: { S3OutputPath?: string; S3FailurePath?: string; NotificationConfig?: NotificationConfig } } }
interface ModelDoc { PrimaryContainer?: { Image?: string; Environment?: Record<string, string>; ModelDataUrl?: string }; Containers?: ModelDoc['PrimaryContainer'][] }

async function describeConfigured(ctx: ControlPlaneContext, ep: ConfiguredEndpoint): Promise<Record<string, unknown>> {
  const { current, desired } = await ep.instances();
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
    ...(ep.asyncInferenceConfig && { AsyncInferenceConfig: ep.asyncInferenceConfig }),
  };
}

async function describeCreated(ctx: ControlPlaneContext, name: string): Promise<Record<string, unknown> | undefined> {
  const resource = await ctx.catalog.get('endpoint', name);
  if (!resource) return undefined;
  const doc = resource.doc as unknown as EndpointDoc;
  const config = (await ctx.catalog.get('endpoint-config', doc.EndpointConfigName))?.doc as unknown as ConfigDoc | undefined;
  const current = await ctx.deployer.readyInstances(name);
  const variants = (config?.ProductionVariants ?? []).map((v) => ({
    VariantName: v.VariantName, CurrentWeight: v.InitialVariantWeight ?? 1, DesiredWeight: v.InitialVariantWeight ?? 1,
    CurrentInstanceCount: current, DesiredInstanceCount: doc.DesiredInstanceCount ?? v.InitialInstanceCount ?? 1,
  }));
  const { DesiredInstanceCount: _count, ...shown } = doc;
  return {
    ...shown,
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

/** Inputs are already of their shape (routes.ts checks them first). */
export async function createEndpoint(ctx: ControlPlaneContext, input: { EndpointName: string; EndpointConfigName: string; Tags?: unknown[]; DeploymentConfig?: unknown }): Promise<object> {
  const name = input.EndpointName;
  const configName = input.EndpointConfigName;

  if (ctx.configuredEndpoints.some((e) => e.name === name)) throw alreadyExists(ctx, 'endpoint', name);
  const config = await checkEndpointConfig(ctx, configName);
  await checkServerInstances(ctx, name, config.ProductionVariants[0]?.InitialInstanceCount ?? 1, `initialInstanceCount of endpoint configuration "${configName}"`);

  const doc: EndpointDoc = {
    EndpointName: name, EndpointArn: arn(ctx, 'endpoint', name), EndpointConfigName: configName, EndpointStatus: 'Creating',
    ...(input.Tags && { Tags: input.Tags }),
    ...(input.DeploymentConfig !== undefined && { LastDeploymentConfig: input.DeploymentConfig }),
  };
  if (!(await ctx.catalog.create('endpoint', name, doc))) throw alreadyExists(ctx, 'endpoint', name);
  void bringUp(ctx, name);
  await sendTestNotifications(ctx, name, config);
  return { EndpointArn: doc.EndpointArn };
}

/** What to run for an endpoint with this configuration, or why it cannot run. */
export async function resolveDeployment(ctx: ControlPlaneContext, name: string, configName: string, instanceOverride?: number): Promise<EndpointDeployment | string> {
  const config = (await ctx.catalog.get('endpoint-config', configName))?.doc as unknown as ConfigDoc | undefined;
  const variant = config?.ProductionVariants[0];
  const model = variant && (await ctx.catalog.get('model', variant.ModelName))?.doc as unknown as ModelDoc | undefined;
  const container = model?.PrimaryContainer ?? model?.Containers?.[0];
  if (!config || !variant || !container?.Image) {
    return 'The endpoint configuration or the model it refers to no longer exists, or has no container image.';
  }
  const asyncConfig = config.AsyncInferenceConfig;
  const out = asyncConfig?.OutputConfig;
  if (out && !out.S3OutputPath?.startsWith('s3://')) return 'AsyncInferenceConfig.OutputConfig.S3OutputPath must be an s3:// URI for this server to write outputs.';
  return {
    name, configName, variantName: variant.VariantName, image: container.Image, environment: container.Environment ?? {},
    ...(container.ModelDataUrl !== undefined && { modelDataUrl: container.ModelDataUrl }),
    ...(typeof variant.ModelDataDownloadTimeoutInSeconds === 'number' && { modelDataDownloadTimeoutSeconds: variant.ModelDataDownloadTimeoutInSeconds }),
    instanceCount: instanceOverride ?? variant.InitialInstanceCount ?? 1,
    ...(asyncConfig && out && {
      async: {
        maxConcurrencyPerInstance: asyncConfig.ClientConfig?.MaxConcurrentInvocationsPerInstance ?? 1,
        s3OutputPath: out.S3OutputPath!, ...(out.S3FailurePath !== undefined && { s3FailurePath: out.S3FailurePath }),
        ...(out.NotificationConfig && { notification: notificationSettings(out.NotificationConfig)! }),
      },
    }),
    startupTimeoutSeconds: variant.ContainerStartupHealthCheckTimeoutInSeconds ?? DEFAULT_STARTUP_TIMEOUT_SECONDS,
  };
}

async function readDoc(ctx: ControlPlaneContext, name: string): Promise<EndpointDoc | undefined> {
  return (await ctx.catalog.get('endpoint', name))?.doc as unknown as EndpointDoc | undefined;
}

/** Writes the endpoint's new state, unless it is being deleted meanwhile. */
async function settle(ctx: ControlPlaneContext, name: string, changes: Partial<EndpointDoc>, failureReason?: string): Promise<void> {
  const current = await readDoc(ctx, name);
  if (!current || current.EndpointStatus === 'Deleting') return;
  const { FailureReason: _previous, ...rest } = current;
  await ctx.catalog.update('endpoint', name, { ...rest, ...changes, ...(failureReason !== undefined && { FailureReason: failureReason }) });
}

/**
 * Creating → InService or Failed. Also used after a restart for endpoints that were serving.
 * Never throws: every outcome ends in the endpoint's status.
 */
export async function bringUp(ctx: ControlPlaneContext, name: string): Promise<void> {
  try {
    const doc = await readDoc(ctx, name);
    if (!doc) return;
    const deployment = await resolveDeployment(ctx, name, doc.EndpointConfigName, doc.DesiredInstanceCount);
    if (typeof deployment === 'string') return await settle(ctx, name, { EndpointStatus: 'Failed' }, deployment);
    await ctx.deployer.deploy(deployment);
    if (await ctx.deployer.waitUntilReady(name, deployment.instanceCount, deployment.startupTimeoutSeconds * 1000)) {
      await settle(ctx, name, { EndpointStatus: 'InService' });
    } else {
      await ctx.deployer.undeploy(name);
      await settle(ctx, name, { EndpointStatus: 'Failed' }, notReadyReason(deployment));
    }
  } catch (err) {
    await ctx.deployer.undeploy(name).catch(() => undefined);
    await settle(ctx, name, { EndpointStatus: 'Failed' }, (err as Error).message).catch(() => undefined);
  }
}

/**
 * Updating → InService. The new configuration (or instance count) rolls out beside the old one;
 * if it cannot start, the old one goes on serving and FailureReason says why (as SageMaker rolls
 * back a failed update). Never throws.
 */
async function rollOut(ctx: ControlPlaneContext, name: string, next: { configName: string }): Promise<void> {
  try {
    const deployment = await resolveDeployment(ctx, name, next.configName);
    if (typeof deployment === 'string') return await settle(ctx, name, { EndpointStatus: 'InService' }, `Update failed and was rolled back: ${deployment}`);
    if (await ctx.deployer.redeploy(deployment)) {
      await settle(ctx, name, {
        // The new configuration's InitialInstanceCount replaces an earlier pin, as on SageMaker.
        EndpointStatus: 'InService', EndpointConfigName: next.configName, DesiredInstanceCount: deployment.instanceCount,
      });
    } else {
      await settle(ctx, name, { EndpointStatus: 'InService' }, `Update failed and was rolled back: ${notReadyReason(deployment)}`);
    }
  } catch (err) {
    await settle(ctx, name, { EndpointStatus: 'InService' }, `Update failed and was rolled back: ${(err as Error).message}`).catch(() => undefined);
  }
}

function notReadyReason(d: EndpointDeployment): string {
  return `The container did not pass the ping health check (GET /ping answering 200 on all ${d.instanceCount} instances) within ContainerStartupHealthCheckTimeoutInSeconds (${d.startupTimeoutSeconds} s). Check the model's logs in the server log.`;
}

/** An API-created endpoint that can be changed now, or the AWS error saying why not. */
async function changeableEndpoint(ctx: ControlPlaneContext, name: string): Promise<EndpointDoc> {
  if (ctx.configuredEndpoints.some((e) => e.name === name)) {
    throw new AppError('ValidationException', `Endpoint "${arn(ctx, 'endpoint', name)}" is defined in the config file; change it there and restart.`);
  }
  const doc = await readDoc(ctx, name);
  if (!doc) throw notFound(ctx, 'endpoint', name);
  if (doc.EndpointStatus !== 'InService') throw new AppError('ValidationException', `Cannot update in-progress endpoint "${doc.EndpointArn}".`);
  return doc;
}

export async function updateEndpoint(ctx: ControlPlaneContext, input: { EndpointName: string; EndpointConfigName: string; DeploymentConfig?: unknown }): Promise<object> {
  const doc = await changeableEndpoint(ctx, input.EndpointName);
  const config = await checkEndpointConfig(ctx, input.EndpointConfigName);
  await checkServerInstances(ctx, doc.EndpointName, config.ProductionVariants[0]?.InitialInstanceCount ?? 1, `initialInstanceCount of endpoint configuration "${input.EndpointConfigName}"`);
  await ctx.catalog.update('endpoint', doc.EndpointName, {
    ...doc, EndpointStatus: 'Updating', ...(input.DeploymentConfig !== undefined && { LastDeploymentConfig: input.DeploymentConfig }),
  });
  void rollOut(ctx, doc.EndpointName, { configName: input.EndpointConfigName });
  await sendTestNotifications(ctx, doc.EndpointName, config);
  return { EndpointArn: doc.EndpointArn };
}

export async function updateEndpointWeightsAndCapacities(ctx: ControlPlaneContext, input: { EndpointName: string; DesiredWeightsAndCapacities: { VariantName: string; DesiredWeight?: number; DesiredInstanceCount?: number }[] }): Promise<object> {
  const wanted = input.DesiredWeightsAndCapacities;
  const count = wanted[0]!.DesiredInstanceCount;
  if (count !== undefined) await checkServerInstances(ctx, input.EndpointName, count, 'desiredWeightsAndCapacities.1.member.desiredInstanceCount');
  const configured = ctx.configuredEndpoints.find((e) => e.name === input.EndpointName);
  if (configured) {
    checkVariants(wanted, configured.variantName, arn(ctx, 'endpoint', configured.name));
    // A pin on a config endpoint lasts until the server restarts; the file is the lasting setting.
    if (count !== undefined) ctx.deployer.pin(configured.name, count);
    return { EndpointArn: arn(ctx, 'endpoint', configured.name) };
  }
  const doc = await changeableEndpoint(ctx, input.EndpointName);
  const config = (await ctx.catalog.get('endpoint-config', doc.EndpointConfigName))?.doc as unknown as ConfigDoc | undefined;
  checkVariants(wanted, config?.ProductionVariants[0]?.VariantName, doc.EndpointArn);
  if (count !== undefined) {
    const previous = doc.DesiredInstanceCount ?? config?.ProductionVariants[0]?.InitialInstanceCount ?? 1;
    await ctx.catalog.update('endpoint', doc.EndpointName, { ...doc, EndpointStatus: 'Updating', DesiredInstanceCount: count });
    void rescale(ctx, doc.EndpointName, count, previous);
  }
  if (config) await sendTestNotifications(ctx, doc.EndpointName, config);
  return { EndpointArn: doc.EndpointArn };
}

function checkVariants(wanted: { VariantName?: string }[], variantName: string | undefined, endpointArn: string): void {
  const unknown = wanted.find((d) => d.VariantName !== variantName);
  if (unknown) throw new AppError('ValidationException', `The variant(s) "[${unknown.VariantName}]" are not present in the endpoint "${endpointArn}".`);
}

/**
 * Updating → InService at a new instance count, in place: new instances start beside the serving
 * ones, or instances drain (finish what they run, take nothing new) and stop. 0 stops them all;
 * work then waits in the queue. If the new instances are not ready within the container startup
 * timeout, the count goes back and FailureReason says why. Never throws.
 */
async function rescale(ctx: ControlPlaneContext, name: string, count: number, previous: number): Promise<void> {
  try {
    const doc = await readDoc(ctx, name);
    if (!doc) return;
    const deployment = await resolveDeployment(ctx, name, doc.EndpointConfigName, count);
    if (typeof deployment === 'string') return await settle(ctx, name, { EndpointStatus: 'InService', DesiredInstanceCount: previous }, `Update failed and was rolled back: ${deployment}`);
    ctx.deployer.pin(name, count);
    if (await ctx.deployer.waitUntilReady(name, count, deployment.startupTimeoutSeconds * 1000)) {
      await settle(ctx, name, { EndpointStatus: 'InService', DesiredInstanceCount: count });
    } else {
      ctx.deployer.pin(name, previous);
      await settle(ctx, name, { EndpointStatus: 'InService', DesiredInstanceCount: previous }, `Update failed and was rolled back: ${notReadyReason(deployment)}`);
    }
  } catch (err) {
    await settle(ctx, name, { EndpointStatus: 'InService', DesiredInstanceCount: previous }, `Update failed and was rolled back: ${(err as Error).message}`).catch(() => undefined);
  }
}

/**
 * limits.instancesPerServer: what endpoint `name` would run (`count`) plus what every other
 * endpoint may run must fit. Counted: each config endpoint's instances.max (else initial), and
 * each API-created endpoint that is not Failed at its desired count (else its configuration's
 * InitialInstanceCount). Reads the catalog, never loops over a caller's number.
 */
async function checkServerInstances(ctx: ControlPlaneContext, name: string, count: number, member: string): Promise<void> {
  const limit = (ctx.limits ?? DEFAULT_LIMITS).instancesPerServer;
  let others = 0;
  for (const ep of ctx.configuredEndpoints) {
    if (ep.name !== name) others += ep.reservedInstances ?? (await ep.instances()).desired;
  }
  for (const resource of await ctx.catalog.list('endpoint')) {
    const doc = resource.doc as unknown as EndpointDoc;
    if (resource.name === name || doc.EndpointStatus === 'Failed') continue;
    const config = doc.DesiredInstanceCount === undefined ? (await ctx.catalog.get('endpoint-config', doc.EndpointConfigName))?.doc as unknown as ConfigDoc | undefined : undefined;
    others += doc.DesiredInstanceCount ?? config?.ProductionVariants[0]?.InitialInstanceCount ?? 1;
  }
  if (count + others <= limit) return;
  const c = constraints();
  c.number(member, count, 0, Math.max(0, limit - others), { maxText: `this server runs at most ${limit} instances, its limits.instancesPerServer, and its other endpoints may run ${others}` });
  throw new AppError('ValidationException', c.message()!);
}

/** The checks CreateEndpoint and UpdateEndpoint make of the configuration they are given. */
async function checkEndpointConfig(ctx: ControlPlaneContext, configName: string): Promise<ConfigDoc> {
  const config = (await ctx.catalog.get('endpoint-config', configName))?.doc as unknown as ConfigDoc | undefined;
  if (!config) throw notFound(ctx, 'endpoint-config', configName);
  if (config.ProductionVariants.length !== 1) {
    throw new AppError('ValidationException', 'This asyncinfer runs endpoints with exactly one production variant; traffic splitting between variants is not supported.');
  }
  const variant = config.ProductionVariants[0]!;
  if (!(await ctx.catalog.get('model', variant.ModelName))) throw notFound(ctx, 'model', variant.ModelName);
  return config;
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
    // Read before the endpoint goes: what is still queued fails, and is notified with this.
    const notifications = await endpointNotifications(ctx, name);
    await ctx.catalog.update('endpoint', name, { ...doc, EndpointStatus: 'Deleting' });
    void (async () => {
      await ctx.deployer.retire(name, `ClientError: The endpoint ${name} was deleted (DeleteEndpoint) before this request ran.`, notifications).catch(() => undefined);
      await ctx.catalog.delete('endpoint', name);
    })();
  }
  return {};
}

/**
 * An endpoint's variant and NotificationConfig as configured now, for outcomes recorded while it
 * is not deployed in this process (expiry right after a restart, say); undefined when unknown.
 */
export async function endpointNotifications(ctx: ControlPlaneContext, name: string): Promise<EndpointNotifications | undefined> {
  const configured = ctx.configuredEndpoints.find((e) => e.name === name);
  if (configured) {
    const out = (configured.asyncInferenceConfig as ConfigDoc['AsyncInferenceConfig'] | undefined)?.OutputConfig;
    const notification = notificationSettings(out?.NotificationConfig);
    return { variantName: configured.variantName, ...(notification && { notification }) };
  }
  const doc = await readDoc(ctx, name);
  const config = doc && (await ctx.catalog.get('endpoint-config', doc.EndpointConfigName))?.doc as unknown as ConfigDoc | undefined;
  const variant = config?.ProductionVariants[0];
  if (!variant) return undefined;
  const notification = notificationSettings(config.AsyncInferenceConfig?.OutputConfig.NotificationConfig);
  return { variantName: variant.VariantName, ...(notification && { notification }) };
}

/** One TestNotification per distinct topic of the configuration's NotificationConfig (spec §4.1). */
async function sendTestNotifications(ctx: ControlPlaneContext, endpointName: string, config: ConfigDoc): Promise<void> {
  const notification = notificationSettings(config.AsyncInferenceConfig?.OutputConfig.NotificationConfig);
  const drafts = testNotificationDrafts({ endpointName, variantName: config.ProductionVariants[0]?.VariantName ?? 'AllTraffic', notification });
  if (drafts.length > 0) await ctx.notifications?.add(drafts);
}

/**
 * The composition root: config → logger → stores → services. The only file that picks adapters.
 * Parts start in dependency order and stop in reverse; the gateway opens last, so nothing is
 * accepted before the queue can hold it, and closes first.
 */
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { createAutoscaler, type ScalingSettings } from './autoscale/index.js';
import { createSqliteCatalog } from './catalog/index.js';
import { createMetrics } from './metrics/index.js';
import type { EndpointConfig, ResolvedConfig } from './config/index.js';
import { AppError } from './errors.js';
import { notificationSettings, type EndpointNotifications } from './domain/index.js';
import { bringUp, createGateway, createS3Api, endpointNotifications, type ConfiguredEndpoint, type ControlPlaneContext, type EndpointDeployer, type EndpointDeployment } from './gateway/index.js';
import { createInstanceRegistry, createProcessPool, createUrlPool, unpackModelData, type InstancePool, type InstanceRegistry } from './models/index.js';
import type { Metrics } from './metrics/index.js';
import { createDeliveryLoop, createSnsDeliverer, createTargetDeliverer, createWebhookDeliverer, targetsOf, type NotificationOutbox } from './notify/index.js';
import { createSqliteQueue } from './queue/index.js';
import { createFsObjectStore, createS3ObjectStore, openLocation } from './storage/index.js';
import { createEndpointRunner, createExpirySweeper, expireInvocation, failQueued, type DeployedEndpoint, type EndpointRunner, type RunDeps } from './worker/index.js';

export interface RunningServer {
  url: string;
  stop(): Promise<void>;
}

export function createLogger(config: Pick<ResolvedConfig, 'logLevel'>): Logger {
  return pino({ level: config.logLevel, base: { pid: process.pid } });
}

/** How one endpoint's instances are made: a command per instance, or a URL that is already running. */
interface ModelSpec {
  command?: readonly string[];
  url?: string;
  env: Readonly<Record<string, string>>;
  startupTimeoutSeconds: number;
  healthCheckIntervalSeconds: number;
}

export async function startServer(config: ResolvedConfig, logger: Logger): Promise<RunningServer> {
  const teardown: { name: string; stop: () => Promise<void> }[] = [];
  const stopAll = async () => {
    for (const part of teardown.reverse()) {
      try {
        await part.stop();
      } catch (err) {
        logger.error({ err, part: part.name }, 'error while stopping');
      }
    }
    teardown.length = 0;
  };

  try {
    const queue = createSqliteQueue({ dir: config.dataDir, workerId: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}` });
    await queue.start();
    teardown.push({ name: 'queue', stop: () => queue.stop() });

    // Only after the queue holds the data-dir lock: instances a killed predecessor left behind.
    const registry = createInstanceRegistry(path.join(config.dataDir, 'run'));
    const reaped = registry.reapOrphans();
    if (reaped > 0) logger.warn({ reaped }, 'stopped model instances left running by a previous server that did not shut down');

    const catalog = createSqliteCatalog({ dir: config.dataDir });
    await catalog.start();
    teardown.push({ name: 'catalog', stop: () => catalog.stop() });

    const metrics = createMetrics();
    // The embedded store (objects are files) is also a BucketStore, which the S3 API serves.
    const bucketStore = config.storage.type === 'fs' ? createFsObjectStore({ root: path.join(config.dataDir, 's3') }) : undefined;
    const store = config.storage.type === 's3'
      ? await createS3ObjectStore(config.storage)
      : bucketStore!;
    const s3Api = config.s3Api.enabled && bucketStore
      ? createS3Api({ store: bucketStore, host: config.host, port: config.s3Api.port, region: config.region, logger })
      : undefined;
    const s3Url = await s3Api?.start();
    if (s3Api) teardown.push({ name: 's3 api', stop: () => s3Api.stop() });
    // Spooled responses of a previous run belong to invocations that will run again.
    const spoolDir = path.join(config.dataDir, 'spool');
    await rm(spoolDir, { recursive: true, force: true });
    // Before the endpoints, so it stops after them: outcomes recorded while they drain are delivered.
    teardown.push(...startNotifications(config, queue.outbox, metrics, logger));
    // An endpoint's notification settings: the running one's, else as configured (expiry after a restart).
    const endpointSettings = async (name: string): Promise<EndpointNotifications | undefined> => {
      const running = runner.get(name);
      if (!running) return endpointNotifications(controlPlane, name);
      return { variantName: running.variantName, ...(running.async?.notification && { notification: running.async.notification }) };
    };
    const runDeps: RunDeps = {
      queue, store, logger, metrics, spoolDir,
      variantOf: (name) => runner.get(name)?.variantName ?? config.endpoints.find((e) => e.name === name)?.variantName ?? 'AllTraffic',
      notifications: { region: config.region, endpoint: endpointSettings },
    };
    const runner = createEndpointRunner({ queue, runDeps, logger, shutdownGraceMs: config.shutdownGraceSeconds * 1000 });
    teardown.push({ name: 'endpoints', stop: () => runner.stopAll() });
    // The queue gauges, computed at each scrape: asynchronous endpoints only (a real-time one has no queue).
    metrics.setBacklogSource({
      endpoints: () => runner.names().flatMap((name) => {
        const e = runner.get(name);
        return e?.async ? [{ name, variant: e.variantName, instances: e.instanceCounts(), desiredInstances: e.desiredInstances }] : [];
      }),
      backlog: (name) => queue.backlog(name),
    });
    const makePool = (endpoint: PoolOwner, model: ModelSpec, count: number) => createPool(config, endpoint, model, count, registry, metrics, logger.child({ endpoint: endpoint.name }));

    const startedAtMs = Date.now();
    const configuredEndpoints: ConfiguredEndpoint[] = [];
    for (const endpoint of config.endpoints) {
      const count = endpoint.model.url !== undefined ? 1 : endpoint.instances.initial;
      const asyncConfig = endpoint.asyncInferenceConfig;
      const notification = notificationSettings(asyncConfig?.OutputConfig.NotificationConfig);
      const scaling = scalingSettings(endpoint);
      await runner.deploy({
        name: endpoint.name,
        variantName: endpoint.variantName,
        desiredInstances: count,
        ...(scaling && { scaling }),
        ...(asyncConfig && {
          async: {
            maxConcurrencyPerInstance: asyncConfig.ClientConfig?.MaxConcurrentInvocationsPerInstance ?? 1,
            s3OutputPath: asyncConfig.OutputConfig.S3OutputPath,
            ...(asyncConfig.OutputConfig.S3FailurePath !== undefined && { s3FailurePath: asyncConfig.OutputConfig.S3FailurePath }),
            ...(notification && { notification }),
          },
        }),
      }, makePool(endpoint, endpoint.model, count));
      configuredEndpoints.push({
        name: endpoint.name, variantName: endpoint.variantName, createdAtMs: startedAtMs,
        ...(endpoint.asyncInferenceConfig && { asyncInferenceConfig: endpoint.asyncInferenceConfig }),
        instances: () => ({ current: runner.get(endpoint.name)?.readyInstances() ?? 0, desired: runner.get(endpoint.name)?.desiredInstances ?? 0 }),
      });
    }

    const controlPlane: ControlPlaneContext = {
      catalog, region: config.region, accountId: config.accountId, configuredEndpoints,
      deployer: createDeployer(config, runner, runDeps, makePool),
      notifications: queue.outbox,
    };
    // Endpoints created through the API come back after a restart.
    for (const endpoint of await catalog.list('endpoint')) {
      const status = (endpoint.doc as { EndpointStatus?: string }).EndpointStatus;
      if (status === 'Deleting') {
        await catalog.delete('endpoint', endpoint.name);
      } else if (status !== 'Failed') {
        await catalog.update('endpoint', endpoint.name, { ...endpoint.doc, EndpointStatus: 'Creating' });
        void bringUp(controlPlane, endpoint.name);
      }
    }

    // After the endpoints (its wake listener sees them), stopped before them (no resize during shutdown).
    const autoscaler = createAutoscaler({
      endpoints: runner, queue, logger: logger.child({ part: 'autoscaler' }), intervalMs: config.autoscaling.interval,
      onScale: (e) => metrics.scalingEvents.inc({ endpoint: e.endpoint, variant: e.variant, reason: e.reason }),
    });
    autoscaler.start();
    teardown.push({ name: 'autoscaler', stop: () => autoscaler.stop() });

    const sweeper = createExpirySweeper({ queue, logger, expire: (lease) => expireInvocation(runDeps, lease) });
    sweeper.start();
    teardown.push({ name: 'expiry sweeper', stop: () => sweeper.stop() });

    const gateway = createGateway({
      host: config.host, port: config.port, logger, queue, accountId: config.accountId,
      findEndpoint: (name) => runner.get(name),
      controlPlane, metrics, outbox: queue.outbox,
    });
    const url = await gateway.start();
    teardown.push({ name: 'gateway', stop: () => gateway.stop() });
    logger.info({ url, s3Url, dataDir: config.dataDir, endpoints: config.endpoints.map((e) => e.name) }, 'asyncinfer listening');
    return { url, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * CreateEndpoint's containers: `Image` names an entry of the config's `images` (a command or a
 * URL), or is itself an http(s) URL of a running container.
 */
function createDeployer(config: ResolvedConfig, runner: EndpointRunner, runDeps: RunDeps, makePool: (endpoint: PoolOwner, model: ModelSpec, count: number) => InstancePool): EndpointDeployer {
  async function modelDir(url: string): Promise<string> {
    try {
      return await unpackModelData({ url, dir: path.join(config.dataDir, 'models'), open: async (u) => (await openLocation(runDeps.store, u)).body });
    } catch (err) {
      throw new AppError('ValidationException', `Could not download and unpack ModelDataUrl ${url}: ${(err as Error).message}`, { cause: err });
    }
  }

  async function resolve(d: EndpointDeployment): Promise<{ endpoint: DeployedEndpoint; pool: () => InstancePool }> {
    const registered = config.images[d.image];
    const url = /^https?:\/\//.test(d.image) ? d.image : registered?.url;
    if (!registered && url === undefined) {
      throw new AppError('ValidationException',
        `Image "${d.image}" is not registered. Add it to the config file under "images", e.g. "images": {"${d.image}": {"command": ["python3", "serve.py"]}} or {"url": "http://127.0.0.1:9000"}, or use the URL of a running container as the Image.`);
    }
    const model: ModelSpec = {
      ...(url !== undefined ? { url } : { command: registered!.command! }),
      env: { ...registered?.env, ...d.environment, ...(d.modelDataUrl !== undefined && { SM_MODEL_DIR: await modelDir(d.modelDataUrl) }) },
      startupTimeoutSeconds: d.startupTimeoutSeconds,
      healthCheckIntervalSeconds: 5,
    };
    const count = url !== undefined ? 1 : d.instanceCount;
    return {
      endpoint: { name: d.name, variantName: d.variantName, desiredInstances: count, ...(d.async && { async: d.async }) },
      pool: () => makePool(d, model, count),
    };
  }

  return {
    async deploy(d) {
      const { endpoint, pool } = await resolve(d);
      await runner.deploy(endpoint, pool());
    },
    async redeploy(d) {
      const { endpoint, pool } = await resolve(d);
      return runner.replace(endpoint, pool(), d.startupTimeoutSeconds * 1000);
    },
    undeploy: (name) => runner.undeploy(name),
    async retire(name, failureReason, notifications) {
      await runner.undeploy(name);
      // The endpoint is gone from the runner now; its settings come with the call.
      const deps = notifications ? { ...runDeps, notifications: { region: config.region, endpoint: () => notifications } } : runDeps;
      await failQueued(deps, name, failureReason);
    },
    readyInstances: (name) => runner.get(name)?.readyInstances() ?? 0,
    pin(name, count) {
      runDeps.logger.info({ endpoint: name, desired: count }, `instance count of ${name} pinned at ${count} (UpdateEndpointWeightsAndCapacities); autoscaling suspended`);
      runner.pin(name, count);
    },
    waitUntilReady: (name, count, timeoutMs) => runner.waitUntilReady(name, count, timeoutMs),
  };
}

/**
 * Notification delivery: the loop over the queue's outbox, with a webhook and an SNS deliverer.
 * Returns the parts to stop, in start order (the deliverers outlive the loop that uses them).
 */
function startNotifications(config: ResolvedConfig, outbox: NotificationOutbox, metrics: Metrics, logger: Logger): { name: string; stop: () => Promise<void> }[] {
  const deliverer = createTargetDeliverer({
    webhook: createWebhookDeliverer({ timeoutMs: config.notifications.timeout }),
    sns: createSnsDeliverer({ defaultRegion: config.region }),
  });
  const loop = createDeliveryLoop({
    outbox, deliverer, metrics, logger: logger.child({ part: 'notifications' }),
    targets: (topicArn) => targetsOf(config.topics, topicArn),
    policy: {
      maxAttempts: config.notifications.maxAttempts, initialBackoffMs: config.notifications.initialBackoff,
      maxBackoffMs: config.notifications.maxBackoff, timeoutMs: config.notifications.timeout,
    },
  });
  loop.start();
  return [{ name: 'notification deliverers', stop: () => deliverer.stop() }, { name: 'notification delivery', stop: () => loop.stop() }];
}

/** The endpoint a pool's instances belong to (names and metric labels). */
interface PoolOwner {
  name: string;
  variantName: string;
}

function createPool(config: ResolvedConfig, endpoint: PoolOwner, model: ModelSpec, count: number, registry: InstanceRegistry, metrics: Metrics, logger: Logger): InstancePool {
  const pingIntervalMs = model.healthCheckIntervalSeconds * 1000;
  if (model.url !== undefined) return createUrlPool({ endpointName: endpoint.name, url: model.url, logger, pingIntervalMs });
  return createProcessPool({
    endpointName: endpoint.name,
    command: model.command!,
    env: model.env,
    cwd: config.baseDir,
    count,
    startupTimeoutMs: model.startupTimeoutSeconds * 1000,
    pingIntervalMs,
    registry,
    logger,
    onReplaced: (cause) => metrics.instanceReplacements.inc({ endpoint: endpoint.name, variant: endpoint.variantName, cause }),
  });
}

/** A config endpoint's autoscaling, when its `instances` has a `max`; otherwise its count stays as configured. */
function scalingSettings(endpoint: EndpointConfig): ScalingSettings | undefined {
  const i = endpoint.instances;
  if (i.max === undefined || endpoint.model.url !== undefined) return undefined;
  return {
    min: i.min ?? 1, max: i.max, targetBacklogPerInstance: i.targetBacklogPerInstance,
    scaleOutCooldownMs: i.scaleOutCooldown, scaleInCooldownMs: i.scaleInCooldown, idleBeforeZeroMs: i.idleBeforeZero,
  };
}

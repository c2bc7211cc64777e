/**
 * The composition root: config → logger → stores → services. The only file that picks adapters.
 * Parts start in dependency order and stop in reverse; the gateway opens last, so nothing is
 * accepted before the queue can hold it, and closes first.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { createAutoscaler, createFleetScaling, createRedisFleet, NO_INSTANCES, type Fleet, type ScalingSettings } from './autoscale/index.js';
import { createRedisCatalog, createSqliteCatalog, type Catalog } from './catalog/index.js';
import { startAccessControl, type MadeRootKey } from './auth/index.js';
import { createMetrics } from './metrics/index.js';
import { isLoopback, type EndpointConfig, type ResolvedConfig } from './config/index.js';
import { AppError } from './errors.js';
import { notificationSettings, parseS3Uri, refusedEnvironmentVariables, type EndpointNotifications } from './domain/index.js';
import { bringUp, createGateway, createHttpGuard, createS3Api, endpointNotifications, wantedApiEndpoints, type ConfiguredEndpoint, type ControlPlaneContext, type EndpointDeployer, type EndpointDeployment } from './gateway/index.js';
import { createInstanceRegistry, createProcessPool, createUrlPool, modelBaseEnv, unpackModelData, type InstancePool, type InstanceRegistry } from './models/index.js';
import type { Metrics } from './metrics/index.js';
import { createDeliveryLoop, createSnsDeliverer, createTargetDeliverer, createWebhookDeliverer, targetsOf, type NotificationOutbox } from './notify/index.js';
import { acquireLockFile, createRedisQueue, createSqliteQueue, type InvocationQueue } from './queue/index.js';
import { checkImageUrl, createOutboundPolicy, NOT_ALLOWED, type OutboundPolicy } from './outbound/index.js';
import { createFsObjectStore, createS3ObjectStore, withOutboundPolicy, type ObjectStore } from './storage/index.js';
import { createEndpointRunner, createExpirySweeper, expireInvocation, failQueued, type DeployedEndpoint, type EndpointRunner, type RunDeps } from './worker/index.js';

export interface RunningServer {
  url: string;
  stop(): Promise<void>;
  /** Reads the TLS certificate and key again (SIGHUP). */
  reloadTls(): void;
  /** The root key this start made, for the CLI to tell the user how to use it. */
  madeRootKey?: MadeRootKey;
}

export function createLogger(config: Pick<ResolvedConfig, 'logLevel'>): Logger {
  return pino({ level: config.logLevel, base: { pid: process.pid } });
}

/** How one endpoint's instances are made: a command per instance, or a URL that is already running. */
interface ModelSpec {
  command?: readonly string[];
  url?: string;
  /** The outbound policy the URL's host must keep passing: for a URL a caller named as its Image. */
  policy?: OutboundPolicy;
  env: Readonly<Record<string, string>>;
  startupTimeoutSeconds: number;
  healthCheckIntervalSeconds: number;
}

export interface StartOptions {
  /** The server's environment, read once by the CLI: model processes get only a minimal part of it (modelBaseEnv). */
  hostEnv?: Readonly<Record<string, string | undefined>>;
}

export async function startServer(config: ResolvedConfig, logger: Logger, options: StartOptions = {}): Promise<RunningServer> {
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
  const own = <T extends { stop(): Promise<void> }>(name: string, part: T): T => {
    teardown.push({ name, stop: () => part.stop() });
    return part;
  };

  try {
    const cluster = config.queue.type === 'redis' ? config.queue : undefined;
    const runsWorker = config.role !== 'gateway';
    const workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    if (cluster) {
      // The SQLite queue locks the data dir itself; with Redis this lock keeps two processes off one data dir (spool, instances).
      await mkdir(config.dataDir, { recursive: true });
      const unlock = acquireLockFile(path.join(config.dataDir, 'asyncinfer.lock'));
      teardown.push({ name: 'data dir lock', stop: async () => unlock() });
      if (config.storage.type === 'fs' && config.role !== 'all') {
        logger.warn('storage is the embedded file store: objects stay on this host. Gateways and workers on several hosts need storage {"type": "s3"} (docs/deploy.md).');
      }
    }
    const queue = cluster
      ? createRedisQueue({ url: cluster.url, cluster: cluster.cluster, prefix: cluster.prefix, workerId, logger: logger.child({ part: 'queue' }) })
      : createSqliteQueue({ dir: config.dataDir, workerId });
    await own('queue', queue).start();
    const catalog = cluster
      ? createRedisCatalog({ url: cluster.url, cluster: cluster.cluster, prefix: cluster.prefix, logger: logger.child({ part: 'catalog' }) })
      : createSqliteCatalog({ dir: config.dataDir });
    await own('catalog', catalog).start();
    const fleet = cluster ? createRedisFleet({ url: cluster.url, cluster: cluster.cluster, prefix: cluster.prefix, logger: logger.child({ part: 'fleet' }) }) : undefined;
    if (fleet) await own('fleet', fleet).start();

    const { keyRing, authenticator, madeRootKey } = await startAccessControl({ auth: config.auth, region: config.region, dataDir: config.dataDir, catalog, logger: logger.child({ part: 'auth' }) });
    own('key ring', keyRing);
    const guard = createHttpGuard({ bindHost: config.host, allowedHosts: config.allowedHosts, allowedOrigins: config.cors.allowedOrigins });
    const tls = config.tls;
    if (!tls && !isLoopback(config.host)) {
      logger.warn({ host: config.host }, `listening on ${config.host} without TLS: signatures keep requests from being forged or changed, but payloads and outputs cross the network in the clear. Give --tls-cert and --tls-key (docs/security.md).`);
    }

    const metrics = createMetrics();
    // The embedded store (objects are files) is also a BucketStore, which the S3 API serves.
    const bucketStore = config.storage.type === 'fs' ? createFsObjectStore({ root: path.join(config.dataDir, 's3') }) : undefined;
    // Every URL a caller names goes through this one policy (an https:// InputLocation through the store).
    const outbound = createOutboundPolicy(config.outbound);
    own('outbound policy', { stop: () => outbound.close() });
    const store = withOutboundPolicy(config.storage.type === 's3' ? await createS3ObjectStore(config.storage) : bucketStore!, outbound);
    const s3Api = config.s3Api.enabled && bucketStore
      ? own('s3 api', createS3Api({ store: bucketStore, host: config.host, port: config.s3Api.port, region: config.region, logger, authenticator, guard, accountId: config.accountId, ...(tls && { tls }) }))
      : undefined;
    const s3Url = await s3Api?.start();

    const worker = runsWorker ? await startWorker({ config, logger, queue, store, outbound, metrics, fleet, workerId, own, controlPlane: () => controlPlane, modelEnv: modelBaseEnv(options.hostEnv ?? {}) }) : undefined;
    const configuredEndpoints = config.endpoints.map((endpoint): ConfiguredEndpoint => ({
      name: endpoint.name, variantName: endpoint.variantName, createdAtMs: Date.now(),
      reservedInstances: endpoint.instances.max ?? endpoint.instances.initial,
      ...(endpoint.asyncInferenceConfig && { asyncInferenceConfig: endpoint.asyncInferenceConfig }),
      async instances() {
        if (fleet) {
          const t = await fleet.totals(endpoint.name);
          return { current: t.ready, desired: t.target };
        }
        const running = worker!.runner.get(endpoint.name);
        return { current: running?.readyInstances() ?? 0, desired: running?.desiredInstances ?? 0 };
      },
    }));
    const controlPlane: ControlPlaneContext = {
      catalog, region: config.region, accountId: config.accountId, configuredEndpoints, images: config.images, limits: config.limits,
      outbound, topics: { listed: (topicArn) => Object.hasOwn(config.topics, topicArn), awsSns: config.outbound.awsSns },
      deployer: fleet
        ? clusterDeployer({ config, outbound, fleet, catalog, logger, failQueued: (name, reason, notifications) => failQueuedWith(config, { queue, store, logger, metrics, spoolDir: path.join(config.dataDir, 'spool'), variantOf: () => 'AllTraffic' }, name, reason, notifications) })
        : worker!.deployer,
      notifications: queue.outbox,
    };
    // API-created endpoints: from the shared catalog on Redis (every node follows it), else brought back after a restart.
    const apiEndpoints = fleet ? own('endpoint sync', startApiEndpointSync({ controlPlane, config, logger, worker })) : undefined;
    if (apiEndpoints) await apiEndpoints.start();
    if (!fleet) await resumeApiEndpoints(controlPlane, ['Creating', 'InService', 'Updating']);
    else if (config.role !== 'worker') await resumeApiEndpoints(controlPlane, ['Creating']);

    // The queue gauges, computed at each scrape: asynchronous endpoints only (a real-time one has no queue).
    metrics.setBacklogSource({
      endpoints: async () => (worker ? worker.localGauges() : Promise.all([
        ...config.endpoints.filter((e) => e.asyncInferenceConfig).map((e) => ({ name: e.name, variant: e.variantName })),
        ...[...apiEndpoints!.directory.values()].filter((d) => d.async).map((d) => ({ name: d.name, variant: d.variantName })),
      ].map(async (e) => {
        const t = await fleet!.totals(e.name);
        return { ...e, instances: { starting: t.starting, ready: t.ready, draining: t.draining }, desiredInstances: t.target };
      }))),
      backlog: (name) => queue.backlog(name),
    });

    // Without local instances (a gateway), an endpoint of the config file is known by its async settings alone.
    const configured = new Map(config.endpoints.map((e) => [e.name, {
      ready: () => [],
      ...(e.asyncInferenceConfig && { async: { s3OutputPath: e.asyncInferenceConfig.OutputConfig.S3OutputPath, ...(e.asyncInferenceConfig.OutputConfig.S3FailurePath !== undefined && { s3FailurePath: e.asyncInferenceConfig.OutputConfig.S3FailurePath }) } }),
    }]));
    const gateway = createGateway({
      host: config.host, port: config.port, logger, queue, accountId: config.accountId,
      findEndpoint: (name) => worker?.runner.get(name) ?? configured.get(name) ?? apiEndpoints?.directory.get(name),
      controlPlane, metrics, outbox: queue.outbox,
      surface: config.role === 'worker' ? 'worker' : 'full',
      requestTimeoutMs: config.requestTimeout,
      authenticator, guard, metricsOpen: config.auth.metrics === 'open', ...(tls && { tls }),
    });
    const url = await gateway.start();
    own('gateway', gateway);
    logger.info({ url, s3Url, role: config.role, queue: config.queue.type, dataDir: config.dataDir, endpoints: config.endpoints.map((e) => e.name) }, 'asyncinfer listening');
    return {
      url,
      ...(madeRootKey && { madeRootKey }),
      stop: stopAll,
      reloadTls() {
        gateway.reloadTls();
        s3Api?.reloadTls();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

interface WorkerParts {
  config: ResolvedConfig;
  logger: Logger;
  queue: InvocationQueue & { outbox: NotificationOutbox };
  store: ObjectStore;
  outbound: OutboundPolicy;
  metrics: Metrics;
  fleet: Fleet | undefined;
  workerId: string;
  own: <T extends { stop(): Promise<void> }>(name: string, part: T) => T;
  /** Read late: the control plane is made after the worker. */
  controlPlane: () => ControlPlaneContext;
  /** What every model process starts from (modelBaseEnv). */
  modelEnv: Readonly<Record<string, string>>;
}

/**
 * The worker: model instances, dispatch, autoscaling, expiry, notification delivery. With a fleet
 * (Redis), config endpoints start with no instances and the fleet gives this worker its share.
 */
async function startWorker(p: WorkerParts) {
  const { config, logger, queue, store, metrics, fleet, own } = p;
  // Only after the data-dir lock: instances a killed predecessor left behind.
  const registry = createInstanceRegistry(path.join(config.dataDir, 'run'));
  const reaped = registry.reapOrphans();
  if (reaped > 0) logger.warn({ reaped }, 'stopped model instances left running by a previous server that did not shut down');
  // Spooled responses of a previous run belong to invocations that will run again.
  const spoolDir = path.join(config.dataDir, 'spool');
  await rm(spoolDir, { recursive: true, force: true });
  // Before the endpoints, so it stops after them: outcomes recorded while they drain are delivered.
  for (const part of startNotifications(config, queue.outbox, metrics, logger)) own(part.name, part);
  // An endpoint's notification settings: the running one's, else as configured (expiry after a restart).
  const endpointSettings = async (name: string): Promise<EndpointNotifications | undefined> => {
    const running = runner.get(name);
    if (!running) return endpointNotifications(p.controlPlane(), name);
    return { variantName: running.variantName, ...(running.async?.notification && { notification: running.async.notification }) };
  };
  const runDeps: RunDeps = {
    queue, store, logger, metrics, spoolDir,
    variantOf: (name) => runner.get(name)?.variantName ?? config.endpoints.find((e) => e.name === name)?.variantName ?? 'AllTraffic',
    notifications: { region: config.region, endpoint: endpointSettings },
  };
  const runner = createEndpointRunner({ queue, runDeps, logger, shutdownGraceMs: config.shutdownGraceSeconds * 1000, leaseMs: config.leaseDuration });
  own('endpoints', { stop: () => runner.stopAll() });
  const makePool = (endpoint: PoolOwner, model: ModelSpec, count: number) => createPool(config, p.modelEnv, endpoint, model, count, registry, metrics, logger.child({ endpoint: endpoint.name }));

  for (const endpoint of config.endpoints) {
    const configuredCount = endpoint.model.url !== undefined ? 1 : endpoint.instances.initial;
    // With a fleet the count is the fleet's, shared out once this worker has heard who else is alive.
    const count = fleet && endpoint.model.url === undefined ? 0 : configuredCount;
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
  }

  /** API-created endpoints' fleet-wide counts (undefined: a URL image, not shared out); filled by the endpoint sync. */
  const apiCounts = new Map<string, number | undefined>();
  const fleetScaling = fleet && createFleetScaling({
    local: runner, fleet, workerId: p.workerId, logger: logger.child({ part: 'fleet' }),
    configuredCount(name) {
      const endpoint = config.endpoints.find((e) => e.name === name);
      if (!endpoint) return apiCounts.get(name);
      return endpoint.model.url === undefined ? endpoint.instances.initial : undefined;
    },
    intervalMs: config.autoscaling.interval, ttlMs: Math.max(3 * config.autoscaling.interval, 3000),
  });
  if (fleetScaling) await own('fleet scaling', fleetScaling).start();
  // After the endpoints (its wake listener sees them), stopped before them (no resize during shutdown).
  const autoscaler = own('autoscaler', createAutoscaler({
    endpoints: fleetScaling?.endpoints ?? runner, queue, logger: logger.child({ part: 'autoscaler' }), intervalMs: config.autoscaling.interval,
    onScale: (e) => metrics.scalingEvents.inc({ endpoint: e.endpoint, variant: e.variant, reason: e.reason }),
  }));
  autoscaler.start();
  own('expiry sweeper', createExpirySweeper({ queue, logger, expire: (lease) => expireInvocation(runDeps, lease) })).start();

  return {
    runner,
    apiCounts,
    deployer: createDeployer(config, p.outbound, runner, runDeps, makePool, logger),
    /** This worker's instances of its asynchronous endpoints, for the gauges. */
    localGauges: () => runner.names().flatMap((name) => {
      const e = runner.get(name);
      return e?.async ? [{ name, variant: e.variantName, instances: e.instanceCounts(), desiredInstances: e.desiredInstances }] : [];
    }),
  };
}

/**
 * API-created endpoints in one of `statuses` are brought up again after a restart (single process:
 * every one that was serving; on Redis: those a gateway was creating when it stopped).
 */
async function resumeApiEndpoints(controlPlane: ControlPlaneContext, statuses: string[]): Promise<void> {
  const { catalog } = controlPlane;
  for (const endpoint of await catalog.list('endpoint')) {
    const status = (endpoint.doc as { EndpointStatus?: string }).EndpointStatus ?? '';
    if (status === 'Deleting' && statuses.length > 1) {
      await catalog.delete('endpoint', endpoint.name);
    } else if (statuses.includes(status)) {
      await catalog.update('endpoint', endpoint.name, { ...endpoint.doc, EndpointStatus: 'Creating' });
      void bringUp(controlPlane, endpoint.name);
    }
  }
}

/**
 * On Redis the control plane acts on the shared catalog and the fleet, not on local instances:
 * workers follow the catalog (startApiEndpointSync), and readiness is the fleet's. A pin of a
 * config endpoint is shared through the fleet; an API endpoint's count is its DesiredInstanceCount
 * in the catalog, which the workers read.
 */
function clusterDeployer(p: {
  config: ResolvedConfig; outbound: OutboundPolicy; fleet: Fleet; catalog: Catalog; logger: Logger;
  failQueued: (name: string, reason: string, notifications?: EndpointNotifications) => Promise<void>;
}): EndpointDeployer {
  const { fleet, catalog, logger } = p;
  const readyWithin = async (name: string, count: number, timeoutMs: number, version?: string) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if ((await fleet.totals(name, version).catch(() => NO_INSTANCES)).ready >= count) return true;
      if (Date.now() > deadline) return false;
      await sleep(200);
    }
  };
  return {
    // Checked here, so a bad image fails the endpoint at once; the workers deploy it from the catalog.
    deploy: async (d) => void imageOf(p.config, d, p.outbound),
    async redeploy(d) {
      imageOf(p.config, d, p.outbound);
      const doc = (await catalog.get('endpoint', d.name))?.doc;
      if (!doc) return false;
      const previous = doc.EndpointConfigName;
      await catalog.update('endpoint', d.name, { ...doc, EndpointConfigName: d.configName });
      if (await readyWithin(d.name, d.instanceCount, d.startupTimeoutSeconds * 1000, d.configName)) return true;
      // The workers go back to the configuration that served.
      const now = (await catalog.get('endpoint', d.name))?.doc;
      if (now) await catalog.update('endpoint', d.name, { ...now, EndpointConfigName: previous });
      return false;
    },
    undeploy: async () => {},
    retire: (name, reason, notifications) => p.failQueued(name, reason, notifications),
    readyInstances: async (name) => (await fleet.totals(name)).ready,
    waitUntilReady: (name, count, timeoutMs) => readyWithin(name, count, timeoutMs),
    pin(name, count) {
      if (!p.config.endpoints.some((e) => e.name === name)) return;
      logger.info({ endpoint: name, desired: count }, `instance count of ${name} pinned at ${count} for the fleet (UpdateEndpointWeightsAndCapacities); autoscaling suspended`);
      void fleet.pin(name, count).catch((err: unknown) => logger.error({ err, endpoint: name }, 'could not store the pin'));
    },
  };
}

/**
 * On Redis, every node follows the API-created endpoints in the shared catalog, once per
 * `autoscaling.interval`: gateways to know their output paths (the accept path), workers to deploy
 * what they do not run yet (with no instances: the fleet gives them their share), replace what
 * runs another configuration, and stop what is gone.
 */
function startApiEndpointSync(p: {
  controlPlane: ControlPlaneContext; config: ResolvedConfig; logger: Logger;
  worker: Awaited<ReturnType<typeof startWorker>> | undefined;
}) {
  const { config, logger, worker } = p;
  /** What the accept path needs of each endpoint (no local instances: `ready` is empty), built once per sync. */
  const directory = new Map<string, EndpointDeployment & { ready: () => never[] }>();
  const replacing = new Set<string>();
  const reported = new Set<string>();
  const isConfigured = (name: string) => config.endpoints.some((e) => e.name === name);
  let timer: NodeJS.Timeout | undefined;
  let syncing: Promise<void> = Promise.resolve();

  async function follow(d: EndpointDeployment): Promise<void> {
    const running = worker!.runner.get(d.name);
    if (!running) {
      await worker!.deployer.deployAt(d, 0);
    } else if (running.version !== d.configName && !replacing.has(d.name)) {
      replacing.add(d.name);
      void worker!.deployer.replaceAt(d, running.desiredInstances)
        .catch((err: unknown) => logger.error({ err, endpoint: d.name }, 'could not roll out the new endpoint configuration'))
        .finally(() => replacing.delete(d.name));
    }
  }

  async function sync(): Promise<void> {
    let wanted: Map<string, EndpointDeployment>;
    try {
      wanted = await wantedApiEndpoints(p.controlPlane);
    } catch (err) {
      logger.warn({ err }, 'could not read the endpoints from the catalog; trying again');
      return;
    }
    directory.clear();
    for (const [name, d] of wanted) if (!isConfigured(name)) directory.set(name, { ...d, ready: () => [] });
    if (!worker) return;
    for (const d of directory.values()) {
      worker.apiCounts.set(d.name, imageOf(config, d).url === undefined ? d.instanceCount : undefined);
      try {
        await follow(d);
        reported.delete(d.name);
      } catch (err) {
        if (!reported.has(d.name)) logger.error({ err, endpoint: d.name }, 'could not deploy an endpoint from the catalog');
        reported.add(d.name);
      }
    }
    for (const name of worker.runner.names()) {
      if (isConfigured(name) || directory.has(name)) continue;
      worker.apiCounts.delete(name);
      await worker.runner.undeploy(name);
    }
  }

  return {
    directory,
    async start() {
      await sync();
      timer = setInterval(() => { syncing = syncing.then(sync); }, config.autoscaling.interval);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await syncing;
    },
  };
}

/**
 * The image's entry in the config (a command or a URL), or the image itself when it is a URL; throws
 * the FailureReason when it is neither. With `outbound`, an Image URL that is not a config entry must
 * pass the outbound policy (a model stored before CreateModel checked it must not slip through).
 */
function imageOf(config: ResolvedConfig, d: EndpointDeployment, outbound?: OutboundPolicy): { url?: string; command?: readonly string[]; env: Readonly<Record<string, string>>; callerUrl?: boolean } {
  const registered = Object.hasOwn(config.images, d.image) ? config.images[d.image] : undefined;
  const callerUrl = !registered && /^https?:\/\//i.test(d.image);
  const url = callerUrl ? d.image : registered?.url;
  if (callerUrl && outbound) {
    try {
      checkImageUrl(outbound, d.image);
    } catch (err) {
      throw new AppError('ValidationException', (err as Error).message, { cause: err });
    }
  }
  if (!registered && url === undefined) {
    throw new AppError('ValidationException',
      `Image "${d.image}" is not registered. Add it to the config file under "images", e.g. "images": {"${d.image}": {"command": ["python3", "serve.py"]}} or {"url": "http://127.0.0.1:9000"}, or use the URL of a running container as the Image.`);
  }
  return url !== undefined ? { url, env: registered?.env ?? {}, ...(callerUrl && { callerUrl }) } : { command: registered!.command!, env: registered!.env };
}

/**
 * This process's deployer of API-created endpoints. `count` overrides the deployment's instance
 * count: with a fleet, an endpoint starts with this worker's share (0 until the fleet gives one).
 */
function createDeployer(config: ResolvedConfig, outbound: OutboundPolicy, runner: EndpointRunner, runDeps: RunDeps, makePool: (endpoint: PoolOwner, model: ModelSpec, count: number) => InstancePool, logger: Logger) {
  /** s3:// from the store, https:// through the outbound policy; capped (outbound.maxModelDataBytes) and timed (ModelDataDownloadTimeoutInSeconds). */
  async function modelDir(url: string, timeoutSeconds: number | undefined): Promise<string> {
    const maxBytes = config.outbound.maxModelDataBytes;
    const open = async (u: string, signal: AbortSignal) => {
      const s3 = parseS3Uri(u);
      if (s3) return (await runDeps.store.get(s3)).body;
      if (!/^https:\/\//i.test(u)) throw new Error(`the URL is ${NOT_ALLOWED}`);
      return (await outbound.get(u, { signal, maxBytes })).body;
    };
    try {
      return await unpackModelData({ url, dir: path.join(config.dataDir, 'models'), open, maxBytes, ...(timeoutSeconds !== undefined && { timeoutMs: timeoutSeconds * 1000 }) });
    } catch (err) {
      throw new AppError('ValidationException', `Could not download and unpack ModelDataUrl ${url}: ${(err as Error).message}`, { cause: err });
    }
  }

  async function resolve(d: EndpointDeployment, countOverride?: number): Promise<{ endpoint: DeployedEndpoint; pool: () => InstancePool }> {
    const image = imageOf(config, d, outbound);
    // CreateModel refuses these; a model stored before it did must not slip them through either.
    const refused = refusedEnvironmentVariables(d.environment, config.images[d.image]?.allowedEnvironment);
    if (refused.length > 0) {
      throw new AppError('ValidationException', `The model's Environment sets ${refused.join(', ')}, which can load code into the model process; allow it for image "${d.image}" with "allowedEnvironment" in the config, or remove it from the model.`);
    }
    const model: ModelSpec = {
      ...(image.url !== undefined ? { url: image.url, ...(image.callerUrl && { policy: outbound }) } : { command: image.command! }),
      env: { ...image.env, ...d.environment, ...(d.modelDataUrl !== undefined && { SM_MODEL_DIR: await modelDir(d.modelDataUrl, d.modelDataDownloadTimeoutSeconds) }) },
      startupTimeoutSeconds: d.startupTimeoutSeconds,
      healthCheckIntervalSeconds: 5,
    };
    const count = image.url !== undefined ? 1 : countOverride ?? d.instanceCount;
    return {
      endpoint: { name: d.name, variantName: d.variantName, version: d.configName, desiredInstances: count, ...(d.async && { async: d.async }) },
      pool: () => makePool(d, model, count),
    };
  }

  const deployer: EndpointDeployer = {
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
      await failQueuedWith(config, runDeps, name, failureReason, notifications);
    },
    readyInstances: async (name) => runner.get(name)?.readyInstances() ?? 0,
    pin(name, count) {
      logger.info({ endpoint: name, desired: count }, `instance count of ${name} pinned at ${count} (UpdateEndpointWeightsAndCapacities); autoscaling suspended`);
      runner.pin(name, count);
    },
    waitUntilReady: (name, count, timeoutMs) => runner.waitUntilReady(name, count, timeoutMs),
  };
  return {
    ...deployer,
    /** Deploys with `count` instances (a worker's share). */
    async deployAt(d: EndpointDeployment, count: number) {
      const { endpoint, pool } = await resolve(d, count);
      await runner.deploy(endpoint, pool());
    },
    /** Rolling replacement at `count` instances. */
    async replaceAt(d: EndpointDeployment, count: number) {
      const { endpoint, pool } = await resolve(d, count);
      return runner.replace(endpoint, pool(), d.startupTimeoutSeconds * 1000);
    },
  };
}

/** Fails what is still queued for an endpoint that is going away; its notification settings come with the call (it is no longer deployed). */
async function failQueuedWith(config: ResolvedConfig, runDeps: RunDeps, name: string, failureReason: string, notifications?: EndpointNotifications): Promise<void> {
  const deps = notifications ? { ...runDeps, notifications: { region: config.region, endpoint: () => notifications } } : runDeps;
  await failQueued(deps, name, failureReason);
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

function createPool(config: ResolvedConfig, baseEnv: Readonly<Record<string, string>>, endpoint: PoolOwner, model: ModelSpec, count: number, registry: InstanceRegistry, metrics: Metrics, logger: Logger): InstancePool {
  const pingIntervalMs = model.healthCheckIntervalSeconds * 1000;
  if (model.url !== undefined) return createUrlPool({ endpointName: endpoint.name, url: model.url, logger, pingIntervalMs, ...(model.policy && { policy: model.policy }) });
  return createProcessPool({
    endpointName: endpoint.name,
    command: model.command!,
    env: model.env,
    baseEnv,
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

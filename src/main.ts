/**
 * The composition root: config → logger → stores → services. The only file that picks adapters.
 * Parts start in dependency order and stop in reverse; the gateway opens last, so nothing is
 * accepted before the queue can hold it, and closes first.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import type { EndpointConfig, ResolvedConfig } from './config/index.js';
import { createSqliteCatalog } from './catalog/index.js';
import { createGateway, type ConfiguredEndpoint } from './gateway/index.js';
import { createInstanceRegistry, createProcessPool, createUrlPool, type InstancePool, type InstanceRegistry } from './models/index.js';
import { createSqliteQueue } from './queue/index.js';
import { createFsObjectStore } from './storage/index.js';
import { createDispatcher, createExpirySweeper, expireInvocation, runInvocation, type RunDeps } from './worker/index.js';

export interface RunningServer {
  url: string;
  stop(): Promise<void>;
}

export function createLogger(config: Pick<ResolvedConfig, 'logLevel'>): Logger {
  return pino({ level: config.logLevel, base: { pid: process.pid } });
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

    const store = createFsObjectStore({ root: path.join(config.dataDir, 's3') });
    const runDeps: RunDeps = { queue, store, logger };
    const startedAtMs = Date.now();
    const configuredEndpoints: ConfiguredEndpoint[] = [];

    for (const endpoint of config.endpoints) {
      const log = logger.child({ endpoint: endpoint.name });
      const pool = createPool(config, endpoint, registry, log);
      await pool.start();
      teardown.push({ name: `instances of ${endpoint.name}`, stop: () => pool.stop() });
      configuredEndpoints.push({
        name: endpoint.name, variantName: endpoint.variantName, asyncInferenceConfig: endpoint.asyncInferenceConfig,
        createdAtMs: startedAtMs,
        instances: () => ({ current: pool.ready().length, desired: endpoint.model.url !== undefined ? 1 : endpoint.instances.initial }),
      });
      const dispatcher = createDispatcher({
        endpointName: endpoint.name,
        maxConcurrencyPerInstance: endpoint.asyncInferenceConfig.ClientConfig?.MaxConcurrentInvocationsPerInstance ?? 1,
        queue, pool, logger: log,
        run: (lease, instance, signal) => runInvocation(runDeps, lease, instance, signal),
      });
      dispatcher.start();
      teardown.push({ name: `dispatcher of ${endpoint.name}`, stop: () => dispatcher.stop(config.shutdownGraceSeconds * 1000) });
    }

    const sweeper = createExpirySweeper({ queue, logger, expire: (lease) => expireInvocation(runDeps, lease) });
    sweeper.start();
    teardown.push({ name: 'expiry sweeper', stop: () => sweeper.stop() });

    const endpoints = new Map(config.endpoints.map((e) => [e.name, {
      s3OutputPath: e.asyncInferenceConfig.OutputConfig.S3OutputPath,
      s3FailurePath: e.asyncInferenceConfig.OutputConfig.S3FailurePath,
    }]));
    const gateway = createGateway({
      host: config.host, port: config.port, logger, queue, accountId: config.accountId,
      findEndpoint: (name) => endpoints.get(name),
      controlPlane: { catalog, region: config.region, accountId: config.accountId, configuredEndpoints },
    });
    const url = await gateway.start();
    teardown.push({ name: 'gateway', stop: () => gateway.stop() });
    logger.info({ url, dataDir: config.dataDir, endpoints: config.endpoints.map((e) => e.name) }, 'asyncinfer listening');
    return { url, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function createPool(config: ResolvedConfig, endpoint: EndpointConfig, registry: InstanceRegistry, logger: Logger): InstancePool {
  const { model } = endpoint;
  const pingIntervalMs = model.healthCheckIntervalSeconds * 1000;
  if (model.url !== undefined) return createUrlPool({ endpointName: endpoint.name, url: model.url, logger, pingIntervalMs });
  return createProcessPool({
    endpointName: endpoint.name,
    command: model.command!,
    env: model.env,
    cwd: config.baseDir,
    count: endpoint.instances.initial,
    startupTimeoutMs: model.startupTimeoutSeconds * 1000,
    pingIntervalMs,
    registry,
    logger,
  });
}

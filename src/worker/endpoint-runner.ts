/**
 * Runs endpoints: for each, its instances (an InstancePool) and its Dispatcher. Endpoints come and
 * go while the server runs (config file at start, CreateEndpoint/DeleteEndpoint later), so they
 * are deployed and undeployed here, one place, whatever asked.
 */
import type { Logger } from 'pino';
import type { InstancePool } from '../models/index.js';
import type { InvocationQueue } from '../queue/index.js';
import { createDispatcher, type Dispatcher } from './dispatcher.js';
import { runInvocation, type RunDeps } from './run-invocation.js';

export interface DeployedEndpoint {
  name: string;
  maxConcurrencyPerInstance: number;
  desiredInstances: number;
  s3OutputPath: string;
  s3FailurePath?: string;
}

export interface EndpointRunner {
  deploy(endpoint: DeployedEndpoint, pool: InstancePool): Promise<void>;
  /** Stops dispatching (running invocations get the grace period), then stops the instances. */
  undeploy(name: string): Promise<void>;
  get(name: string): (DeployedEndpoint & { readyInstances(): number; onChange(listener: () => void): () => void }) | undefined;
  stopAll(): Promise<void>;
}

export function createEndpointRunner(options: { queue: InvocationQueue; runDeps: RunDeps; logger: Logger; shutdownGraceMs: number }): EndpointRunner {
  const running = new Map<string, { endpoint: DeployedEndpoint; pool: InstancePool; dispatcher: Dispatcher }>();

  async function undeploy(name: string): Promise<void> {
    const entry = running.get(name);
    if (!entry) return;
    running.delete(name);
    await entry.dispatcher.stop(options.shutdownGraceMs);
    await entry.pool.stop();
  }

  return {
    async deploy(endpoint, pool) {
      await undeploy(endpoint.name);
      const log = options.logger.child({ endpoint: endpoint.name });
      await pool.start();
      const dispatcher = createDispatcher({
        endpointName: endpoint.name,
        maxConcurrencyPerInstance: endpoint.maxConcurrencyPerInstance,
        queue: options.queue, pool, logger: log,
        run: (lease, instance, signal) => runInvocation(options.runDeps, lease, instance, signal),
      });
      dispatcher.start();
      running.set(endpoint.name, { endpoint, pool, dispatcher });
    },
    undeploy,
    get(name) {
      const entry = running.get(name);
      if (!entry) return undefined;
      return { ...entry.endpoint, readyInstances: () => entry.pool.ready().length, onChange: (l) => entry.pool.onChange(l) };
    },
    async stopAll() {
      await Promise.all([...running.keys()].map(undeploy));
    },
  };
}

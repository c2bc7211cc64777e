/**
 * Runs endpoints: for each, its instances (an InstancePool) and its Dispatcher. Endpoints come and
 * go while the server runs (config file at start, CreateEndpoint/DeleteEndpoint later), so they
 * are deployed and undeployed here, one place, whatever asked.
 */
import type { Logger } from 'pino';
import type { ScalingSettings } from '../autoscale/index.js';
import { NO_DRAIN, type Instance, type InstanceCounts, type InstancePool } from '../models/index.js';
import type { NotificationSettings } from '../domain/index.js';
import type { InvocationQueue } from '../queue/index.js';
import { createDispatcher, type Dispatcher } from './dispatcher.js';
import { runInvocation, type RunDeps } from './run-invocation.js';

export interface DeployedEndpoint {
  name: string;
  /** The ProductionVariant's VariantName: a metrics label and part of every notification. */
  variantName: string;
  /** The EndpointConfigName it runs (API-created endpoints); config-file endpoints have none. */
  version?: string;
  /** The count wanted now: the deployed count, then whatever `resize` (the autoscaler or a pin) set. */
  desiredInstances: number;
  /** Autoscaling bounds and targets; absent: the count stays as deployed (pinned) unless resized. */
  scaling?: ScalingSettings;
  /** An asynchronous endpoint has a queue and a dispatcher; a real-time one is called directly. */
  async?: {
    maxConcurrencyPerInstance: number;
    s3OutputPath: string;
    s3FailurePath?: string;
    /** OutputConfig.NotificationConfig; absent: no notifications. */
    notification?: NotificationSettings;
  };
}

export type RunningEndpoint = DeployedEndpoint & {
  ready(): readonly Instance[];
  readyInstances(): number;
  instanceCounts(): InstanceCounts;
  onChange(listener: () => void): () => void;
};

export interface EndpointRunner {
  deploy(endpoint: DeployedEndpoint, pool: InstancePool): Promise<void>;
  /**
   * Rolling replacement: the new instances start beside the old ones; once `desiredInstances`
   * of them answer /ping they take the work, and the old dispatcher drains (its running
   * invocations finish, or go back to the queue after the grace period) before the old instances
   * stop. Nothing queued or running is lost. If the new instances are not ready in time they are
   * stopped and the old ones go on serving; resolves false.
   */
  replace(endpoint: DeployedEndpoint, pool: InstancePool, readyTimeoutMs: number): Promise<boolean>;
  /**
   * Sets the desired count: instances start, or drain (no new work; stopped once what runs on them
   * finished). False when the endpoint is not running.
   */
  resize(name: string, count: number): boolean;
  /** `resize`, and the count held there: the endpoint's autoscaling (if any) is suspended until it is deployed again. */
  pin(name: string, count: number): boolean;
  /** Resolves true once `count` instances of the endpoint answer /ping, false at the deadline. */
  waitUntilReady(name: string, count: number, timeoutMs: number): Promise<boolean>;
  /** Stops dispatching (running invocations get the grace period), then stops the instances. */
  undeploy(name: string): Promise<void>;
  /** On the accept path: a lookup, nothing built per call. */
  get(name: string): RunningEndpoint | undefined;
  /** The endpoints running now (for the metrics gauges). */
  names(): string[];
  stopAll(): Promise<void>;
}

export function createEndpointRunner(options: { queue: InvocationQueue; runDeps: RunDeps; logger: Logger; shutdownGraceMs: number; leaseMs?: number }): EndpointRunner {
  const running = new Map<string, { endpoint: DeployedEndpoint; pool: InstancePool; dispatcher?: Dispatcher; view: RunningEndpoint }>();
  const entry = (endpoint: DeployedEndpoint, pool: InstancePool, dispatcher: Dispatcher | undefined) => ({
    endpoint, pool, dispatcher,
    view: {
      ...endpoint, ready: () => pool.ready(), readyInstances: () => pool.ready().length, instanceCounts: () => pool.counts(),
      onChange: (l: () => void) => pool.onChange(l),
    },
  });

  async function undeploy(name: string): Promise<void> {
    const current = running.get(name);
    if (!current) return;
    running.delete(name);
    await current.dispatcher?.stop(options.shutdownGraceMs);
    await current.pool.stop();
    options.logger.info({ endpoint: name }, 'endpoint undeployed');
  }

  function resize(name: string, count: number): boolean {
    const current = running.get(name);
    if (!current) return false;
    current.endpoint.desiredInstances = count;
    current.view.desiredInstances = count;
    current.pool.resize(count, current.dispatcher ?? NO_DRAIN);
    return true;
  }

  /**
   * The deps of one dispatcher's runs: its outcomes notify with the settings it was deployed with,
   * even while it drains after a replacement or an undeploy (when `get` no longer finds them).
   */
  function runDepsFor(endpoint: DeployedEndpoint): RunDeps {
    const { notifications } = options.runDeps;
    if (!notifications) return options.runDeps;
    const own = { variantName: endpoint.variantName, ...(endpoint.async?.notification && { notification: endpoint.async.notification }) };
    return { ...options.runDeps, notifications: { region: notifications.region, endpoint: (name) => (name === endpoint.name ? own : notifications.endpoint(name)) } };
  }

  function startDispatcher(endpoint: DeployedEndpoint, pool: InstancePool): Dispatcher | undefined {
    if (!endpoint.async) return undefined;
    const runDeps = runDepsFor(endpoint);
    const dispatcher = createDispatcher({
      endpointName: endpoint.name,
      maxConcurrencyPerInstance: endpoint.async.maxConcurrencyPerInstance,
      queue: options.queue, pool, logger: options.logger.child({ endpoint: endpoint.name }),
      run: (lease, instance, signal) => runInvocation(runDeps, lease, instance, signal),
      ...(options.leaseMs !== undefined && { leaseMs: options.leaseMs }),
    });
    dispatcher.start();
    return dispatcher;
  }

  return {
    async deploy(endpoint, pool) {
      await undeploy(endpoint.name);
      await pool.start();
      running.set(endpoint.name, entry(endpoint, pool, startDispatcher(endpoint, pool)));
    },
    async replace(endpoint, pool, readyTimeoutMs) {
      await pool.start();
      if (!(await readyWithin(pool, endpoint.desiredInstances, readyTimeoutMs))) {
        await pool.stop();
        return false;
      }
      const old = running.get(endpoint.name);
      running.set(endpoint.name, entry(endpoint, pool, startDispatcher(endpoint, pool)));
      if (old) {
        await old.dispatcher?.stop(options.shutdownGraceMs);
        await old.pool.stop();
      }
      return true;
    },
    resize,
    pin(name, count) {
      const current = running.get(name);
      if (!current) return false;
      if (current.endpoint.scaling) {
        current.endpoint.scaling = { ...current.endpoint.scaling, pinnedCount: count };
        current.view.scaling = current.endpoint.scaling;
      }
      return resize(name, count);
    },
    async waitUntilReady(name, count, timeoutMs) {
      const current = running.get(name);
      return current ? readyWithin(current.pool, count, timeoutMs) : false;
    },
    undeploy,
    get: (name) => running.get(name)?.view,
    names: () => [...running.keys()],
    async stopAll() {
      await Promise.all([...running.keys()].map(undeploy));
    },
  };
}

function readyWithin(pool: InstancePool, count: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let off = () => {};
    const timer = setTimeout(() => {
      off();
      resolve(false);
    }, timeoutMs);
    timer.unref();
    const check = () => {
      if (pool.ready().length >= count) {
        clearTimeout(timer);
        off();
        resolve(true);
      }
    };
    off = pool.onChange(check);
    check();
  });
}

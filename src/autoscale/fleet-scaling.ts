/**
 * Scaling with several worker hosts. Every worker runs the same autoscaler over the same shared
 * backlog, so each computes the fleet's desired count D for an endpoint (or takes the pin or the
 * configured count). A worker then runs its share of D: the live workers, sorted by id, split D
 * as evenly as it divides (the first D mod N get one more). Before starting anything it claims
 * the share from the Fleet, which grants at most `max` minus what the other live workers hold
 * (what they run, draining instances included). So the hosts together never pass `max`, even
 * while they disagree for a moment (a worker just joined or died, cooldowns not in step): a
 * worker that is refused some of its share runs fewer until a heartbeat frees the slots.
 *
 * The heartbeat (every `intervalMs`) reports this worker's tallies, learns who is alive, reads
 * the pins, and applies the shares again, so work moves to the survivors when a worker dies
 * (its claims expire with its heartbeat after `ttlMs`).
 */
import type { Logger } from 'pino';
import type { ScalableEndpoints } from './autoscaler.js';
import type { Fleet, InstanceTally } from './fleet.js';
import type { ScalingSettings } from './scaling-policy.js';

/** This worker's endpoints, as the runner has them. */
export interface LocalEndpoints {
  names(): string[];
  get(name: string): {
    variantName: string;
    desiredInstances: number;
    scaling?: ScalingSettings | undefined;
    /** The EndpointConfigName it runs (API-created endpoints). */
    version?: string | undefined;
    instanceCounts(): { starting: number; ready: number; draining: number };
  } | undefined;
  resize(name: string, count: number): boolean;
}

export interface FleetScalingOptions {
  local: LocalEndpoints;
  fleet: Fleet;
  workerId: string;
  /**
   * The fleet-wide count of an endpoint without autoscaling (its `instances.initial`); undefined
   * for an endpoint the fleet does not share out (a model URL, which every worker uses as it is).
   */
  configuredCount(name: string): number | undefined;
  intervalMs: number;
  /** A worker silent this long is taken for dead. */
  ttlMs: number;
  logger: Logger;
}

/** The share of `total` of the worker at `rank` among `workers`. */
export function shareOf(total: number, rank: number, workers: number): number {
  if (rank < 0 || workers === 0) return 0;
  return Math.floor(total / workers) + (rank < total % workers ? 1 : 0);
}

export interface FleetScaling {
  /** What the autoscaler scales: fleet-wide counts, applied as this worker's share. */
  endpoints: ScalableEndpoints;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createFleetScaling(options: FleetScalingOptions): FleetScaling {
  const { local, fleet, workerId, logger } = options;
  /** The fleet-wide desired count per endpoint, as this worker's autoscaler last decided it. */
  const fleetDesired = new Map<string, number>();
  let workers: string[] = [workerId];
  let pins: Record<string, number> = {};
  let timer: NodeJS.Timeout | undefined;
  let beating: Promise<void> = Promise.resolve();

  const desiredOf = (name: string): number => {
    const e = local.get(name);
    if (pins[name] !== undefined) return pins[name];
    if (!e?.scaling) return options.configuredCount(name) ?? 0;
    return fleetDesired.get(name) ?? options.configuredCount(name) ?? 0;
  };

  async function apply(name: string): Promise<void> {
    const e = local.get(name);
    if (!e || options.configuredCount(name) === undefined) return;
    const total = desiredOf(name);
    const share = shareOf(total, workers.indexOf(workerId), workers.length);
    const cap = pins[name] ?? e.scaling?.max ?? total;
    const c = e.instanceCounts();
    const granted = await fleet.claim(name, workerId, share, cap, c.starting + c.ready + c.draining);
    if (granted !== e.desiredInstances) {
      logger.info({ endpoint: name, fleetDesired: total, share, granted, workers: workers.length }, `running ${granted} of ${total} instances of ${name} on this worker`);
      local.resize(name, granted);
    }
  }

  async function beat(): Promise<void> {
    try {
      const tallies: Record<string, InstanceTally> = {};
      for (const name of local.names()) {
        const e = local.get(name)!;
        tallies[name] = { ...e.instanceCounts(), target: e.desiredInstances, ...(e.version !== undefined && { version: e.version }) };
      }
      workers = await fleet.heartbeat(workerId, tallies, options.ttlMs);
      pins = await fleet.pins();
      for (const name of local.names()) await apply(name);
    } catch (err) {
      logger.warn({ err }, 'fleet heartbeat failed; instances keep running as they are');
    }
  }

  const endpoints: ScalableEndpoints = {
    names: () => local.names(),
    get(name) {
      const e = local.get(name);
      if (!e) return undefined;
      const pinned = pins[name];
      return {
        variantName: e.variantName,
        desiredInstances: desiredOf(name),
        // The policy scales the fleet-wide count; a shared pin suspends it as a local pin would.
        scaling: e.scaling && (pinned === undefined ? e.scaling : { ...e.scaling, pinnedCount: pinned }),
      };
    },
    async resize(name, count) {
      fleetDesired.set(name, count);
      await apply(name);
      return true;
    },
  };

  return {
    endpoints,
    async start() {
      await beat();
      timer = setInterval(() => { beating = beating.then(beat); }, options.intervalMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await beating;
      await fleet.leave(workerId).catch(() => undefined);
    },
  };
}

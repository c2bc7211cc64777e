/**
 * Fleet: the workers of one deployment on many hosts, as each sees the others, through a shared
 * store (Redis). Each worker runs its own instances of every endpoint; the fleet is how they
 * agree on how many, without together passing an endpoint's max.
 *
 * Guarantees:
 * - `heartbeat` says this worker is alive and what it runs (its tallies); a worker that stops
 *   sending them (killed, partitioned) drops out after `ttlMs`, its tallies and claims with it.
 * - `claim` is atomic across the fleet: the instances claimed by live workers never add up to more
 *   than `max`. A worker runs at most what it was granted, and keeps claiming what it still runs
 *   (draining ones included), so a slot is free for another only once it is really free.
 * - Pins (UpdateEndpointWeightsAndCapacities) are shared: every worker and gateway reads the same.
 *
 * Deliberately not here: the policy (decideScale) and how a worker's share is picked (fleet-scaling.ts).
 */
export interface InstanceTally {
  ready: number;
  starting: number;
  draining: number;
  /** What this worker wants to run now (its share); summed: the fleet's desired count. */
  target: number;
  /** Which version of the endpoint (its EndpointConfigName) the worker runs, when it has versions. */
  version?: string;
}

export const NO_INSTANCES: InstanceTally = { ready: 0, starting: 0, draining: 0, target: 0 };

export interface Fleet {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Resolves to the ids of the live workers, sorted (this one included). */
  heartbeat(workerId: string, tallies: Readonly<Record<string, InstanceTally>>, ttlMs: number): Promise<string[]>;
  /**
   * Claims `wanted` instances of the endpoint for this worker within `max` for the fleet; resolves
   * to how many it may run. `running` (its live instances, draining ones included) stays claimed.
   */
  claim(endpoint: string, workerId: string, wanted: number, max: number, running: number): Promise<number>;
  /** The live workers' tallies of the endpoint, summed; only those running `version` when given. */
  totals(endpoint: string, version?: string): Promise<InstanceTally>;
  pin(endpoint: string, count: number): Promise<void>;
  pins(): Promise<Record<string, number>>;
  /** Gives up this worker's claims and tallies at once (clean shutdown). */
  leave(workerId: string): Promise<void>;
}

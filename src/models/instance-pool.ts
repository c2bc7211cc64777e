/**
 * InstancePool: the running copies (instances) of one endpoint's model.
 *
 * Guarantees:
 * - `ready()` lists only instances whose last `GET /ping` answered 200 and that are not draining;
 *   work goes only to them.
 * - An instance that exits, or fails its pings, leaves `ready()` at once and is replaced (and
 *   reported through the pool's `onReplaced`, for `asyncinfer_instance_replacements_total`).
 * - `resize` never cuts off work: an instance it removes first leaves `ready()` (draining), and is
 *   stopped only once the Drainer says nothing runs on it any more. Starting instances, which have
 *   no work, are removed first and at once; then the least loaded ready ones. Growing brings back
 *   draining instances before starting new ones, so the count of processes stays at the larger of
 *   the old and new counts.
 * - `onChange` fires whenever `ready()` or `counts()` may have changed, so dispatch is event driven.
 * - `stop()` stops every instance (SIGTERM, then SIGKILL after a grace period).
 *
 * Deliberately not here: what happens to invocations in flight on an instance that died — the
 * worker sees its request fail and decides (it fails the invocation, as SageMaker does); and how
 * many instances there should be (the autoscaler, or a pin).
 */
export interface Instance {
  /** Unique within the process, e.g. `demo-1.3` (slot 1, third process started). */
  id: string;
  /** Base URL: `${url}/invocations`, `${url}/ping`. */
  url: string;
}

/** What a pool needs from whoever sends work to its instances, to drain one before stopping it. */
export interface Drainer {
  /** Invocations running on the instance now (slots reserved included). */
  load(instanceId: string): number;
  /** Resolves once nothing runs on the instance (at once when nothing does). */
  idle(instanceId: string): Promise<void>;
}

/** Nothing is tracked (a real-time endpoint): an instance is idle at once. */
export const NO_DRAIN: Drainer = { load: () => 0, idle: async () => {} };

export interface InstanceCounts {
  /** Started, not yet answering /ping (or being replaced). */
  starting: number;
  ready: number;
  /** Taking no new work; stopped once idle. */
  draining: number;
}

export type ReplacementCause = 'exited' | 'unhealthy' | 'startup-timeout';

export interface InstancePool {
  start(): Promise<void>;
  stop(): Promise<void>;
  ready(): readonly Instance[];
  counts(): InstanceCounts;
  /** Keeps `count` instances serving or starting; see the contract above. */
  resize(count: number, drainer: Drainer): void;
  onChange(listener: () => void): () => void;
}

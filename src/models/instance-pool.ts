/**
 * InstancePool: the running copies (instances) of one endpoint's model.
 *
 * Guarantees:
 * - `ready()` lists only instances whose last `GET /ping` answered 200; work goes only to them.
 * - An instance that exits, or fails its pings, leaves `ready()` at once and is replaced.
 * - `onChange` fires whenever `ready()` may have changed, so dispatch is event driven.
 * - `stop()` stops every instance (SIGTERM, then SIGKILL after a grace period).
 *
 * Deliberately not here: what happens to invocations in flight on an instance that died — the
 * worker sees its request fail and decides (it fails the invocation, as SageMaker does).
 */
export interface Instance {
  /** Unique within the process, e.g. `demo-1`. */
  id: string;
  /** Base URL: `${url}/invocations`, `${url}/ping`. */
  url: string;
}

export interface InstancePool {
  start(): Promise<void>;
  stop(): Promise<void>;
  ready(): readonly Instance[];
  onChange(listener: () => void): () => void;
}

/**
 * Group commit, for every queue adapter: the enqueues that arrive within one turn of the event
 * loop are handed to `commit` together, so they share one transaction (and one fsync, or one
 * Redis round trip). `commit` settles each one: resolve when durable, reject when not stored.
 */
import type { InvocationRequest } from '../domain/index.js';
import type { AppError } from '../errors.js';

export interface PendingEnqueue {
  request: InvocationRequest;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface GroupCommit {
  enqueue(request: InvocationRequest): Promise<void>;
  /** Hands over what is waiting now, without waiting for the next turn (shutdown). */
  flush(): void;
}

/** `refusal` says why nothing can be stored now (the queue is stopped), or undefined. */
export function groupCommit(commit: (batch: PendingEnqueue[]) => void, refusal: () => AppError | undefined): GroupCommit {
  let pending: PendingEnqueue[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const batch = pending;
    pending = [];
    if (batch.length > 0) commit(batch);
  };
  return {
    enqueue(request) {
      return new Promise<void>((resolve, reject) => {
        const refused = refusal();
        if (refused) {
          reject(refused);
          return;
        }
        pending.push({ request, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    flush,
  };
}

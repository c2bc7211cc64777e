/**
 * Test harnesses of the Redis queue for the shared conformance suites: every harness gets a
 * key prefix of its own, so tests share one server (or cluster) without seeing each other.
 */
import { randomUUID } from 'node:crypto';
import type { QueueHarness } from '../conformance.js';
import { createRedisQueue, type RedisQueue } from './redis-queue.js';

export function redisQueueHarness(url: () => string, options: { cluster?: boolean; prefix?: string } = {}) {
  const prefix = options.prefix ?? `t-${randomUUID()}`;
  return {
    prefix,
    async open(workerId = 'w'): Promise<RedisQueue> {
      const q = createRedisQueue({ url: url(), workerId, prefix, ...(options.cluster && { cluster: true }) });
      await q.start();
      return q;
    },
  } satisfies QueueHarness & { prefix: string };
}

/** The outbox suite's harness: the queue's outbox, stopped with its queue. */
export function redisOutboxHarness(h: ReturnType<typeof redisQueueHarness>) {
  return {
    async open(workerId?: string) {
      const queue = await h.open(workerId);
      return { queue, outbox: queue.outbox, stop: () => queue.stop() };
    },
  };
}

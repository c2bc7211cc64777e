/**
 * Once a second: invocations still queued past their RequestTTLSeconds take the expiry path even
 * when their endpoint has no capacity, and leases that ran out (a dead worker's) are reclaimed.
 * Only invocations never started expire (the queue's `leaseExpired` skips the others): one a crash
 * put back in the queue was already sent to the model, so it runs again, as on SageMaker.
 * TTLs are at least 60 s, so a one-second sweep is precise enough.
 */
import type { Logger } from 'pino';
import type { InvocationQueue, Lease } from '../queue/index.js';

export interface ExpirySweeperOptions {
  queue: InvocationQueue;
  expire: (lease: Lease) => Promise<void>;
  logger: Logger;
  intervalMs?: number;
  batch?: number;
}

export function createExpirySweeper(options: ExpirySweeperOptions): { start(): void; stop(): Promise<void> } {
  const { queue, logger } = options;
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> = Promise.resolve();

  async function sweep(): Promise<void> {
    try {
      const reclaimed = await queue.reclaimExpiredLeases(Date.now());
      if (reclaimed > 0) logger.warn({ reclaimed }, 'returned invocations whose lease ran out to the queue');
      for (;;) {
        const leases = await queue.leaseExpired(Date.now(), options.batch ?? 100, 60_000);
        await Promise.all(leases.map((lease) => options.expire(lease)));
        if (leases.length < (options.batch ?? 100)) break;
      }
    } catch (err) {
      logger.error({ err }, 'expiry sweep failed; will try again');
    }
  }

  return {
    start() {
      timer = setInterval(() => {
        sweeping = sweeping.then(sweep);
      }, options.intervalMs ?? 1000);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await sweeping;
    },
  };
}

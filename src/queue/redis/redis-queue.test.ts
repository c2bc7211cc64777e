import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '../../../test/support/redis-server.js';
import { isAppError } from '../../errors.js';
import { outboxConformance } from '../../notify/conformance.js';
import { queueConformance, request } from '../conformance.js';
import { redactRedisUrl } from './redis-connection.js';
import { redisOutboxHarness, redisQueueHarness } from './redis-harness.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis?.stop());

const harness = () => redisQueueHarness(() => redis.url);

queueConformance('redis', async () => harness());

outboxConformance('redis', async () => redisOutboxHarness(harness()));

/** Resolves with the first value `listen` reports, or rejects after `ms`. */
function nextEvent<T>(listen: (report: (value: T) => void) => () => void, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`no event within ${ms} ms`)); }, ms);
    const off = listen((value) => {
      clearTimeout(timer);
      off();
      resolve(value);
    });
  });
}

describe('Redis queue', () => {
  it('round-trips every byte value of a body exactly', async () => {
    const q = await harness().open();
    const body = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256));
    const r = request({ body });
    await q.enqueue(r);
    expect(Buffer.compare(Buffer.from((await q.get(r.id))!.body!), body)).toBe(0);
    expect(Buffer.compare(Buffer.from((await q.lease('ep', 10_000))!.invocation.body!), body)).toBe(0);
    await q.stop();
  });

  it('wakes listeners of another queue object (another process) on enqueue, release and notifications', async () => {
    const h = harness();
    const gateway = await h.open('gateway');
    const worker = await h.open('worker');
    const enqueued = nextEvent<string>((report) => worker.onAvailable(report));
    await gateway.enqueue(request({ endpointName: 'cross' }));
    expect(await enqueued).toBe('cross');

    const lease = (await worker.lease('cross', 10_000))!;
    const released = nextEvent<string>((report) => gateway.onAvailable(report));
    expect(await worker.release(lease)).toBe(true);
    expect(await released).toBe('cross');

    const added = nextEvent<void>((report) => gateway.outbox.onAdded(report));
    const again = (await worker.lease('cross', 10_000))!;
    const draft = { eventId: `e-${randomUUID()}`, topicArn: 'arn:aws:sns:us-east-1:123456789012:t', endpointName: 'cross', variantName: 'v', message: '{}' };
    expect(await worker.complete(again, { state: 'completed' }, [draft])).toBe(true);
    await added;
    expect((await gateway.outbox.get(draft.eventId))?.state).toBe('pending');
    await Promise.all([gateway.stop(), worker.stop()]);
  });

  it('fails fast with ServiceUnavailable while Redis is down, loses nothing it acknowledged, and resumes when Redis is back', async () => {
    const h = harness();
    const gateway = await h.open('gateway');
    const worker = await h.open('worker');
    const kept = request({ endpointName: 'crash' });
    await gateway.enqueue(kept);

    await redis.kill9();
    const started = Date.now();
    const err = await gateway.enqueue(request({ endpointName: 'crash' })).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(isAppError(err, 'ServiceUnavailable')).toBe(true);
    expect((err as Error).message).toContain(`Redis at redis://127.0.0.1:${redis.port}`);
    expect((err as Error).message).toMatch(/unreachable.*Retry later/);
    expect(isAppError(await worker.backlog('crash').catch((e: unknown) => e), 'ServiceUnavailable')).toBe(true);

    await redis.restart();
    // The same objects reconnect by themselves; the subscriber subscribes again.
    const deadline = Date.now() + 15_000;
    const woken = nextEvent<string>((report) => worker.onAvailable((name) => name === 'after' && report(name)), 20_000);
    for (;;) {
      const retry = await gateway.enqueue(request({ endpointName: 'after' })).then(() => undefined, (e: unknown) => e);
      if (retry === undefined) break;
      expect(isAppError(retry, 'ServiceUnavailable')).toBe(true);
      if (Date.now() > deadline) throw retry;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await woken).toBe('after');
    // A name the reconnect's wake-all cannot know: only the renewed subscription carries it.
    const published = nextEvent<string>((report) => worker.onAvailable((name) => name === 'after-2' && report(name)));
    await gateway.enqueue(request({ endpointName: 'after-2' }));
    expect(await published).toBe('after-2');
    // Acknowledged before the crash, so on disk (AOF, appendfsync always).
    expect((await worker.get(kept.id))?.state).toBe('queued');
    expect((await worker.backlog('crash')).queued).toBe(1);
    await Promise.all([gateway.stop(), worker.stop()]);
  });

  it('rejects enqueues after stop with ServiceUnavailable', async () => {
    const q = await harness().open();
    await q.stop();
    expect(isAppError(await q.enqueue(request()).catch((e: unknown) => e), 'ServiceUnavailable')).toBe(true);
  });

  it('never shows the password of the URL', () => {
    expect(redactRedisUrl('redis://user:s3cret@host:6380/2')).toBe('redis://user:***@host:6380/2');
    expect(redactRedisUrl('redis://:s3cret@host')).not.toContain('s3cret');
  });
});

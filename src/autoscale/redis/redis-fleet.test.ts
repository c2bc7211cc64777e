import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '../../../test/support/redis-server.js';
import { shareOf } from '../fleet-scaling.js';
import type { Fleet } from '../fleet.js';
import { createRedisFleet } from './redis-fleet.js';

let redis: RedisServer;
let fleet: Fleet;
beforeAll(async () => {
  redis = await startRedisServer();
  fleet = createRedisFleet({ url: redis.url, prefix: 'fleet-test' });
  await fleet.start();
});
afterAll(async () => {
  await fleet.stop();
  await redis.stop();
});

const idle = { ready: 0, starting: 0, draining: 0, target: 0 };

describe('shareOf', () => {
  it('splits a count as evenly as it divides, the first ranks taking the rest, and always sums to the count', () => {
    expect([0, 1, 2].map((r) => shareOf(5, r, 3))).toEqual([2, 2, 1]);
    expect([0, 1].map((r) => shareOf(1, r, 2))).toEqual([1, 0]);
    for (let total = 0; total < 20; total++) {
      for (let n = 1; n < 6; n++) expect(Array.from({ length: n }, (_, r) => shareOf(total, r, n)).reduce((a, b) => a + b)).toBe(total);
    }
    expect(shareOf(3, -1, 2)).toBe(0); // not (yet) among the live workers
  });
});

describe('Fleet on Redis', () => {
  it('never grants more than max to the live workers together; what a worker still runs stays claimed', async () => {
    expect(await fleet.heartbeat('a', { ep: idle }, 10_000)).toEqual(['a']);
    expect(await fleet.heartbeat('b', { ep: idle }, 10_000)).toEqual(['a', 'b']);
    expect(await fleet.claim('ep', 'a', 3, 3, 0)).toBe(3);
    expect(await fleet.claim('ep', 'b', 2, 3, 0)).toBe(0);
    // a wants 1 now, but 3 still run (2 draining): the slots stay taken.
    expect(await fleet.claim('ep', 'a', 1, 3, 3)).toBe(1);
    expect(await fleet.claim('ep', 'b', 2, 3, 0)).toBe(0);
    // Once its heartbeat says only 1 runs, b gets the rest.
    await fleet.heartbeat('a', { ep: { ready: 1, starting: 0, draining: 0, target: 1 } }, 10_000);
    expect(await fleet.claim('ep', 'b', 2, 3, 0)).toBe(2);
    await fleet.heartbeat('b', { ep: { ready: 1, starting: 1, draining: 0, target: 2 } }, 10_000);
    expect(await fleet.totals('ep')).toEqual({ ready: 2, starting: 1, draining: 0, target: 3 });
  });

  it('forgets a worker whose heartbeat ran out, with its claims', async () => {
    await fleet.heartbeat('gone', { ep2: idle }, 200);
    expect(await fleet.claim('ep2', 'gone', 2, 2, 0)).toBe(2);
    expect(await fleet.claim('ep2', 'alive', 2, 2, 0)).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(await fleet.heartbeat('alive', { ep2: idle }, 10_000)).not.toContain('gone');
    expect(await fleet.claim('ep2', 'alive', 2, 2, 0)).toBe(2);
  });

  it('shares pins between every reader', async () => {
    await fleet.pin('ep', 0);
    expect(await fleet.pins()).toMatchObject({ ep: 0 });
  });
});

/**
 * The Redis adapters against a real three-master Redis Cluster, connected through one node: every
 * deployment's keys share one hash tag, so each script runs on the node owning that slot, which
 * for most prefixes is not the node in the URL (checked below).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startRedisCluster } from '../../../test/support/redis-server.js';
import { createRedisFleet } from '../../autoscale/index.js';
import { catalogConformance } from '../../catalog/conformance.js';
import { createRedisCatalog } from '../../catalog/index.js';
import { outboxConformance } from '../../notify/conformance.js';
import { queueConformance } from '../conformance.js';
import { redisOutboxHarness, redisQueueHarness } from './redis-harness.js';

let cluster: Awaited<ReturnType<typeof startRedisCluster>>;
let url: string;
beforeAll(async () => {
  cluster = await startRedisCluster(3);
  url = cluster.nodes[0]!.url;
}, 60_000);
afterAll(() => cluster?.stop());

const harness = (prefix?: string) => redisQueueHarness(() => url, { cluster: true, ...(prefix !== undefined && { prefix }) });

queueConformance('redis cluster', async () => harness());

outboxConformance('redis cluster', async () => redisOutboxHarness(harness()));

catalogConformance('redis cluster', async () => {
  const prefix = `c-${randomUUID()}`;
  return {
    async open() {
      const c = createRedisCatalog({ url, cluster: true, prefix });
      await c.start();
      return c;
    },
  };
});

it('works for a deployment whose slot lives on another node than the one in the URL, fleet included', async () => {
  const port = String(cluster.nodes[0]!.port);
  let prefix = '';
  // A prefix whose hash tag the first node does not own (it answers MOVED for it).
  for (let i = 0; !prefix; i++) {
    const candidate = `moved-${i}`;
    const slot = execFileSync('/usr/bin/redis-cli', ['-p', port, 'cluster', 'keyslot', `{${candidate}}`], { encoding: 'utf8' }).trim();
    if (!isOwnedBy(port, Number(slot))) prefix = candidate;
  }
  const q = await harness(prefix).open();
  await q.enqueue({
    id: randomUUID(), inferenceId: 'i', endpointName: 'ep', body: Buffer.from('{}'), outputLocation: 's3://b/o', requestTtlSeconds: 60,
    invocationTimeoutSeconds: 60, receivedAtMs: Date.now(),
  });
  expect((await q.backlog('ep')).queued).toBe(1);
  await q.stop();
  const fleet = createRedisFleet({ url, cluster: true, prefix });
  await fleet.start();
  expect(await fleet.heartbeat('a', { ep: { ready: 0, starting: 0, draining: 0, target: 0 } }, 10_000)).toEqual(['a']);
  expect(await fleet.claim('ep', 'a', 2, 1, 0)).toBe(1);
  await fleet.stop();
});

/** Whether the node on `port` serves `slot` itself, from CLUSTER SLOTS. */
function isOwnedBy(port: string, slot: number): boolean {
  const nodes = execFileSync('/usr/bin/redis-cli', ['-p', port, 'cluster', 'nodes'], { encoding: 'utf8' });
  const mine = nodes.split('\n').find((l) => l.includes('myself'))!;
  return mine.split(' ').slice(8).some((range) => {
    const [a, b] = range.split('-').map(Number);
    return slot >= a! && slot <= (b ?? a!);
  });
}

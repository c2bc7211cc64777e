import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { NotificationDraft } from '../domain/index.js';
import { createMetrics } from '../metrics/index.js';
import { createSqliteQueue, type SqliteQueue } from '../queue/index.js';
import type { Deliverer, DeliveryResult } from './deliverer.js';
import { createDeliveryLoop, type DeliveryLoop } from './delivery-loop.js';
import type { NotificationTarget } from './targets.js';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:t';
const A: NotificationTarget = { webhook: 'http://a', headers: {} };
const B: NotificationTarget = { webhook: 'http://b', headers: {} };
const policy = { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 20, timeoutMs: 1000 };

let queue: SqliteQueue;
let loop: DeliveryLoop | undefined;

async function openQueue(): Promise<SqliteQueue> {
  queue = createSqliteQueue({ dir: mkdtempSync(path.join(tmpdir(), 'asyncinfer-loop-')), workerId: 'w' });
  await queue.start();
  return queue;
}

afterEach(async () => {
  await loop?.stop();
  loop = undefined;
  await queue.stop();
});

const draft = (n: number): NotificationDraft => ({ eventId: `e${n}`, topicArn: TOPIC, endpointName: 'ep', variantName: 'v', message: `{"n":${n}}` });

function fakeDeliverer(answer: (target: NotificationTarget, id: string, signal: AbortSignal) => Promise<DeliveryResult>): Deliverer & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    deliver: (target, req, signal) => {
      calls.push(`${'webhook' in target ? target.webhook : 'sns'} ${req.id}`);
      return answer(target, req.id, signal);
    },
    stop: async () => {},
  };
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('delivery loop', () => {
  it('retries only the targets that failed, gives up after maxAttempts, counts and logs it once', async () => {
    const q = await openQueue();
    const metrics = createMetrics();
    const lines: { msg: string; eventId?: string }[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => lines.push(JSON.parse(l) as { msg: string }) });
    const deliverer = fakeDeliverer(async (target) => (target === A ? { ok: true, status: 200 } : { ok: false, status: 500, error: 'HTTP 500' }));
    loop = createDeliveryLoop({ outbox: q.outbox, deliverer, targets: () => [A, B, { ...B }], policy, metrics, logger });
    loop.start();
    await q.outbox.add([draft(1)]);
    await until(async () => (await q.outbox.get('e1'))?.state === 'failed', 'give-up');
    // A took it in round one; B (listed twice, one key) is tried once per round.
    expect(deliverer.calls).toEqual(['http://a e1', 'http://b e1', 'http://b e1', 'http://b e1']);
    const entry = (await q.outbox.get('e1'))!;
    expect(entry).toMatchObject({ attempts: 3, deliveredTargets: ['webhook http://a'], lastError: 'webhook http://b: HTTP 500' });
    expect(entry.history).toHaveLength(4);
    expect(await metrics.registry.getSingleMetricAsString('asyncinfer_notification_failures_total')).toContain('asyncinfer_notification_failures_total{endpoint="ep",variant="v"} 1');
    expect(lines.filter((l) => l.msg.startsWith('notification given up'))).toEqual([expect.objectContaining({ eventId: 'e1' })]);
  });

  it('keeps at most `concurrency` entries in flight', async () => {
    const q = await openQueue();
    let inFlight = 0;
    let most = 0;
    const deliverer = fakeDeliverer(async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 10));
      inFlight--;
      return { ok: true, status: 204 };
    });
    loop = createDeliveryLoop({ outbox: q.outbox, deliverer, targets: () => [A], policy, metrics: createMetrics(), logger: pino({ level: 'silent' }), concurrency: 3 });
    loop.start();
    await q.outbox.add(Array.from({ length: 12 }, (_, i) => draft(i)));
    await until(async () => (await q.outbox.list({ state: 'delivered', limit: 100 })).length === 12, 'every delivery');
    expect(most).toBe(3);
  });

  it('on stop, interrupts deliveries that outlast the grace period and gives their entries back untouched', async () => {
    const q = await openQueue();
    let started = false;
    const deliverer = fakeDeliverer((_t, _id, signal) => {
      started = true;
      return new Promise((resolve) => signal.addEventListener('abort', () => resolve({ ok: false, error: 'aborted' })));
    });
    const l = createDeliveryLoop({ outbox: q.outbox, deliverer, targets: () => [A], policy, metrics: createMetrics(), logger: pino({ level: 'silent' }), stopGraceMs: 20 });
    l.start();
    await q.outbox.add([draft(1)]);
    await until(() => started, 'the delivery to start');
    await l.stop();
    expect(await q.outbox.get('e1')).toMatchObject({ state: 'pending', attempts: 0, history: [] });
    expect(await q.outbox.claimDue(Date.now(), 10, 1000)).toHaveLength(1);
  });
});

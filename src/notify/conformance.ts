/**
 * The NotificationOutbox contract as tests; every adapter runs this suite against a real backend.
 * An outbox lives beside a queue (its entries go in with an outcome, one transaction), so the
 * harness opens both over the same store; `open` again after `stop` proves durability.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { InvocationRequest, NotificationDraft } from '../domain/index.js';
import type { InvocationQueue } from '../queue/index.js';
import type { DeliveryAttempt, NotificationOutbox } from './outbox.js';

export interface OutboxHarness {
  /** A queue and its outbox over the same store every time it is called. */
  open(workerId?: string): Promise<{ queue: InvocationQueue; outbox: NotificationOutbox; stop(): Promise<void> }>;
}

function draft(overrides: Partial<NotificationDraft> = {}): NotificationDraft {
  return {
    eventId: `result-${randomUUID()}`, topicArn: 'arn:aws:sns:us-east-1:123456789012:ok', endpointName: 'ep', variantName: 'AllTraffic',
    message: '{"eventName":"InferenceResult"}', ...overrides,
  };
}

function invocation(): InvocationRequest {
  const id = randomUUID();
  return {
    id, inferenceId: `inf-${id}`, endpointName: 'ep', body: Buffer.from('{}'), outputLocation: `s3://b/out/${id}.out`,
    requestTtlSeconds: 21600, invocationTimeoutSeconds: 900, receivedAtMs: Date.now(),
  };
}

const attempt = (target: string, ok: boolean, extra: Partial<DeliveryAttempt> = {}): DeliveryAttempt =>
  ({ target, atMs: Date.now(), latencyMs: 12, ok, ...(ok ? { status: 200 } : { error: 'ECONNREFUSED' }), ...extra });

export function outboxConformance(name: string, makeHarness: () => Promise<OutboxHarness>): void {
  describe(`NotificationOutbox conformance: ${name}`, () => {
    it('writes an outcome\'s notifications with it, and none when the outcome is not recorded', async () => {
      const { queue, outbox, stop } = await (await makeHarness()).open();
      const added: number[] = [];
      outbox.onAdded(() => added.push(1));
      await queue.enqueue(invocation());
      const lease = (await queue.lease('ep', 10_000))!;
      const d = draft();
      expect(await queue.complete(lease, { state: 'completed' }, [d])).toBe(true);
      expect(added.length).toBeGreaterThanOrEqual(1);
      // Fenced: a second complete of the same lease records nothing, and adds nothing.
      expect(await queue.complete(lease, { state: 'failed' }, [draft()])).toBe(false);
      const all = await outbox.list({ limit: 100 });
      expect(all.map((e) => e.id)).toEqual([d.eventId]);
      expect(all[0]).toMatchObject({
        id: d.eventId, topicArn: d.topicArn, endpointName: 'ep', variantName: 'AllTraffic', message: d.message,
        state: 'pending', attempts: 0, deliveredTargets: [], history: [],
      });
      await stop();
    });

    it('adds durably and idempotently, and keeps entries across a restart', async () => {
      const harness = await makeHarness();
      const first = await harness.open();
      const d = draft();
      await first.outbox.add([d]);
      await first.outbox.add([d]);
      await first.stop();
      const second = await harness.open();
      expect((await second.outbox.list({ limit: 10 })).map((e) => e.id)).toEqual([d.eventId]);
      expect((await second.outbox.get(d.eventId))?.state).toBe('pending');
      await second.stop();
    });

    it('claims due entries once, and offers them again when the claim runs out', async () => {
      const { outbox, stop } = await (await makeHarness()).open();
      const d = draft();
      await outbox.add([d]);
      const t = Date.now() + 10;
      const [claim] = await outbox.claimDue(t, 10, 1000);
      expect(claim?.entry.id).toBe(d.eventId);
      expect(await outbox.claimDue(t, 10, 1000)).toEqual([]);
      expect(await outbox.nextDueAtMs()).toBe(t + 1000);
      // The holder died: its claim runs out and another takes the entry; the old claim is fenced.
      const [again] = await outbox.claimDue(t + 1000, 10, 1000);
      expect(again?.entry.id).toBe(d.eventId);
      expect(await outbox.settle(claim!, [attempt('webhook http://a', true)], { state: 'delivered' })).toBe(false);
      expect(await outbox.settle(again!, [attempt('webhook http://a', true)], { state: 'delivered' })).toBe(true);
      const entry = await outbox.get(d.eventId);
      expect(entry?.state).toBe('delivered');
      // Both attempts happened, so both are kept.
      expect(entry?.history).toHaveLength(2);
      expect(await outbox.claimDue(t + 10_000, 10, 1000)).toEqual([]);
      expect(await outbox.nextDueAtMs()).toBeUndefined();
      await stop();
    });

    it('counts rounds, remembers delivered targets, records every attempt, and waits for the next attempt time', async () => {
      const { outbox, stop } = await (await makeHarness()).open();
      const d = draft();
      await outbox.add([d]);
      const t = Date.now() + 10;
      const [claim] = await outbox.claimDue(t, 10, 1000);
      const tried = [attempt('webhook http://a', true), attempt('webhook http://b', false, { status: 503, error: 'HTTP 503' })];
      expect(await outbox.settle(claim!, tried, { state: 'pending', nextAttemptAtMs: t + 5000, lastError: 'webhook http://b: HTTP 503' })).toBe(true);
      expect(await outbox.claimDue(t + 4999, 10, 1000)).toEqual([]);
      expect(await outbox.nextDueAtMs()).toBe(t + 5000);
      const [retry] = await outbox.claimDue(t + 5000, 10, 1000);
      expect(retry?.entry).toMatchObject({ attempts: 1, deliveredTargets: ['webhook http://a'], lastError: 'webhook http://b: HTTP 503', state: 'pending' });
      await outbox.settle(retry!, [attempt('webhook http://b', true)], { state: 'delivered' });
      const entry = (await outbox.get(d.eventId))!;
      expect(entry).toMatchObject({ state: 'delivered', attempts: 2, deliveredTargets: ['webhook http://a', 'webhook http://b'] });
      expect(entry.lastError).toBeUndefined();
      expect(entry.history.map((h) => [h.target, h.ok, h.status, h.error ?? null])).toEqual([
        ['webhook http://a', true, 200, null], ['webhook http://b', false, 503, 'HTTP 503'], ['webhook http://b', true, 200, null],
      ]);
      expect(entry.history[0]!.latencyMs).toBe(12);
      expect(entry.history[0]!.atMs).toBeGreaterThan(0);
      await stop();
    });

    it('keeps failed entries for replay: by id or all, with a fresh budget and the history kept', async () => {
      const { outbox, stop } = await (await makeHarness()).open();
      const a = draft(); const b = draft(); const c = draft();
      await outbox.add([a, b, c]);
      const t = Date.now() + 10;
      for (const claim of await outbox.claimDue(t, 10, 1000)) {
        await outbox.settle(claim, [attempt('sns', false)], claim.entry.id === c.eventId ? { state: 'delivered' } : { state: 'failed', lastError: 'sns: down' });
      }
      expect((await outbox.list({ state: 'failed', limit: 10 })).map((e) => e.id).sort()).toEqual([a.eventId, b.eventId].sort());
      const added: number[] = [];
      outbox.onAdded(() => added.push(1));
      expect(await outbox.replay([a.eventId, c.eventId, 'no-such-id'])).toBe(1);
      expect(added.length).toBe(1);
      expect(await outbox.get(a.eventId)).toMatchObject({ state: 'pending', attempts: 0 });
      expect((await outbox.get(a.eventId))!.history).toHaveLength(1);
      expect((await outbox.get(c.eventId))?.state).toBe('delivered');
      expect(await outbox.replay()).toBe(1);
      expect((await outbox.get(b.eventId))?.state).toBe('pending');
      expect(await outbox.replay()).toBe(0);
      expect((await outbox.claimDue(Date.now() + 10, 10, 1000)).map((x) => x.entry.id).sort()).toEqual([a.eventId, b.eventId].sort());
      await stop();
    });

    it('releases a claim: due again at once, nothing counted', async () => {
      const { outbox, stop } = await (await makeHarness()).open();
      const d = draft();
      await outbox.add([d]);
      const t = Date.now() + 10;
      const [claim] = await outbox.claimDue(t, 10, 60_000);
      expect(await outbox.release(claim!)).toBe(true);
      expect(await outbox.release(claim!)).toBe(false);
      const [again] = await outbox.claimDue(t, 10, 60_000);
      expect(again?.entry).toMatchObject({ id: d.eventId, attempts: 0 });
      await stop();
    });

    it('lists newest first, by state and endpoint, up to the limit', async () => {
      const { outbox, stop } = await (await makeHarness()).open();
      const drafts = [draft(), draft({ endpointName: 'other' }), draft(), draft()];
      for (const d of drafts) await outbox.add([d]);
      expect((await outbox.list({ limit: 2 })).map((e) => e.id)).toEqual([drafts[3]!.eventId, drafts[2]!.eventId]);
      expect((await outbox.list({ endpointName: 'other', limit: 10 })).map((e) => e.id)).toEqual([drafts[1]!.eventId]);
      expect(await outbox.list({ state: 'delivered', limit: 10 })).toEqual([]);
      expect(await outbox.list({ state: 'pending', endpointName: 'ep', limit: 10 })).toHaveLength(3);
      await stop();
    });

    it('offers claims of a holder that is gone after a restart', async () => {
      const harness = await makeHarness();
      const first = await harness.open('dead');
      const d = draft();
      await first.outbox.add([d]);
      expect(await first.outbox.claimDue(Date.now() + 10, 10, 3_600_000)).toHaveLength(1);
      await first.stop();
      const second = await harness.open('alive');
      // At the latest when the claim runs out; an adapter that knows the holder is gone may offer it at once.
      const [claim] = await second.outbox.claimDue(Date.now() + 3_600_100, 10, 1000);
      expect(claim?.entry.id).toBe(d.eventId);
      await second.stop();
    });
  });
}

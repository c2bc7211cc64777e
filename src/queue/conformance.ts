/**
 * The InvocationQueue contract as tests; every adapter runs this suite against a real backend.
 * `open` opens the same underlying store again (after `stop`), to prove durability.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { InvocationRequest } from '../domain/index.js';
import type { InvocationQueue } from './invocation-queue.js';

export interface QueueHarness {
  /** A queue over the same store every time it is called, leasing as `workerId`. */
  open(workerId?: string): Promise<InvocationQueue>;
}

export function request(overrides: Partial<InvocationRequest> = {}): InvocationRequest {
  const id = randomUUID();
  return {
    id, inferenceId: `inf-${id}`, endpointName: 'ep', body: Buffer.from('{"x":1}'), contentType: 'application/json',
    outputLocation: `s3://b/out/${id}.out`, failureLocation: `s3://b/fail/${id}-error.out`,
    requestTtlSeconds: 21600, invocationTimeoutSeconds: 900, receivedAtMs: Date.now(), ...overrides,
  };
}

export function queueConformance(name: string, makeHarness: () => Promise<QueueHarness>): void {
  describe(`InvocationQueue conformance: ${name}`, () => {
    it('round-trips every field of a request through enqueue and lease', async () => {
      const q = await (await makeHarness()).open();
      const r = request({ accept: 'text/csv', customAttributes: 'a=1' });
      await q.enqueue(r);
      const lease = await q.lease('ep', 10_000);
      expect(lease?.attempt).toBe(1);
      const { body, ...rest } = r;
      expect(lease?.invocation).toMatchObject({ ...rest, state: 'running', attempts: 1 });
      expect(Buffer.from(lease!.invocation.body!)).toEqual(Buffer.from(body!));
      expect(await q.lease('ep', 10_000)).toBeUndefined();
      await q.stop();
    });

    it('leases oldest first, per endpoint', async () => {
      const q = await (await makeHarness()).open();
      const a = request(); const b = request(); const other = request({ endpointName: 'other' });
      await q.enqueue(a); await q.enqueue(other); await q.enqueue(b);
      expect((await q.lease('ep', 10_000))?.invocation.id).toBe(a.id);
      expect((await q.lease('ep', 10_000))?.invocation.id).toBe(b.id);
      expect((await q.lease('other', 10_000))?.invocation.id).toBe(other.id);
      await q.stop();
    });

    it('group-commits concurrent enqueues and tells listeners once per endpoint', async () => {
      const q = await (await makeHarness()).open();
      const seen: string[] = [];
      q.onAvailable((ep) => seen.push(ep));
      await Promise.all(Array.from({ length: 50 }, () => q.enqueue(request())));
      expect(seen.filter((e) => e === 'ep').length).toBeGreaterThanOrEqual(1);
      let n = 0;
      while (await q.lease('ep', 10_000)) n++;
      expect(n).toBe(50);
      await q.stop();
    });

    it('records an outcome once, and drops the body', async () => {
      const q = await (await makeHarness()).open();
      const r = request();
      await q.enqueue(r);
      const lease = (await q.lease('ep', 10_000))!;
      expect(await q.complete(lease, { state: 'failed', failureReason: 'boom', modelStatus: 500 })).toBe(true);
      expect(await q.complete(lease, { state: 'completed' })).toBe(false);
      const got = await q.get(r.id);
      expect(got).toMatchObject({ state: 'failed', failureReason: 'boom', attempts: 1 });
      expect(got?.body).toBeUndefined();
      expect(got?.finishedAtMs).toBeGreaterThan(0);
      await q.stop();
    });

    it('returns expired leases to the queue and fences the old holder', async () => {
      const q = await (await makeHarness()).open();
      const r = request();
      await q.enqueue(r);
      const first = (await q.lease('ep', 1))!;
      const available: string[] = [];
      q.onAvailable((ep) => available.push(ep));
      expect(await q.reclaimExpiredLeases(Date.now() + 1000)).toBe(1);
      expect(available).toContain('ep');
      const second = (await q.lease('ep', 10_000))!;
      expect(second.attempt).toBe(2);
      expect(await q.extend(first, 10_000)).toBe(false);
      expect(await q.complete(first, { state: 'completed' })).toBe(false);
      expect(await q.extend(second, 10_000)).toBe(true);
      expect(await q.reclaimExpiredLeases(Date.now())).toBe(0);
      expect(await q.complete(second, { state: 'completed' })).toBe(true);
      await q.stop();
    });

    it('releases a lease back to the queue', async () => {
      const q = await (await makeHarness()).open();
      await q.enqueue(request());
      const lease = (await q.lease('ep', 10_000))!;
      expect(await q.release(lease)).toBe(true);
      expect(await q.release(lease)).toBe(false);
      expect((await q.lease('ep', 10_000))?.invocation.id).toBe(lease.invocation.id);
      await q.stop();
    });

    it('leases invocations whose TTL ran out, whichever endpoint and order', async () => {
      const q = await (await makeHarness()).open();
      const t = Date.now();
      const fresh = request({ receivedAtMs: t });
      const stale = request({ endpointName: 'other', receivedAtMs: t - 61_000, requestTtlSeconds: 60 });
      await q.enqueue(fresh); await q.enqueue(stale);
      const expired = await q.leaseExpired(t, 10, 10_000);
      expect(expired.map((l) => l.invocation.id)).toEqual([stale.id]);
      expect((await q.get(stale.id))?.state).toBe('running');
      expect(await q.leaseExpired(t, 10, 10_000)).toEqual([]);
      await q.stop();
    });

    it('never expires an invocation that was started once, however late it is back in the queue', async () => {
      const harness = await makeHarness();
      const q = await harness.open('w1');
      const t = Date.now();
      const started = request({ receivedAtMs: t - 61_000, requestTtlSeconds: 60 });
      const neverStarted = request({ endpointName: 'other', receivedAtMs: t - 61_000, requestTtlSeconds: 60 });
      await q.enqueue(started); await q.enqueue(neverStarted);
      // Started, then back in the queue: by a lost lease, and by a release.
      expect((await q.lease('ep', 1))?.invocation.id).toBe(started.id);
      expect(await q.reclaimExpiredLeases(Date.now() + 1000)).toBe(1);
      const again = (await q.lease('ep', 10_000))!;
      expect(await q.release(again)).toBe(true);
      // Leased by the expiry path and given back: it never ran, so it still expires.
      const expiring = await q.leaseExpired(t, 10, 10_000);
      expect(expiring.map((l) => l.invocation.id)).toEqual([neverStarted.id]);
      expect(await q.release(expiring[0]!)).toBe(true);
      expect((await q.leaseExpired(t, 10, 10_000)).map((l) => l.invocation.id)).toEqual([neverStarted.id]);
      await q.stop();
      // Not after a restart either (the crash case): it is leased to run again.
      const q2 = await harness.open('w2');
      await q2.reclaimExpiredLeases(Date.now() + 120_000);
      expect((await q2.leaseExpired(Date.now(), 10, 10_000)).map((l) => l.invocation.id)).toEqual([neverStarted.id]);
      const rerun = (await q2.lease('ep', 10_000))!;
      expect(rerun.invocation.id).toBe(started.id);
      expect(rerun.attempt).toBe(3);
      expect(await q2.complete(rerun, { state: 'completed' })).toBe(true);
      await q2.stop();
    });

    it('remembers which outcome object an invocation gets, across attempts, under the lease', async () => {
      const harness = await makeHarness();
      const q = await harness.open('w1');
      const r = request();
      await q.enqueue(r);
      const first = (await q.lease('ep', 60_000))!;
      expect(await q.prepareOutcome(first, { state: 'completed', modelStatus: 200 })).toEqual({ state: 'completed', modelStatus: 200 });
      await q.stop();
      // A crash before the outcome was recorded; the next attempt wants the other object.
      const q2 = await harness.open('w2');
      await q2.reclaimExpiredLeases(Date.now() + 120_000);
      const second = (await q2.lease('ep', 10_000))!;
      expect(second.attempt).toBe(2);
      const failed = { state: 'failed', failureReason: 'boom', modelStatus: 500 } as const;
      expect(await q2.prepareOutcome(second, failed)).toEqual({ state: 'completed', modelStatus: 200 });
      // Same object: replaced. The other object only with `replace`.
      expect(await q2.prepareOutcome(second, { state: 'completed', modelStatus: 201 })).toEqual({ state: 'completed', modelStatus: 201 });
      expect(await q2.prepareOutcome(second, failed, { replace: true })).toEqual(failed);
      expect(await q2.prepareOutcome(second, { state: 'expired', failureReason: 'late' })).toEqual({ state: 'expired', failureReason: 'late' });
      expect(await q2.prepareOutcome(second, { state: 'completed' })).toEqual({ state: 'expired', failureReason: 'late' });
      // Fenced: an old lease changes nothing.
      expect(await q2.prepareOutcome(first, { state: 'completed' }, { replace: true })).toBeUndefined();
      expect(await q2.complete(second, failed)).toBe(true);
      expect(await q2.prepareOutcome(second, failed)).toBeUndefined();
      await q2.stop();
    });

    it('counts the backlog per endpoint through every change of state, and finds the oldest queued', async () => {
      const harness = await makeHarness();
      const q = await harness.open();
      expect(await q.backlog('ep')).toEqual({ queued: 0, running: 0 });
      const t = Date.now();
      const a = request({ receivedAtMs: t - 3000 }); const b = request({ receivedAtMs: t - 2000 }); const c = request({ receivedAtMs: t - 1000 });
      const other = request({ endpointName: 'other' });
      const stale = request({ receivedAtMs: t - 61_000, requestTtlSeconds: 60 });
      await Promise.all([q.enqueue(stale), q.enqueue(a), q.enqueue(b), q.enqueue(c), q.enqueue(other)]);
      expect(await q.backlog('ep')).toEqual({ queued: 4, running: 0, oldestQueuedReceivedAtMs: stale.receivedAtMs });
      expect(await q.backlog('other')).toMatchObject({ queued: 1, running: 0 });
      expect(await q.leaseExpired(t, 10, 10_000)).toHaveLength(1);
      expect(await q.backlog('ep')).toEqual({ queued: 3, running: 1, oldestQueuedReceivedAtMs: a.receivedAtMs });
      const la = (await q.lease('ep', 1))!;
      const lb = (await q.lease('ep', 10_000))!;
      expect(await q.backlog('ep')).toEqual({ queued: 1, running: 3, oldestQueuedReceivedAtMs: c.receivedAtMs });
      expect(await q.complete(lb, { state: 'completed' })).toBe(true);
      expect(await q.complete(lb, { state: 'completed' })).toBe(false);
      expect(await q.backlog('ep')).toMatchObject({ queued: 1, running: 2 });
      expect(await q.reclaimExpiredLeases(Date.now() + 5000)).toBe(1);
      expect(await q.backlog('ep')).toEqual({ queued: 2, running: 1, oldestQueuedReceivedAtMs: a.receivedAtMs });
      expect(await q.release(la)).toBe(false);
      const again = (await q.lease('ep', 10_000))!;
      expect(await q.release(again)).toBe(true);
      expect(await q.backlog('ep')).toMatchObject({ queued: 2, running: 1 });
      await q.stop();
      // Counted again from the store after a restart; old leases are back in the queue.
      const q2 = await harness.open('w2');
      await q2.reclaimExpiredLeases(Date.now() + 120_000);
      expect(await q2.backlog('ep')).toEqual({ queued: 3, running: 0, oldestQueuedReceivedAtMs: stale.receivedAtMs });
      expect(await q2.backlog('other')).toMatchObject({ queued: 1, running: 0 });
      await q2.stop();
    });

    it('keeps queued and leased invocations across a restart; old leases come back', async () => {
      const harness = await makeHarness();
      const q1 = await harness.open('w1');
      const a = request(); const b = request();
      await q1.enqueue(a); await q1.enqueue(b);
      await q1.lease('ep', 60_000);
      await q1.stop();
      const q2 = await harness.open('w2');
      await q2.reclaimExpiredLeases(Date.now() + 120_000);
      const ids = [(await q2.lease('ep', 10_000))?.invocation.id, (await q2.lease('ep', 10_000))?.invocation.id];
      expect(ids.sort()).toEqual([a.id, b.id].sort());
      await q2.stop();
    });
  });
}

import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createAutoscaler, type ScalingEvent } from './autoscaler.js';
import type { ScalingSettings } from './scaling-policy.js';

const SETTINGS: ScalingSettings = { min: 0, max: 3, targetBacklogPerInstance: 2, scaleOutCooldownMs: 0, scaleInCooldownMs: 10_000, idleBeforeZeroMs: 5000 };

/** One endpoint and a queue in memory: the loop's two ports, driven by the test. */
function harness(settings: ScalingSettings = SETTINGS) {
  const endpoint = { variantName: 'AllTraffic', desiredInstances: 0, scaling: settings as ScalingSettings | undefined };
  const backlog = { queued: 0, running: 0 };
  const listeners: ((name: string) => void)[] = [];
  const events: ScalingEvent[] = [];
  let clock = 0;
  const autoscaler = createAutoscaler({
    endpoints: {
      names: () => ['ep'],
      get: (name) => (name === 'ep' ? endpoint : undefined),
      resize(name, count) {
        endpoint.desiredInstances = count;
        return name === 'ep';
      },
    },
    queue: {
      backlog: async () => ({ ...backlog }),
      onAvailable(listener) {
        listeners.push(listener);
        return () => listeners.splice(listeners.indexOf(listener), 1);
      },
    },
    logger: pino({ level: 'silent' }),
    intervalMs: 3_600_000, // the timer never fires in these tests: every evaluation is explicit or a wake
    onScale: (e) => events.push(e),
    now: () => clock,
  });
  return {
    endpoint, backlog, events, autoscaler,
    enqueue(n: number) {
      backlog.queued += n;
      for (const l of [...listeners]) l('ep');
    },
    advance(ms: number) {
      clock += ms;
    },
  };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('autoscaler loop', () => {
  it('wakes an endpoint at zero on the enqueue itself, without waiting for a tick', async () => {
    const h = harness();
    h.autoscaler.start();
    await settle();
    expect(h.endpoint.desiredInstances).toBe(0);
    h.enqueue(5);
    await settle();
    expect(h.endpoint.desiredInstances).toBe(3);
    expect(h.events).toEqual([{ endpoint: 'ep', variant: 'AllTraffic', from: 0, to: 3, reason: 'wake-from-zero', backlog: 5, inFlight: 0 }]);
    await h.autoscaler.stop();
  });

  it('ignores enqueues while instances run (the tick follows the backlog then)', async () => {
    const h = harness();
    h.endpoint.desiredInstances = 1;
    h.autoscaler.start();
    await settle();
    h.enqueue(6);
    await settle();
    expect(h.endpoint.desiredInstances).toBe(1);
    await h.autoscaler.evaluate('ep');
    expect(h.endpoint.desiredInstances).toBe(3);
    await h.autoscaler.stop();
  });

  it('records its own actions: scale-in waits for the cooldown since the scale-out, zero for the idle timer', async () => {
    const h = harness();
    h.autoscaler.start();
    h.enqueue(6);
    await settle();
    expect(h.endpoint.desiredInstances).toBe(3);
    h.backlog.queued = 0;
    h.backlog.running = 2;
    h.advance(9_000);
    await h.autoscaler.evaluate('ep');
    expect(h.endpoint.desiredInstances).toBe(3); // within scaleInCooldown of the wake
    h.advance(1_000);
    await h.autoscaler.evaluate('ep');
    expect(h.endpoint.desiredInstances).toBe(1);
    h.backlog.running = 0;
    h.advance(4_999);
    await h.autoscaler.evaluate('ep');
    expect(h.endpoint.desiredInstances).toBe(1); // idle for 4.999 s of 5
    h.advance(1);
    await h.autoscaler.evaluate('ep');
    expect(h.endpoint.desiredInstances).toBe(0);
    expect(h.events.map((e) => e.reason)).toEqual(['wake-from-zero', 'scale-in', 'to-zero']);
    await h.autoscaler.stop();
  });

  it('leaves endpoints without scaling settings alone, and stops acting once stopped', async () => {
    const fixed = harness();
    fixed.endpoint.scaling = undefined;
    fixed.autoscaler.start();
    fixed.enqueue(10);
    await fixed.autoscaler.evaluate('ep');
    expect(fixed.endpoint.desiredInstances).toBe(0);
    await fixed.autoscaler.stop();

    const stopped = harness();
    stopped.autoscaler.start();
    await stopped.autoscaler.stop();
    stopped.enqueue(10);
    await settle();
    expect(stopped.endpoint.desiredInstances).toBe(0);
  });
});

import { expect, it } from 'vitest';
import { coalesced } from './coalesced.js';

function deferredAction() {
  const calls: (() => void)[] = [];
  return { calls, action: () => new Promise<void>((resolve) => calls.push(resolve)) };
}

it('serves every caller that arrives during a run with one next run, started after the current one', async () => {
  const { calls, action } = deferredAction();
  const c = coalesced(action);
  const first = c.run();
  await Promise.resolve();
  expect(calls).toHaveLength(1);
  const waiting = [c.run(), c.run(), c.run()];
  await Promise.resolve();
  // The next run must not start before the current one ends: it has to cover the waiters' writes.
  expect(calls).toHaveLength(1);
  calls[0]!();
  await first;
  await new Promise((r) => setImmediate(r));
  expect(calls).toHaveLength(2);
  calls[1]!();
  await Promise.all(waiting);
  expect(calls).toHaveLength(2);
});

it('passes a failure to the callers of that run only, and idle() waits for everything', async () => {
  let n = 0;
  const c = coalesced(async () => {
    n++;
    if (n === 1) throw new Error('disk');
  });
  await expect(c.run()).rejects.toThrow('disk');
  await expect(c.run()).resolves.toBeUndefined();
  const pending = c.run();
  await c.idle();
  await expect(pending).resolves.toBeUndefined();
});

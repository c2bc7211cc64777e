import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { isAppError } from '../../errors.js';
import { queueConformance, request } from '../conformance.js';
import { createSqliteQueue } from './sqlite-queue.js';

function harness() {
  const dir = mkdtempSync(path.join(tmpdir(), 'asyncinfer-q-'));
  return {
    dir,
    async open(workerId = 'w') {
      const q = createSqliteQueue({ dir, workerId });
      await q.start();
      return q;
    },
  };
}

queueConformance('sqlite', async () => harness());

it('refuses a second live process on the same data dir, and takes over a stale lock', async () => {
  const h = harness();
  const first = await h.open();
  const err = await h.open().catch((e: unknown) => e);
  expect(isAppError(err, 'DataDirLocked')).toBe(true);
  await first.stop();
  const second = await h.open();
  await second.stop();
});

it('returns every lease at start, since only one process may use the file', async () => {
  const h = harness();
  const q1 = await h.open('dead');
  const r = request();
  await q1.enqueue(r);
  await q1.lease('ep', 3_600_000);
  await q1.stop();
  const q2 = await h.open('alive');
  expect((await q2.get(r.id))?.state).toBe('queued');
  expect((await q2.lease('ep', 1000))?.attempt).toBe(2);
  await q2.stop();
});

it('rejects enqueues after stop with ServiceUnavailable', async () => {
  const q = await harness().open();
  await q.stop();
  const err = await q.enqueue(request()).catch((e: unknown) => e);
  expect(isAppError(err, 'ServiceUnavailable')).toBe(true);
});

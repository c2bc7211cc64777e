import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import pino from 'pino';
import { afterEach, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { createMetrics } from '../metrics/index.js';
import { createSqliteQueue, type SqliteQueue } from '../queue/index.js';
import type { ObjectStore } from '../storage/index.js';
import { failQueued, type RunDeps } from './run-invocation.js';

const OUT = 's3://b/out/x.out';
const FAIL = 's3://b/fail/x-error.out';
let queue: SqliteQueue | undefined;

afterEach(async () => {
  await queue?.stop();
  queue = undefined;
});

/** An in-memory store: what was written, by URI. */
function memoryStore(): ObjectStore & { objects: Map<string, Buffer> } {
  const objects = new Map<string, Buffer>();
  return {
    objects,
    async get(uri) {
      const bytes = objects.get(`s3://${uri.bucket}/${uri.key}`);
      if (!bytes) throw new AppError('ObjectNotFound', 'no such object');
      return { body: Readable.from([bytes]), contentLength: bytes.length };
    },
    async put(uri, body) {
      const chunks: Buffer[] = [];
      for await (const c of body instanceof Readable ? body : [body]) chunks.push(Buffer.from(c as Uint8Array));
      objects.set(`s3://${uri.bucket}/${uri.key}`, Buffer.concat(chunks));
    },
  };
}

/** An invocation whose first attempt claimed its output and was killed before recording it; its queue reopened. */
async function killedAfterClaimingOutput(outputLanded: boolean) {
  const dir = mkdtempSync(path.join(tmpdir(), 'asyncinfer-ri-'));
  const store = memoryStore();
  queue = createSqliteQueue({ dir, workerId: 'w1' });
  await queue.start();
  await queue.enqueue({
    id: '01a20f6c-7d07-7190-9459-08f1ac2ad51c', inferenceId: 'inf-1', endpointName: 'ep', body: Buffer.from('{}'),
    outputLocation: OUT, failureLocation: FAIL, requestTtlSeconds: 60, invocationTimeoutSeconds: 60, receivedAtMs: Date.now(),
  });
  const first = (await queue.lease('ep', 60_000))!;
  expect(await queue.prepareOutcome(first, { state: 'completed', modelStatus: 200 })).toBeDefined();
  if (outputLanded) store.objects.set(OUT, Buffer.from('{"ok":true}'));
  await queue.stop();
  queue = createSqliteQueue({ dir, workerId: 'w2' });
  await queue.start();
  const deps: RunDeps = {
    queue, store, logger: pino({ level: 'silent' }), metrics: createMetrics(), spoolDir: '/nonexistent', variantOf: () => 'v',
  };
  return { deps, store, id: first.invocation.id };
}

it('never writes a failure object beside an output an earlier attempt wrote; records that outcome instead', async () => {
  const { deps, store, id } = await killedAfterClaimingOutput(true);
  expect(await failQueued(deps, 'ep', 'the endpoint is going away')).toBe(1);
  expect([...store.objects.keys()]).toEqual([OUT]);
  expect(await deps.queue.get(id)).toMatchObject({ state: 'completed', attempts: 2 });
});

it('writes the failure when the earlier attempt\'s output never landed', async () => {
  const { deps, store, id } = await killedAfterClaimingOutput(false);
  expect(await failQueued(deps, 'ep', 'the endpoint is going away')).toBe(1);
  expect([...store.objects.keys()]).toEqual([FAIL]);
  expect(await deps.queue.get(id)).toMatchObject({ state: 'failed', failureReason: 'the endpoint is going away' });
});

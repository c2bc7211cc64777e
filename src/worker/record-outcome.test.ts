import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, expect, it } from 'vitest';
import type { EndpointNotifications } from '../domain/index.js';
import { createMetrics } from '../metrics/index.js';
import { createSqliteQueue, type SqliteQueue } from '../queue/index.js';
import type { ObjectStore } from '../storage/index.js';
import { recordOutcome } from './record-outcome.js';
import type { RunDeps } from './run-invocation.js';

const OK = 'arn:aws:sns:us-east-1:123456789012:ok';
const ERR = 'arn:aws:sns:us-east-1:123456789012:err';
const settings: EndpointNotifications = { variantName: 'blue', notification: { successTopic: OK, errorTopic: ERR, includeInferenceResponseIn: ['SUCCESS_NOTIFICATION_TOPIC'] } };
let queue: SqliteQueue;

afterEach(async () => {
  await queue.stop();
});

async function leased(lookup: (name: string) => EndpointNotifications | undefined) {
  queue = createSqliteQueue({ dir: mkdtempSync(path.join(tmpdir(), 'asyncinfer-ro-')), workerId: 'w' });
  await queue.start();
  await queue.enqueue({
    id: '01a20f6c-7d07-7190-9459-08f1ac2ad51c', inferenceId: 'inf-1', endpointName: 'ep', body: Buffer.from('{}'), contentType: 'application/json',
    outputLocation: 's3://b/out/x.out', failureLocation: 's3://b/fail/x-error.out', requestTtlSeconds: 60, invocationTimeoutSeconds: 60, receivedAtMs: Date.now(),
  });
  const deps: RunDeps = {
    queue, store: {} as ObjectStore, logger: pino({ level: 'silent' }), metrics: createMetrics(), spoolDir: '/nonexistent', variantOf: () => 'blue',
    notifications: { region: 'eu-west-1', endpoint: lookup },
  };
  return { deps, lease: (await queue.lease('ep', 10_000))! };
}

it('writes the outcome\'s event with it, once, on the topic of the outcome', async () => {
  const { deps, lease } = await leased(() => settings);
  await recordOutcome(deps, lease, { state: 'completed', modelStatus: 200 }, 5, { contentType: 'text/plain', body: Buffer.from('hi') });
  // The lease is spent: recording again writes nothing.
  await recordOutcome(deps, lease, { state: 'failed', failureReason: 'x' }, 5);
  const entries = await queue.outbox.list({ limit: 10 });
  expect(entries.map((e) => [e.id, e.topicArn, e.variantName])).toEqual([['result-01a20f6c-7d07-7190-9459-08f1ac2ad51c', OK, 'blue']]);
  expect(JSON.parse(entries[0]!.message)).toMatchObject({
    awsRegion: 'eu-west-1', invocationStatus: 'Completed', responseParameters: { contentType: 'text/plain', outputLocation: 's3://b/out/x.out' },
    responseBody: { content: Buffer.from('hi').toString('base64') }, inferenceId: 'inf-1',
  });
});

it('records the outcome without an event when the endpoint has no NotificationConfig, or the lookup fails', async () => {
  const { deps, lease } = await leased(() => ({ variantName: 'blue' }));
  await recordOutcome(deps, lease, { state: 'expired', failureReason: 'Request expired' }, 0);
  expect((await queue.get(lease.invocation.id))?.state).toBe('expired');
  expect(await queue.outbox.list({ limit: 10 })).toEqual([]);
  await queue.stop();

  const failing = await leased(() => {
    throw new Error('lookup broke');
  });
  await recordOutcome(failing.deps, failing.lease, { state: 'failed', failureReason: 'x' }, 0);
  expect((await queue.get(failing.lease.invocation.id))?.state).toBe('failed');
  expect(await queue.outbox.list({ limit: 10 })).toEqual([]);
});

it('counts each recorded outcome once: expired in neither processed nor failures, a lost lease not at all', async () => {
  const counts = async (deps: RunDeps) => {
    const m = deps.metrics;
    const labels = { endpoint: 'ep', variant: 'blue' };
    const value = async (c: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> }) =>
      (await c.get()).values.find((v) => v.labels.endpoint === labels.endpoint && v.labels.variant === labels.variant)?.value ?? 0;
    return {
      processed: await value(m.invocationsProcessed), failures: await value(m.invocationFailures), expired: await value(m.expiredRequests),
      total: (await m.totalProcessingTime.get()).values.find((v) => v.metricName === 'asyncinfer_total_processing_time_seconds_count')?.value ?? 0,
    };
  };
  const expired = await leased(() => undefined);
  await recordOutcome(expired.deps, expired.lease, { state: 'expired', failureReason: 'Request expired' }, 0);
  expect(await counts(expired.deps)).toEqual({ processed: 0, failures: 0, expired: 1, total: 0 });
  await queue.stop();

  const failed = await leased(() => undefined);
  await recordOutcome(failed.deps, failed.lease, { state: 'failed', failureReason: 'x', modelStatus: 500 }, 0);
  await recordOutcome(failed.deps, failed.lease, { state: 'completed' }, 0);
  expect(await counts(failed.deps)).toEqual({ processed: 1, failures: 1, expired: 0, total: 1 });
});

it('retries recording an outcome the queue could not store (a full disk), so the model is not called again', async () => {
  const { deps, lease } = await leased(() => settings);
  let failures = 2;
  const complete = queue.complete.bind(queue);
  const flaky = { ...deps, queue: Object.assign(Object.create(queue) as SqliteQueue, {
    complete: (...args: Parameters<SqliteQueue['complete']>) => (failures-- > 0 ? Promise.reject(new Error('SQLITE_FULL: database or disk is full')) : complete(...args)),
  }) };
  await recordOutcome(flaky, lease, { state: 'completed', modelStatus: 200 }, 5);
  expect(failures).toBe(-1);
  expect((await queue.get(lease.invocation.id))?.state).toBe('completed');
});

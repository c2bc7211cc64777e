/**
 * Autoscaling end to end, with real model processes: an endpoint with `min: 0, max: 3` wakes from
 * zero on the first request, scales out under a burst, drains instances that still run work when
 * it scales in, and goes back to zero; nothing is lost and no instance ever runs more than
 * MaxConcurrentInvocationsPerInstance at once. Also: a model that crashes mid-request is replaced
 * and counted, and a pin through UpdateEndpointWeightsAndCapacities (0 included) holds.
 */
import { DescribeEndpointCommand, SageMakerClient, UpdateEndpointWeightsAndCapacitiesCommand } from '@aws-sdk/client-sagemaker';
import { InvokeEndpointAsyncCommand } from '@aws-sdk/client-sagemaker-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrape, scrapeUntil } from './support/metrics.js';
import { controlEndpoint, invocationRows, startServer, waitFor, waitForObject, type ServerProcess } from './support/server.js';
import { TEST_CREDENTIALS } from './support/signing.js';

const PER_INSTANCE = 2;
const BURST = 24;

let server: ServerProcess;
let sagemaker: SageMakerClient;

beforeAll(async () => {
  server = await startServer({
    waitForReady: false,
    config: {
      autoscaling: { interval: '100ms' },
      endpoints: [
        controlEndpoint('burst', {
          instances: { initial: 0, min: 0, max: 3, targetBacklogPerInstance: 2, scaleOutCooldown: '0s', scaleInCooldown: '500ms', idleBeforeZero: '2s' },
          asyncInferenceConfig: {
            OutputConfig: { S3OutputPath: 's3://bucket/burst/out', S3FailurePath: 's3://bucket/burst/fail' },
            ClientConfig: { MaxConcurrentInvocationsPerInstance: PER_INSTANCE },
          },
        }),
        controlEndpoint('crashy', { instances: { initial: 1 } }),
        controlEndpoint('pinned', {
          instances: { initial: 1, min: 1, max: 2, idleBeforeZero: '0s' },
          asyncInferenceConfig: {
            OutputConfig: { S3OutputPath: 's3://bucket/pinned/out', S3FailurePath: 's3://bucket/pinned/fail' },
            ClientConfig: { MaxConcurrentInvocationsPerInstance: PER_INSTANCE },
          },
        }),
      ],
    },
  });
  sagemaker = new SageMakerClient({ endpoint: server.url, region: 'us-east-1', credentials: TEST_CREDENTIALS });
}, 60_000);

afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

const BURST_LABELS = { endpoint: 'burst', variant: 'AllTraffic' };

async function counts(name: string): Promise<{ current: number; desired: number }> {
  const out = await sagemaker.send(new DescribeEndpointCommand({ EndpointName: name }));
  const v = out.ProductionVariants![0]!;
  return { current: v.CurrentInstanceCount!, desired: v.DesiredInstanceCount! };
}

describe('autoscaling min 0, max 3', () => {
  it('wakes from zero on the first request, scales out to 3 under a burst, drains, and returns to 0 with nothing lost', async () => {
    expect(await counts('burst')).toEqual({ current: 0, desired: 0 });
    const idle = await scrape(server.url);
    expect(idle('asyncinfer_desired_instances', BURST_LABELS)).toBe(0);
    expect(idle('asyncinfer_instances', { ...BURST_LABELS, state: 'ready' })).toBe(0);

    // Watch the gauges the whole time: the highest counts seen, and whether any ever broke max.
    let maxDesired = 0;
    let maxLive = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const m = await scrape(server.url);
        maxDesired = Math.max(maxDesired, m('asyncinfer_desired_instances', BURST_LABELS) ?? 0);
        const live = ['starting', 'ready', 'draining'].reduce((n, state) => n + (m('asyncinfer_instances', { ...BURST_LABELS, state }) ?? 0), 0);
        maxLive = Math.max(maxLive, live);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    const started = Date.now();
    const accepted = await Promise.all(Array.from({ length: BURST }, (_, i) => server.client.send(new InvokeEndpointAsyncCommand({
      EndpointName: 'burst', Body: Buffer.from(JSON.stringify({ i })), ContentType: 'application/json', CustomAttributes: 'sleep_ms=700',
    }))));
    // The wake needs no tick: an instance is starting at once.
    await waitFor(() => server.logs.some((l) => l.msg === 'model instance starting' && String(l.instance).startsWith('burst-')), 2000, 'an instance to start');
    expect(Date.now() - started).toBeLessThan(2000);

    const outputs = await Promise.all(accepted.map((a) => waitForObject(server.dataDir, a.OutputLocation!, 60_000)));
    const answers = outputs.map((o) => JSON.parse(o.toString()) as { pid: number; concurrent: number; bodyBase64: string });
    // Every request ran once, on some instance, never beside more than PER_INSTANCE - 1 others.
    expect(answers.map((a) => JSON.parse(Buffer.from(a.bodyBase64, 'base64').toString()).i).sort((x: number, y: number) => x - y)).toEqual([...Array(BURST).keys()]);
    expect(Math.max(...answers.map((a) => a.concurrent))).toBeLessThanOrEqual(PER_INSTANCE);
    expect(new Set(answers.map((a) => a.pid)).size).toBeGreaterThanOrEqual(2);

    // Back to zero after idleBeforeZero.
    const zero = await scrapeUntil(server.url, (m) => m('asyncinfer_desired_instances', BURST_LABELS) === 0
      && m('asyncinfer_instances', { ...BURST_LABELS, state: 'ready' }) === 0
      && m('asyncinfer_instances', { ...BURST_LABELS, state: 'draining' }) === 0, 'the endpoint back at zero', 30_000);
    watching = false;
    await watcher;
    expect(await counts('burst')).toEqual({ current: 0, desired: 0 });

    expect(maxDesired).toBe(3);
    expect(maxLive).toBeLessThanOrEqual(3);
    expect(zero('asyncinfer_scaling_events_total', { ...BURST_LABELS, reason: 'wake-from-zero' })).toBeGreaterThanOrEqual(1);
    expect(zero('asyncinfer_scaling_events_total', { ...BURST_LABELS, reason: 'to-zero' })).toBe(1);
    expect(zero('asyncinfer_invocations_processed_total', BURST_LABELS)).toBe(BURST);
    expect(zero('asyncinfer_invocation_failures_total', BURST_LABELS) ?? 0).toBe(0);
    expect(zero('asyncinfer_instance_replacements_total', BURST_LABELS) ?? 0).toBe(0);
    expect(zero('asyncinfer_approximate_backlog_size', BURST_LABELS)).toBe(0);

    // Nothing lost: every accepted invocation completed, exactly once.
    const ids = new Set(accepted.map((a) => a.InferenceId));
    const rows = invocationRows(server.dataDir).filter((r) => ids.has(r.inference_id));
    expect(rows).toHaveLength(BURST);
    expect(rows.every((r) => r.state === 'completed' && r.attempts === 1)).toBe(true);

    // Scaled in while work still ran: those instances drained (no new work, in-flight finished) before they stopped.
    const burstLogs = server.logs.filter((l) => String(l.instance ?? '').startsWith('burst-'));
    const draining = burstLogs.filter((l) => l.msg === 'model instance draining');
    expect(draining.length).toBeGreaterThanOrEqual(1);
    for (const d of draining) {
      const drainAt = burstLogs.indexOf(d);
      expect(burstLogs.slice(drainAt).some((l) => l.instance === d.instance && l.msg === 'model instance stopped')).toBe(true);
    }
  }, 90_000);

  it('scaling in drains an instance that is running work: it takes nothing new and stops only after its invocations finish', async () => {
    const pin = (count: number) => sagemaker.send(new UpdateEndpointWeightsAndCapacitiesCommand({ EndpointName: 'pinned', DesiredWeightsAndCapacities: [{ VariantName: 'AllTraffic', DesiredInstanceCount: count }] }));
    const PINNED = { endpoint: 'pinned', variant: 'AllTraffic' };
    await pin(2);
    await waitFor(async () => (await counts('pinned')).current === 2, 15_000, 'two pinned instances');
    // Both instances full: PER_INSTANCE long invocations each, none queued.
    const slow = await Promise.all(Array.from({ length: 2 * PER_INSTANCE }, () => server.client.send(new InvokeEndpointAsyncCommand({
      EndpointName: 'pinned', Body: Buffer.from('{}'), CustomAttributes: 'sleep_ms=1500',
    }))));
    await scrapeUntil(server.url, (m) => m('asyncinfer_approximate_backlog_size', PINNED) === 2 * PER_INSTANCE && m('asyncinfer_approximate_age_of_oldest_request_seconds', PINNED) === 0, 'every invocation running');
    const logsBefore = server.logs.length;
    await pin(1);
    await waitFor(() => server.logs.slice(logsBefore).some((l) => l.msg === 'model instance draining'), 5000, 'an instance draining');
    const drain = server.logs.slice(logsBefore).find((l) => l.msg === 'model instance draining')!;
    expect(drain.running).toBe(PER_INSTANCE);
    const m = await scrape(server.url);
    expect(m('asyncinfer_instances', { ...PINNED, state: 'draining' })).toBe(1);
    expect(m('asyncinfer_instances', { ...PINNED, state: 'ready' })).toBe(1);
    expect((await counts('pinned')).desired).toBe(1);

    // Everything it ran finished and was written; only then did it stop.
    const outputs = await Promise.all(slow.map((a) => waitForObject(server.dataDir, a.OutputLocation!, 20_000)));
    const drainedPid = server.logs.find((l) => l.msg === 'model instance starting' && l.instance === drain.instance)!.pid;
    expect(outputs.filter((o) => (JSON.parse(o.toString()) as { pid: number }).pid === drainedPid)).toHaveLength(PER_INSTANCE);
    await waitFor(() => server.logs.slice(logsBefore).some((l) => l.msg === 'model instance stopped' && l.instance === drain.instance), 10_000, 'the drained instance to stop');
    const ids = new Set(slow.map((a) => a.InferenceId));
    expect(invocationRows(server.dataDir).filter((r) => ids.has(r.inference_id)).map((r) => r.state)).toEqual(Array(2 * PER_INSTANCE).fill('completed'));
    expect((await counts('pinned')).current).toBe(1);
  }, 60_000);

  it('a pin through UpdateEndpointWeightsAndCapacities holds the count, 0 included, over the autoscaler', async () => {
    await sagemaker.send(new UpdateEndpointWeightsAndCapacitiesCommand({ EndpointName: 'pinned', DesiredWeightsAndCapacities: [{ VariantName: 'AllTraffic', DesiredInstanceCount: 0 }] }));
    await waitFor(async () => (await counts('pinned')).current === 0, 15_000, 'the pinned endpoint at 0');
    expect((await counts('pinned')).desired).toBe(0);
    // Below min and with work queued, the autoscaler would start instances at once; the pin holds.
    const queued = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'pinned', Body: Buffer.from('{}') }));
    await new Promise((r) => setTimeout(r, 500));
    expect(await counts('pinned')).toEqual({ current: 0, desired: 0 });
    const m = await scrape(server.url);
    expect(m('asyncinfer_has_backlog_without_capacity', { endpoint: 'pinned', variant: 'AllTraffic' })).toBe(1);
    await sagemaker.send(new UpdateEndpointWeightsAndCapacitiesCommand({ EndpointName: 'pinned', DesiredWeightsAndCapacities: [{ VariantName: 'AllTraffic', DesiredInstanceCount: 2 }] }));
    await waitForObject(server.dataDir, queued.OutputLocation!, 20_000);
    await waitFor(async () => (await counts('pinned')).current === 2, 15_000, 'two pinned instances');
    expect((await counts('pinned')).desired).toBe(2);
  }, 60_000);
});

describe('a model instance that crashes mid-request', () => {
  it('fails that invocation, is replaced, and is counted', async () => {
    const crash = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'crashy', Body: Buffer.from('{}'), CustomAttributes: 'crash=1' }));
    const failure = JSON.parse((await waitForObject(server.dataDir, crash.FailureLocation!)).toString()) as Record<string, unknown>;
    expect(JSON.stringify(failure)).toMatch(/model|instance|connection|socket/i);
    const m = await scrapeUntil(server.url, (s) => s('asyncinfer_instance_replacements_total', { endpoint: 'crashy', variant: 'AllTraffic', cause: 'exited' }) === 1
      && s('asyncinfer_instances', { endpoint: 'crashy', variant: 'AllTraffic', state: 'ready' }) === 1, 'the crashed instance replaced');
    expect(m('asyncinfer_desired_instances', { endpoint: 'crashy', variant: 'AllTraffic' })).toBe(1);
    // The replacement serves.
    const ok = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'crashy', Body: Buffer.from('{"after":"crash"}') }));
    await waitForObject(server.dataDir, ok.OutputLocation!);
  }, 60_000);
});

/**
 * GET /metrics end to end: the outcome counters, the latency histograms and the scrape-time queue
 * gauges, checked against what the test made happen.
 */
import { InvokeEndpointAsyncCommand, type InvokeEndpointAsyncCommandInput } from '@aws-sdk/client-sagemaker-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrape as scrapeMetrics, scrapeUntil as scrapeMetricsUntil, type Scrape } from './support/metrics.js';
import { controlEndpoint, startServer, waitForObject, type ServerProcess } from './support/server.js';

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer({
    config: {
      endpoints: [
        controlEndpoint('ep', {
          asyncInferenceConfig: {
            OutputConfig: { S3OutputPath: 's3://bucket/ep/out', S3FailurePath: 's3://bucket/ep/fail' },
            ClientConfig: { MaxConcurrentInvocationsPerInstance: 1 },
          },
        }),
        controlEndpoint('cold', { instances: { initial: 0 } }),
      ],
    },
  });
}, 60_000);

afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

const scrape = () => scrapeMetrics(server.url);

const EP = { endpoint: 'ep', variant: 'AllTraffic' };
const COLD = { endpoint: 'cold', variant: 'AllTraffic' };

async function invoke(input: Partial<InvokeEndpointAsyncCommandInput>) {
  return server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'ep', Body: Buffer.from('{"x":1}'), ...input }));
}

const scrapeUntil = (check: (m: Scrape) => boolean, what: string, timeoutMs?: number) => scrapeMetricsUntil(server.url, check, what, timeoutMs);

describe('GET /metrics', () => {
  it('counts outcomes, model statuses and latencies as they happen', async () => {
    const ok = await Promise.all([invoke({}), invoke({}), invoke({})]);
    const e500 = await invoke({ CustomAttributes: 'status=500' });
    const e422 = await invoke({ CustomAttributes: 'status=422' });
    for (const r of ok) await waitForObject(server.dataDir, r.OutputLocation!);
    await waitForObject(server.dataDir, e500.FailureLocation!);
    await waitForObject(server.dataDir, e422.FailureLocation!);
    // The object is written before the outcome is recorded (and counted): wait for the count.
    const m = await scrapeUntil((s) => s('asyncinfer_invocations_processed_total', EP) === 5, 'five processed invocations');
    expect(m('asyncinfer_invocation_failures_total', EP)).toBe(2);
    expect(m('asyncinfer_invocation_4xx_errors_total', EP)).toBe(1);
    expect(m('asyncinfer_invocation_5xx_errors_total', EP)).toBe(1);
    expect(m('asyncinfer_expired_requests_total', EP) ?? 0).toBe(0);
    expect(m('asyncinfer_model_latency_seconds_count', EP)).toBe(5);
    expect(m('asyncinfer_time_in_backlog_seconds_count', EP)).toBe(5);
    expect(m('asyncinfer_total_processing_time_seconds_count', EP)).toBe(5);
    expect(m('asyncinfer_model_latency_seconds_bucket', { ...EP, le: '+Inf' })).toBe(5);
    expect(m('asyncinfer_total_processing_time_seconds_sum', EP)).toBeGreaterThan(0);
    expect(m('asyncinfer_total_processing_time_seconds_sum', EP)!).toBeGreaterThanOrEqual(m('asyncinfer_time_in_backlog_seconds_sum', EP)!);
    // Inline bodies are not downloaded; nothing failed to upload.
    expect(m('asyncinfer_request_download_latency_seconds_count', EP) ?? 0).toBe(0);
    expect(m('asyncinfer_response_upload_failures_total', EP) ?? 0).toBe(0);
    // Nothing waits now.
    expect(m('asyncinfer_approximate_backlog_size', EP)).toBe(0);
    expect(m('asyncinfer_approximate_age_of_oldest_request_seconds', EP)).toBe(0);
    expect(m('asyncinfer_instances', { ...EP, state: 'ready' })).toBe(1);
    expect(m('asyncinfer_instances', { ...EP, state: 'starting' })).toBe(0);
    expect(m('asyncinfer_instances', { ...EP, state: 'draining' })).toBe(0);
    expect(m('asyncinfer_desired_instances', EP)).toBe(1);
  }, 60_000);

  it('reports the backlog, its age and per-instance size while work waits behind a slow invocation', async () => {
    const before = (await scrape())('asyncinfer_invocations_processed_total', EP) ?? 0;
    const slow = await invoke({ CustomAttributes: 'sleep_ms=4000' });
    // The slow one is running (in the backlog, nothing queued) before the others arrive.
    await scrapeUntil((s) => s('asyncinfer_approximate_backlog_size', EP) === 1 && s('asyncinfer_approximate_age_of_oldest_request_seconds', EP) === 0, 'the slow invocation to run');
    const queued = [await invoke({}), await invoke({})];
    const m = await scrapeUntil((s) => (s('asyncinfer_approximate_age_of_oldest_request_seconds', EP) ?? 0) > 0, 'a queued request to age');
    expect(m('asyncinfer_approximate_backlog_size', EP)).toBe(3);
    expect(m('asyncinfer_approximate_backlog_size_per_instance', EP)).toBe(3);
    expect(m('asyncinfer_approximate_age_of_oldest_request_seconds', EP)).toBeLessThan(10);
    expect(m('asyncinfer_has_backlog_without_capacity', EP)).toBe(0);
    expect(m('asyncinfer_invocations_processed_total', EP)).toBe(before);
    await waitForObject(server.dataDir, slow.OutputLocation!);
    for (const r of queued) await waitForObject(server.dataDir, r.OutputLocation!);
    const after = await scrapeUntil((s) => s('asyncinfer_invocations_processed_total', EP) === before + 3, 'three more processed');
    expect(after('asyncinfer_approximate_backlog_size', EP)).toBe(0);
    expect(after('asyncinfer_approximate_age_of_oldest_request_seconds', EP)).toBe(0);
    // The two that waited spent most of the slow one's 4 s in the backlog.
    expect(after('asyncinfer_time_in_backlog_seconds_sum', EP)).toBeGreaterThan(2);
  }, 60_000);

  it('says an endpoint with work and no ready instance has a backlog without capacity', async () => {
    const idle = await scrape();
    expect(idle('asyncinfer_has_backlog_without_capacity', COLD)).toBe(0);
    expect(idle('asyncinfer_approximate_backlog_size', COLD)).toBe(0);
    await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'cold', Body: Buffer.from('{}') }));
    const m = await scrapeUntil((s) => s('asyncinfer_has_backlog_without_capacity', COLD) === 1, 'has_backlog_without_capacity 1');
    expect(m('asyncinfer_approximate_backlog_size', COLD)).toBe(1);
    // No ready instance: the divisor is 1.
    expect(m('asyncinfer_approximate_backlog_size_per_instance', COLD)).toBe(1);
    expect(m('asyncinfer_instances', { ...COLD, state: 'ready' })).toBe(0);
    expect(m('asyncinfer_desired_instances', COLD)).toBe(0);
    expect(m('asyncinfer_has_backlog_without_capacity', EP)).toBe(0);
  }, 30_000);
});

/**
 * MaxConcurrentInvocationsPerInstance is never exceeded per instance and is fully used; dispatch
 * is event driven; requests wait in the queue while instances start.
 */
import { InvokeEndpointAsyncCommand } from '@aws-sdk/client-sagemaker-runtime';
import { describe, expect, it } from 'vitest';
import { CONTROL_MODEL, controlEndpoint, startServer, waitForObject } from './support/server.js';

describe('dispatch', () => {
  it('keeps every instance at exactly MaxConcurrentInvocationsPerInstance, never more', async () => {
    const server = await startServer({
      config: { endpoints: [controlEndpoint('busy', {
        instances: { initial: 2 },
        asyncInferenceConfig: {
          OutputConfig: { S3OutputPath: 's3://bucket/busy/out', S3FailurePath: 's3://bucket/busy/fail' },
          ClientConfig: { MaxConcurrentInvocationsPerInstance: 3 },
        },
      })] },
    });
    try {
      // Both instances must be up, so the spread is not an artefact of start-up order.
      await waitForReadyCount(server.logs, 2);
      const accepted = await Promise.all(Array.from({ length: 36 }, () => server.client.send(
        new InvokeEndpointAsyncCommand({ EndpointName: 'busy', Body: Buffer.from('{}'), CustomAttributes: 'sleep_ms=150' }))));
      const outputs = await Promise.all(accepted.map(async (r) => JSON.parse((await waitForObject(server.dataDir, r.OutputLocation!)).toString()) as { pid: number; concurrent: number }));
      const byInstance = new Map<number, number[]>();
      for (const o of outputs) byInstance.set(o.pid, [...(byInstance.get(o.pid) ?? []), o.concurrent]);
      expect(byInstance.size).toBe(2);
      for (const seen of byInstance.values()) {
        expect(Math.max(...seen)).toBe(3);
      }
      // The instances' own count of requests in flight at once, over the whole run.
      const ports = server.logs.filter((l) => l.msg === 'model instance starting').map((l) => l.port as number);
      const stats = await Promise.all(ports.map(async (port) => (await fetch(`http://127.0.0.1:${port}/stats`)).json() as Promise<{ maxInFlight: number; total: number }>));
      expect(stats.map((s) => s.maxInFlight)).toEqual([3, 3]);
      expect(stats.reduce((n, s) => n + s.total, 0)).toBe(36);
    } finally {
      await server.stop();
    }
  });

  it('starts a new invocation within milliseconds of the previous one finishing', async () => {
    const server = await startServer({ config: { endpoints: [controlEndpoint('quick', {
      asyncInferenceConfig: { OutputConfig: { S3OutputPath: 's3://bucket/quick/out' }, ClientConfig: { MaxConcurrentInvocationsPerInstance: 1 } },
    })] } });
    try {
      const started = Date.now();
      const accepted = await Promise.all(Array.from({ length: 20 }, () => server.client.send(
        new InvokeEndpointAsyncCommand({ EndpointName: 'quick', Body: Buffer.from('{}') }))));
      await Promise.all(accepted.map((r) => waitForObject(server.dataDir, r.OutputLocation!)));
      const elapsed = Date.now() - started;
      // One slot, 20 invocations one after another: a polling dispatcher (even at 100 ms) would need > 2 s.
      expect(elapsed).toBeLessThan(1500);
    } finally {
      await server.stop();
    }
  });

  it('accepts requests while the instance is still starting and runs them once it answers /ping', async () => {
    const server = await startServer({
      config: { endpoints: [controlEndpoint('slow', { model: { command: [process.execPath, CONTROL_MODEL], env: { STARTUP_DELAY_MS: '1500' } } })] },
      waitForReady: false,
    });
    try {
      const res = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'slow', Body: Buffer.from('{}') }));
      expect(res.$metadata.httpStatusCode).toBe(202);
      expect(server.logs.some((l) => l.msg === 'model instance ready')).toBe(false);
      await waitForObject(server.dataDir, res.OutputLocation!);
      expect(server.logs.some((l) => l.msg === 'model instance ready')).toBe(true);
    } finally {
      await server.stop();
    }
  });
});

async function waitForReadyCount(logs: { msg?: string }[], n: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (logs.filter((l) => l.msg === 'model instance ready').length < n) {
    if (Date.now() > deadline) throw new Error(`fewer than ${n} instances became ready`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

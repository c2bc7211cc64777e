/**
 * kill -9 at a busy moment loses no accepted request: after a restart on the same data dir every
 * invocation that got a 202 ends with its output, leases of the dead process come back, and the
 * model instances it left behind are stopped.
 */
import { InvokeEndpointAsyncCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { describe, expect, it } from 'vitest';
import { TWO_INSTANCE_CONFIG, invocationRows, startServer, tempDir, waitFor, waitForObject, isAlive } from './support/server.js';
import { TEST_CREDENTIALS } from './support/signing.js';

const config = TWO_INSTANCE_CONFIG;

describe('kill -9', () => {
  it('loses nothing that was accepted, under load, and cleans up the instances it left', async () => {
    const dataDir = tempDir();
    const first = await startServer({ config, dataDir });
    await waitFor(() => first.logs.filter((l) => l.msg === 'model instance ready').length === 2, 20_000, 'two instances');
    const client = new SageMakerRuntimeClient({ endpoint: first.url, region: 'us-east-1', maxAttempts: 1, credentials: TEST_CREDENTIALS });

    const accepted: string[] = [];
    let stop = false;
    // Eight senders keep requests flowing while the server is killed.
    const senders = Array.from({ length: 8 }, async () => {
      while (!stop) {
        try {
          const res = await client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'ep', Body: Buffer.from('{"n":1}'), CustomAttributes: 'sleep_ms=200' }));
          accepted.push(res.OutputLocation!);
        } catch {
          if (first.child.exitCode !== null || first.child.signalCode !== null) return;
        }
      }
    });
    await waitFor(() => accepted.length >= 150, 20_000, '150 accepted requests');
    const modelPids = first.logs.filter((l) => l.msg === 'model instance starting').map((l) => l.pid as number);
    expect(modelPids).toHaveLength(2);
    first.child.kill('SIGKILL');
    await first.exited;
    stop = true;
    await Promise.all(senders);

    // SIGKILL gives the server no chance to stop its instances: they are orphans now.
    expect(modelPids.every(isAlive)).toBe(true);
    const rows = invocationRows(dataDir);
    expect(rows.some((r) => r.state === 'running')).toBe(true);
    expect(rows.some((r) => r.state === 'queued')).toBe(true);

    const second = await startServer({ config, dataDir });
    try {
      expect(second.logs.some((l) => l.msg === 'stopped model instances left running by a previous server that did not shut down')).toBe(true);
      await waitFor(() => !modelPids.some(isAlive), 5000, 'the orphaned instances to be gone');
      for (const location of accepted) await waitForObject(dataDir, location, 30_000);
      await waitFor(() => invocationRows(dataDir).every((r) => r.state === 'completed'), 30_000, 'every invocation completed');
      const after = invocationRows(dataDir);
      expect(after.length).toBeGreaterThanOrEqual(accepted.length);
      // The ones the dead process was running were leased again.
      expect(after.some((r) => r.attempts === 2)).toBe(true);
    } finally {
      expect(await second.stop()).toBe(0);
    }
  }, 120_000);
});

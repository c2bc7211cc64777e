/**
 * Issue 13, finding 4: a kill -9 while invocations run, and a restart only after their
 * RequestTTLSeconds ran out. The TTL covers only time waiting in the queue (as on SageMaker): an
 * invocation that was ever started is run again, never expired as "never sent to the model", and
 * ends with exactly one outcome object (output XOR failure) and one final state.
 */
import { existsSync } from 'node:fs';
import { InvokeEndpointAsyncCommand } from '@aws-sdk/client-sagemaker-runtime';
import { expect, it } from 'vitest';
import { TWO_INSTANCE_CONFIG, controlEndpoint, invocationRows, objectFile, startServer, tempDir, waitFor, waitForObject } from '../support/server.js';

/** The least RequestTTLSeconds the API accepts. */
const TTL_SECONDS = 60;

const SMALLER_CONFIG = {
  endpoints: [controlEndpoint('ep', {
    asyncInferenceConfig: {
      OutputConfig: { S3OutputPath: 's3://bucket/ep/out', S3FailurePath: 's3://bucket/ep/fail' },
      ClientConfig: { MaxConcurrentInvocationsPerInstance: 2 },
    },
  })],
};

it('an invocation running at a kill -9 is re-run after a restart past its TTL, with exactly one outcome', async () => {
  const dataDir = tempDir();
  let server = await startServer({ config: TWO_INSTANCE_CONFIG, dataDir });
  const accepted = new Map<string, { output: string; failure: string }>();
  try {
    // Six, fewer than the 2 × 4 slots: all of them are running when the server dies.
    await Promise.all(Array.from({ length: 6 }, async (_, i) => {
      const res = await server.client.send(new InvokeEndpointAsyncCommand({
        EndpointName: 'ep', Body: Buffer.from(JSON.stringify({ i })), ContentType: 'application/json',
        CustomAttributes: 'sleep_ms=3000', RequestTTLSeconds: TTL_SECONDS,
      }));
      accepted.set(res.InferenceId!, { output: res.OutputLocation!, failure: res.FailureLocation! });
    }));
    const lastAcceptedMs = Date.now();
    await waitFor(() => invocationRows(dataDir).filter((r) => r.state === 'running').length === 6, 10_000, 'all six invocations to run');
    await server.stop('SIGKILL');

    // Down past every TTL: each was received before the last 202.
    const ttlOverMs = lastAcceptedMs + TTL_SECONDS * 1000 + 2000;
    await waitFor(() => Date.now() > ttlOverMs, TTL_SECONDS * 1000 + 10_000, 'the TTL window to pass');
    // Back with fewer slots (one instance, two at a time), so most of them wait in the queue
    // again while the expiry sweeper runs.
    server = await startServer({ config: SMALLER_CONFIG, dataDir });

    const terminal = new Set(['completed', 'failed', 'expired', 'canceled']);
    await waitFor(() => invocationRows(dataDir).every((r) => terminal.has(r.state)), 60_000, 'every invocation to end');
    const rows = invocationRows(dataDir);
    expect(rows).toHaveLength(6);
    for (const [inferenceId, { output, failure }] of accepted) {
      const mine = rows.filter((r) => r.inference_id === inferenceId);
      // One final state: completed by a second run, not expired.
      expect(mine.map((r) => ({ state: r.state, failureReason: r.failure_reason }))).toEqual([{ state: 'completed', failureReason: null }]);
      expect(mine[0]!.attempts).toBeGreaterThanOrEqual(2);
      // Exactly one object: the output, and no failure object beside it.
      await waitForObject(dataDir, output, 5000);
      expect(existsSync(objectFile(dataDir, failure))).toBe(false);
    }
  } finally {
    expect(await server.stop()).toBe(0);
  }
}, 180_000);

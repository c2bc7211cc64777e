/**
 * kill -9 at random moments under load, again and again, each time restarted on the same data
 * dir: every request that got a 202 ends with exactly one final state (completed) and its output
 * object, and no failure object; none is lost, none runs into a second outcome.
 *
 * `npm test` runs a few rounds; `npm run soak` runs many (SOAK_ROUNDS, default 40). The moments are
 * random but seeded (SOAK_SEED, printed), so a failing run can be replayed.
 */
import { existsSync } from 'node:fs';
import { InvokeEndpointAsyncCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { describe, expect, it } from 'vitest';
import { TWO_INSTANCE_CONFIG, invocationRows, isAlive, objectFile, startServer, tempDir, waitFor, waitForObject, type ServerProcess } from './support/server.js';
import { TEST_CREDENTIALS } from './support/signing.js';

const SOAK = process.env.SOAK === '1';
const ROUNDS = Number(process.env.SOAK_ROUNDS ?? (SOAK ? 40 : 4));
const SEED = Number(process.env.SOAK_SEED ?? Date.now() % 100_000);

const config = TWO_INSTANCE_CONFIG;

/** mulberry32: small, seeded, good enough to pick moments. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe(`kill -9 at random moments, ${ROUNDS} rounds (seed ${SEED})`, () => {
  it('every 202 ends with exactly one outcome and its output object, across every crash and restart', async () => {
    const next = random(SEED);
    const dataDir = tempDir();
    const accepted = new Map<string, { output: string; failure: string }>(); // by InferenceId
    const modelPids = new Set<number>();
    let server: ServerProcess = await startServer({ config, dataDir });
    let stop = false;
    let sent = 0;
    // Eight senders against whichever server runs now; a request cut off by the kill got no 202 and does not count.
    const senders = Array.from({ length: 8 }, async (_, n) => {
      while (!stop) {
        const current = server;
        const client = new SageMakerRuntimeClient({ endpoint: current.url, region: 'us-east-1', maxAttempts: 1, credentials: TEST_CREDENTIALS });
        try {
          const sleepMs = Math.floor(next() * 150);
          const res = await client.send(new InvokeEndpointAsyncCommand({
            EndpointName: 'ep', Body: Buffer.from(JSON.stringify({ n, i: sent++ })), CustomAttributes: `sleep_ms=${sleepMs}`,
          }));
          accepted.set(res.InferenceId!, { output: res.OutputLocation!, failure: res.FailureLocation! });
        } catch {
          // The server is down between a kill and the restart: wait for the next one.
          await waitFor(() => server !== current || stop, 30_000, 'the next server');
        } finally {
          client.destroy();
        }
      }
    });

    for (let round = 1; round <= ROUNDS; round++) {
      await new Promise((r) => setTimeout(r, 200 + next() * 1000));
      for (const l of server.logs) if (l.msg === 'model instance starting' && typeof l.pid === 'number') modelPids.add(l.pid);
      server.child.kill('SIGKILL');
      await server.exited;
      server = await startServer({ config, dataDir });
    }
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await Promise.all(senders);

    try {
      expect(accepted.size).toBeGreaterThan(ROUNDS * 10);
      for (const { output } of accepted.values()) await waitForObject(dataDir, output, 60_000);
      await waitFor(() => invocationRows(dataDir).every((r) => r.state === 'completed'), 60_000, 'every invocation completed');
      const rows = invocationRows(dataDir);
      // Exactly one row (one final state) per accepted InferenceId, and it completed.
      for (const id of accepted.keys()) expect(rows.filter((r) => r.inference_id === id).map((r) => r.state)).toEqual(['completed']);
      // No failure object for any of them: a crash never turned into a failed outcome.
      for (const { failure } of accepted.values()) expect(existsSync(objectFile(dataDir, failure))).toBe(false);
      // Every instance a killed server left behind was stopped by the next one.
      await waitFor(() => [...modelPids].every((pid) => !isAlive(pid)), 10_000, 'orphaned instances to be stopped');
    } finally {
      expect(await server.stop()).toBe(0);
    }
  }, SOAK ? 3_600_000 : 180_000);
});

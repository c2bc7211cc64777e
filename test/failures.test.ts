/**
 * The failure path end to end: whatever goes wrong after the 202 ends in exactly one failure
 * object at the FailureLocation and a final state, and the server keeps serving.
 */
import { existsSync } from 'node:fs';
import { InvokeEndpointAsyncCommand, type InvokeEndpointAsyncCommandInput } from '@aws-sdk/client-sagemaker-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlEndpoint, invocationRows, objectFile, startServer, waitFor, waitForObject, type ServerProcess } from './support/server.js';

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer({ config: { endpoints: [controlEndpoint('ep')] } });
});

afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

async function invoke(input: Partial<InvokeEndpointAsyncCommandInput>) {
  return server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'ep', Body: Buffer.from('{"x":1}'), ...input }));
}

function stateOf(outputLocation: string): { state: string; failure_reason: string | null } | undefined {
  const id = /([0-9a-f-]{36})\.out$/.exec(outputLocation)![1];
  return invocationRows(server.dataDir).find((r) => r.id === id);
}

describe('failures after the 202', () => {
  it('writes the container error body to the failure object, not the output', async () => {
    const res = await invoke({ CustomAttributes: 'status=500' });
    const failure = JSON.parse((await waitForObject(server.dataDir, res.FailureLocation!)).toString());
    expect(failure.headers.customAttributes).toBe('status=500');
    expect(existsSync(objectFile(server.dataDir, res.OutputLocation!))).toBe(false);
    await waitFor(() => stateOf(res.OutputLocation!)?.state === 'failed', 5000, 'state failed');
    expect(stateOf(res.OutputLocation!)?.failure_reason).toMatch(/^ClientError: Received server error \(500\) from model\. See s3:\/\/.*-error\.out/);
  });

  it('treats a 4xx as a client error', async () => {
    const res = await invoke({ CustomAttributes: 'status=422' });
    await waitForObject(server.dataDir, res.FailureLocation!);
    await waitFor(() => stateOf(res.OutputLocation!)?.state === 'failed', 5000, 'state failed');
    expect(stateOf(res.OutputLocation!)?.failure_reason).toContain('Received client error (422) from model');
  });

  it('enforces InvocationTimeoutSeconds and says so in the failure object', async () => {
    const started = Date.now();
    const res = await invoke({ CustomAttributes: 'sleep_ms=10000', InvocationTimeoutSeconds: 1 });
    const failure = JSON.parse((await waitForObject(server.dataDir, res.FailureLocation!)).toString());
    expect(Date.now() - started).toBeLessThan(5000);
    expect(failure.message).toMatch(/did not finish within InvocationTimeoutSeconds \(1 s\); the invocation timed out/);
    expect(existsSync(objectFile(server.dataDir, res.OutputLocation!))).toBe(false);
  });

  it('refuses a chunked response from the container, as SageMaker does', async () => {
    const res = await invoke({ CustomAttributes: 'chunked=1' });
    const failure = JSON.parse((await waitForObject(server.dataDir, res.FailureLocation!)).toString());
    expect(failure.message).toContain('did not specify the required Content-Length header');
  });

  it('fails an InputLocation that does not exist, and one outside the store rules', async () => {
    const missing = await invoke({ Body: undefined, InputLocation: 's3://bucket/no/such/object' });
    const failure = JSON.parse((await waitForObject(server.dataDir, missing.FailureLocation!)).toString());
    expect(failure.message).toBe('ClientError: Could not read the input at s3://bucket/no/such/object: the object does not exist.');
    const escape = await invoke({ Body: undefined, InputLocation: 's3://bucket/../../../etc/passwd' });
    const refused = JSON.parse((await waitForObject(server.dataDir, escape.FailureLocation!)).toString());
    expect(refused.message).toContain('cannot be stored in the embedded object store');
  });

  it('fails the invocation a crashed instance was running, replaces the instance, and goes on', async () => {
    const res = await invoke({ CustomAttributes: 'crash=1' });
    const failure = JSON.parse((await waitForObject(server.dataDir, res.FailureLocation!)).toString());
    expect(failure.message).toMatch(/^ClientError: Received server error \(0\) from model: .*may have crashed/);
    await waitFor(() => server.logs.filter((l) => l.msg === 'model instance ready').length >= 2, 15_000, 'a replacement instance');
    const after = await invoke({});
    await waitForObject(server.dataDir, after.OutputLocation!);
  });
});

describe('RequestTTLSeconds', () => {
  it('expires an invocation still queued after its TTL, with a failure object, without a model ever seeing it', async () => {
    const cold = await startServer({
      config: { endpoints: [controlEndpoint('cold', { instances: { initial: 0 } })] },
      waitForReady: false,
    });
    try {
      const started = Date.now();
      const res = await cold.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'cold', Body: Buffer.from('{}'), RequestTTLSeconds: 60 }));
      const failure = JSON.parse((await waitForObject(cold.dataDir, res.FailureLocation!, 75_000)).toString());
      expect(Date.now() - started).toBeGreaterThanOrEqual(60_000);
      expect(failure.message).toMatch(/^Request expired: it was still queued after its RequestTTLSeconds \(60 s\)/);
      const rows = invocationRows(cold.dataDir);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ state: 'expired', attempts: 1 });
      expect(existsSync(objectFile(cold.dataDir, res.OutputLocation!))).toBe(false);
    } finally {
      await cold.stop();
    }
  }, 90_000);
});

/**
 * Where instances come from and how they are kept: a model URL that is already running, an
 * instance that stops answering /ping, and the demo endpoint served with no config at all.
 */
import { spawn } from 'node:child_process';
import { InvokeEndpointAsyncCommand, InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import { describe, expect, it } from 'vitest';
import { freePort } from '../src/models/free-port.js';
import { CONTROL_MODEL, controlEndpoint, startServer, waitFor, waitForObject } from './support/server.js';

describe('model instances', () => {
  it('uses an already running container through model.url, and waits for it to come up', async () => {
    const port = await freePort();
    const server = await startServer({
      config: { endpoints: [controlEndpoint('remote', { model: { url: `http://127.0.0.1:${port}`, healthCheckIntervalSeconds: 0.2 } })] },
      waitForReady: false,
    });
    // Started after the server, so the first request waits in the queue for the URL to answer.
    const res = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'remote', Body: Buffer.from('{}') }));
    const model = spawn(process.execPath, [CONTROL_MODEL], { env: { ...process.env, SAGEMAKER_BIND_TO_PORT: String(port) }, stdio: 'ignore' });
    try {
      const out = JSON.parse((await waitForObject(server.dataDir, res.OutputLocation!)).toString());
      expect(out.pid).toBe(model.pid);
      expect(server.logs.some((l) => l.msg === 'model URL ready')).toBe(true);
    } finally {
      model.kill('SIGKILL');
      expect(await server.stop()).toBe(0);
    }
  });

  it('replaces an instance that stops answering /ping', async () => {
    const server = await startServer({
      config: { endpoints: [controlEndpoint('sick', { model: { command: [process.execPath, CONTROL_MODEL], healthCheckIntervalSeconds: 0.2 } })] },
    });
    try {
      const first = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'sick', Body: Buffer.from('{}'), CustomAttributes: 'unhealthy=1' }));
      const sickPid = JSON.parse((await waitForObject(server.dataDir, first.OutputLocation!)).toString()).pid as number;
      await waitFor(() => server.logs.some((l) => l.msg === 'model instance lost; replacing it' && String(l.reason).includes('failed 3 health checks')), 10_000, 'the instance to be declared unhealthy');
      await waitFor(() => server.logs.filter((l) => l.msg === 'model instance ready').length === 2, 10_000, 'a replacement');
      const second = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'sick', Body: Buffer.from('{}') }));
      const healthyPid = JSON.parse((await waitForObject(server.dataDir, second.OutputLocation!)).toString()).pid as number;
      expect(healthyPid).not.toBe(sickPid);
    } finally {
      await server.stop();
    }
  });

  it('serves a config-file endpoint without asyncInferenceConfig in real time', async () => {
    const server = await startServer({ config: { endpoints: [{ name: 'live', model: { command: [process.execPath, CONTROL_MODEL] } }] } });
    try {
      const res = await server.client.send(new InvokeEndpointCommand({ EndpointName: 'live', ContentType: 'text/plain', Body: Buffer.from('now') }));
      expect(Buffer.from(JSON.parse(Buffer.from(res.Body!).toString()).bodyBase64, 'base64').toString()).toBe('now');
      const refused = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'live', Body: Buffer.from('x') })).catch((e: Error) => e);
      expect((refused as Error).message).toMatch(/^Endpoint live is a real-time endpoint/);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('serves the demo endpoint with no config, so the quick start needs no setup', async () => {
    const server = await startServer();
    try {
      const res = await server.client.send(new InvokeEndpointAsyncCommand({
        EndpointName: 'demo', ContentType: 'text/plain', Body: Buffer.from('this is not good, terrible'),
      }));
      expect(res.OutputLocation).toMatch(/^s3:\/\/asyncinfer-demo\/output\/[0-9a-f-]{36}\.out$/);
      expect(res.FailureLocation).toMatch(/^s3:\/\/asyncinfer-demo\/failures\/[0-9a-f-]{36}-error\.out$/);
      const out = JSON.parse((await waitForObject(server.dataDir, res.OutputLocation!)).toString());
      expect(out).toMatchObject({ predictions: [{ label: 'negative' }] });
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

/**
 * Issue 13, findings 1 and 2 (runtime side): a model process never sees the server's environment,
 * and an instance count nobody can honour (up to 2^53, stored in the catalog) fails that endpoint
 * at start instead of freezing the server before it listens.
 */
import path from 'node:path';
import {
  CreateEndpointCommand, CreateEndpointConfigCommand, CreateModelCommand, DescribeEndpointCommand, SageMakerClient, waitUntilEndpointInService,
} from '@aws-sdk/client-sagemaker';
import { InvokeEndpointAsyncCommand } from '@aws-sdk/client-sagemaker-runtime';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { CONTROL_MODEL, controlEndpoint, startServer, tempDir, waitFor, waitForObject, type ServerProcess } from '../support/server.js';
import { TEST_CREDENTIALS } from '../support/signing.js';

const servers: ServerProcess[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

function sagemaker(url: string): SageMakerClient {
  return new SageMakerClient({ endpoint: url, region: 'us-east-1', maxAttempts: 1, credentials: TEST_CREDENTIALS });
}

/** What a model process may see: the minimal base, the SageMaker variables and what the operator/model gave. */
const ALLOWED = new Set(['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'HOST', 'PORT', 'SAGEMAKER_BIND_TO_PORT', 'SM_MODEL_DIR', 'MODEL_VERSION', 'GREETING']);

interface ModelAnswer { envNames: string[]; home?: string; path?: string; version?: string }

describe('model process environment (finding 1)', () => {
  it('a model process gets a minimal environment: none of the server\'s variables, its secrets least of all', async () => {
    const config = {
      images: { 'control:1': { command: [process.execPath, CONTROL_MODEL], env: { MODEL_VERSION: 'image' } } },
      endpoints: [controlEndpoint('cfg', { model: { command: [process.execPath, CONTROL_MODEL], env: { MODEL_VERSION: 'config' } } })],
    };
    const server = await startServer({
      config, dataDir: tempDir(),
      env: { AWS_SECRET_ACCESS_KEY: 'leak-me', AWS_ACCESS_KEY_ID: 'AKIALEAKME', SOME_SECRET: 'x', NODE_OPTIONS: '', HOME: '/home/model-test', LANG: 'C.UTF-8' },
    });
    servers.push(server);

    // A config endpoint.
    const res = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'cfg', Body: Buffer.from('{}'), CustomAttributes: 'env_names=1' }));
    const cfg = JSON.parse((await waitForObject(server.dataDir, res.OutputLocation!)).toString()) as ModelAnswer;

    // An API-created endpoint (image entry env + the model's Environment).
    const sm = sagemaker(server.url);
    await sm.send(new CreateModelCommand({ ModelName: 'env-model', PrimaryContainer: { Image: 'control:1', Environment: { GREETING: 'hi' } } }));
    await sm.send(new CreateEndpointConfigCommand({
      EndpointConfigName: 'env-config',
      AsyncInferenceConfig: { OutputConfig: { S3OutputPath: 's3://bucket/env/out' } },
      ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: 'env-model', InitialInstanceCount: 1 }],
    }));
    await sm.send(new CreateEndpointCommand({ EndpointName: 'env-ep', EndpointConfigName: 'env-config' }));
    await waitUntilEndpointInService({ client: sm, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { EndpointName: 'env-ep' });
    const res2 = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'env-ep', Body: Buffer.from('{}'), CustomAttributes: 'env_names=1' }));
    const api = JSON.parse((await waitForObject(server.dataDir, res2.OutputLocation!)).toString()) as ModelAnswer;

    for (const answer of [cfg, api]) {
      expect(answer.envNames.filter((name) => !ALLOWED.has(name))).toEqual([]);
      expect(answer.envNames).not.toContain('AWS_SECRET_ACCESS_KEY');
      expect(answer.envNames).not.toContain('SOME_SECRET');
      // PATH and HOME still work: the model found its interpreter's world as before.
      expect(answer.home).toBe('/home/model-test');
      expect(answer.path).toBe(process.env.PATH);
    }
    expect(cfg.version).toBe('config');
    expect(api.version).toBe('image');
    expect(api.envNames).toContain('GREETING');
  });
});

describe('instance counts nobody can honour (finding 2, runtime side)', () => {
  it('a catalog entry asking for 2^53 instances fails that endpoint at start; the server listens and the others serve', async () => {
    const dataDir = tempDir();
    const config = { images: { 'control:1': { command: [process.execPath, CONTROL_MODEL] } }, endpoints: [] };
    const first = await startServer({ config, dataDir, waitForReady: false });
    servers.push(first);
    const sm = sagemaker(first.url);
    for (const name of ['big', 'small']) {
      await sm.send(new CreateModelCommand({ ModelName: `${name}-model`, PrimaryContainer: { Image: 'control:1' } }));
      await sm.send(new CreateEndpointConfigCommand({
        EndpointConfigName: `${name}-config`,
        AsyncInferenceConfig: { OutputConfig: { S3OutputPath: `s3://bucket/${name}/out` } },
        ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: `${name}-model`, InitialInstanceCount: 1 }],
      }));
      await sm.send(new CreateEndpointCommand({ EndpointName: name, EndpointConfigName: `${name}-config` }));
      await waitUntilEndpointInService({ client: sm, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { EndpointName: name });
    }
    await first.stop();
    servers.splice(servers.indexOf(first), 1);

    // What an unchecked API (or an older version) stored: counts up to 2^53.
    const db = new Database(path.join(dataDir, 'catalog.db'));
    try {
      const get = db.prepare('SELECT doc FROM resources WHERE kind = ? AND name = ?');
      const set = db.prepare('UPDATE resources SET doc = ? WHERE kind = ? AND name = ?');
      const cfg = JSON.parse((get.get('endpoint-config', 'big-config') as { doc: string }).doc) as { ProductionVariants: { InitialInstanceCount: number }[] };
      cfg.ProductionVariants[0]!.InitialInstanceCount = 2 ** 53;
      set.run(JSON.stringify(cfg), 'endpoint-config', 'big-config');
      const ep = JSON.parse((get.get('endpoint', 'big') as { doc: string }).doc) as Record<string, unknown>;
      set.run(JSON.stringify({ ...ep, DesiredInstanceCount: 2 ** 53 }), 'endpoint', 'big');
    } finally {
      db.close();
    }

    const started = Date.now();
    const server = await startServer({ config, dataDir, waitForReady: false });
    servers.push(server);
    expect(Date.now() - started).toBeLessThan(10_000);
    const sm2 = sagemaker(server.url);
    await waitFor(async () => (await sm2.send(new DescribeEndpointCommand({ EndpointName: 'big' }))).EndpointStatus === 'Failed', 15_000, 'big to fail');
    const big = await sm2.send(new DescribeEndpointCommand({ EndpointName: 'big' }));
    expect(big.FailureReason).toMatch(/instance count 9007199254740992 cannot be honoured/);

    await waitUntilEndpointInService({ client: sm2, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { EndpointName: 'small' });
    const res = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'small', Body: Buffer.from('{"ok":1}') }));
    await waitForObject(server.dataDir, res.OutputLocation!);
  });
  it('a model stored with a code-loading variable (before CreateModel refused them) fails its endpoint at deploy, naming it', async () => {
    const dataDir = tempDir();
    const config = { images: { 'control:1': { command: [process.execPath, CONTROL_MODEL] } }, endpoints: [] };
    const first = await startServer({ config, dataDir, waitForReady: false });
    servers.push(first);
    const sm = sagemaker(first.url);
    await sm.send(new CreateModelCommand({ ModelName: 'old-model', PrimaryContainer: { Image: 'control:1' } }));
    await sm.send(new CreateEndpointConfigCommand({
      EndpointConfigName: 'old-config',
      AsyncInferenceConfig: { OutputConfig: { S3OutputPath: 's3://bucket/old/out' } },
      ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: 'old-model', InitialInstanceCount: 1 }],
    }));
    await first.stop();
    servers.splice(servers.indexOf(first), 1);

    // What an older version stored: the API today refuses this Environment.
    const db = new Database(path.join(dataDir, 'catalog.db'));
    try {
      const doc = JSON.parse((db.prepare('SELECT doc FROM resources WHERE kind = ? AND name = ?').get('model', 'old-model') as { doc: string }).doc) as { PrimaryContainer: Record<string, unknown> };
      doc.PrimaryContainer.Environment = { NODE_OPTIONS: '--import=data:text/javascript,process.exit(7)' };
      db.prepare('UPDATE resources SET doc = ? WHERE kind = ? AND name = ?').run(JSON.stringify(doc), 'model', 'old-model');
    } finally {
      db.close();
    }

    const server = await startServer({ config, dataDir, waitForReady: false });
    servers.push(server);
    const sm2 = sagemaker(server.url);
    await sm2.send(new CreateEndpointCommand({ EndpointName: 'old', EndpointConfigName: 'old-config' }));
    await waitFor(async () => (await sm2.send(new DescribeEndpointCommand({ EndpointName: 'old' }))).EndpointStatus === 'Failed', 15_000, 'the endpoint to fail');
    expect((await sm2.send(new DescribeEndpointCommand({ EndpointName: 'old' }))).FailureReason).toContain('NODE_OPTIONS');
    expect(server.logs.some((l) => l.msg === 'model instance starting')).toBe(false);
  });
});

/**
 * Issue 13, finding 3 (server-side request forgery): every URL a caller names goes through the
 * outbound policy. A local TCP service that records connections stands in for an internal service;
 * "refused" means the failure names the policy and the recorder saw no connection at all.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CreateEndpointCommand, CreateEndpointConfigCommand, CreateModelCommand, DescribeEndpointCommand, SageMakerClient, SageMakerServiceException,
} from '@aws-sdk/client-sagemaker';
import { InvokeEndpointAsyncCommand } from '@aws-sdk/client-sagemaker-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTROL_MODEL, controlEndpoint, objectFile, startServer, tempDir, waitFor, waitForObject, type ServerProcess } from '../support/server.js';
import { TEST_CREDENTIALS } from '../support/signing.js';

const run = promisify(execFile);
const LISTED_TOPIC = 'arn:aws:sns:us-east-1:123456789012:listed';
const UNLISTED_TOPIC = 'arn:aws:sns:us-east-1:210987654321:someone-elses';

/** Counts TCP connections (any protocol): an internal service that must never be reached. */
async function startRecorder(): Promise<{ port: number; hits: () => number; close(): Promise<void> }> {
  let hits = 0;
  const server: Server = createServer((socket) => {
    hits += 1;
    socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, hits: () => hits, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

let server: ServerProcess;
let sm: SageMakerClient;
let recorder: Awaited<ReturnType<typeof startRecorder>>;
/** A port the operator listed (nothing needs to listen there: CreateModel does not connect). */
const LISTED_PORT = 1;

async function error(promise: Promise<unknown>): Promise<SageMakerServiceException> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(SageMakerServiceException);
  return err as SageMakerServiceException;
}

beforeAll(async () => {
  recorder = await startRecorder();
  server = await startServer({
    config: {
      images: { 'control:1': { command: [process.execPath, CONTROL_MODEL] } },
      endpoints: [controlEndpoint('ep')],
      // "localhost" is listed by name, but the address it resolves to (loopback) is not: still refused.
      outbound: { allow: [`127.0.0.1:${LISTED_PORT}`, 'localhost'], maxModelDataBytes: 16 * 1024 * 1024 },
      topics: { [LISTED_TOPIC]: [{ webhook: `http://127.0.0.1:${recorder.port}/hook` }] },
    },
  });
  sm = new SageMakerClient({ endpoint: server.url, region: 'us-east-1', maxAttempts: 1, credentials: TEST_CREDENTIALS });
});

afterAll(async () => {
  await server?.stop();
  await recorder?.close();
});

async function failureOf(inputLocation: string): Promise<{ message: string; ms: number }> {
  const started = Date.now();
  const res = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'ep', InputLocation: inputLocation, ContentType: 'application/json' }));
  const failure = JSON.parse((await waitForObject(server.dataDir, res.FailureLocation!, 20_000)).toString()) as { message: string };
  return { message: failure.message, ms: Date.now() - started };
}

describe('https:// InputLocation', () => {
  it('refuses a loopback URL the operator did not list, without connecting', async () => {
    const location = `https://127.0.0.1:${recorder.port}/x`;
    const { message } = await failureOf(location);
    expect(message).toBe(`ClientError: Could not read the input at ${location}: the URL is not allowed by the outbound policy.`);
    expect(recorder.hits()).toBe(0);
  });

  it('refuses the instance metadata address (169.254.169.254) before any connection is attempted', async () => {
    const location = 'https://169.254.169.254/latest/meta-data/iam/security-credentials/';
    const { message, ms } = await failureOf(location);
    expect(message).toBe(`ClientError: Could not read the input at ${location}: the URL is not allowed by the outbound policy.`);
    // No connect timeout was waited for (10 s by default): nothing was dialled.
    expect(ms).toBeLessThan(5000);
  });

  it('refuses a listed host name that resolves to an address the operator did not list (checked on the resolved address)', async () => {
    const location = `https://localhost:${recorder.port}/x`;
    const { message } = await failureOf(location);
    expect(message).toBe(`ClientError: Could not read the input at ${location}: the URL is not allowed by the outbound policy.`);
    expect(recorder.hits()).toBe(0);
  });
});

describe('CreateModel with an Image URL', () => {
  it('refuses an unlisted URL, and a listed one with a query, fragment or credentials; accepts a listed one', async () => {
    for (const image of [`http://127.0.0.1:${recorder.port}/?x=`, `http://127.0.0.1:${recorder.port}`, 'http://169.254.169.254/']) {
      const err = await error(sm.send(new CreateModelCommand({ ModelName: 'ssrf', PrimaryContainer: { Image: image } })));
      expect(err.name).toBe('ValidationException');
      expect(err.message).toContain('not allowed by the outbound policy');
    }
    for (const image of [`http://127.0.0.1:${LISTED_PORT}/?x=`, `http://127.0.0.1:${LISTED_PORT}/#x`, `http://user:pw@127.0.0.1:${LISTED_PORT}/`]) {
      const err = await error(sm.send(new CreateModelCommand({ ModelName: 'ssrf', PrimaryContainer: { Image: image } })));
      expect(err.name).toBe('ValidationException');
      expect(err.message).toContain('must not carry a query, a fragment or credentials');
    }
    const ok = await sm.send(new CreateModelCommand({ ModelName: 'listed-url', PrimaryContainer: { Image: `http://127.0.0.1:${LISTED_PORT}/base` } }));
    expect(ok.ModelArn).toContain('model/listed-url');
    expect(recorder.hits()).toBe(0);
  });
});

describe('ModelDataUrl', () => {
  it('stops a tarball bomb at the unpacked-size cap, fails the endpoint and leaves nothing unpacked', async () => {
    const src = tempDir('asyncinfer-bomb-');
    // 64 MiB of zeros: about 64 KiB compressed, four times the 16 MiB cap.
    writeFileSync(path.join(src, 'zeros.bin'), Buffer.alloc(64 * 1024 * 1024));
    const archive = objectFile(server.dataDir, 's3://bucket/models/bomb.tar.gz');
    mkdirSync(path.dirname(archive), { recursive: true });
    await run('tar', ['-czf', archive, '-C', src, 'zeros.bin']);
    await sm.send(new CreateModelCommand({ ModelName: 'bomb', PrimaryContainer: { Image: 'control:1', ModelDataUrl: 's3://bucket/models/bomb.tar.gz' } }));
    await sm.send(new CreateEndpointConfigCommand({
      EndpointConfigName: 'bomb-config', ProductionVariants: [{ VariantName: 'v', ModelName: 'bomb', InitialInstanceCount: 1, ModelDataDownloadTimeoutInSeconds: 60 }],
    }));
    await sm.send(new CreateEndpointCommand({ EndpointName: 'bomb', EndpointConfigName: 'bomb-config' }));
    let described = await sm.send(new DescribeEndpointCommand({ EndpointName: 'bomb' }));
    await waitFor(async () => {
      described = await sm.send(new DescribeEndpointCommand({ EndpointName: 'bomb' }));
      return described.EndpointStatus !== 'Creating';
    }, 30_000, 'the endpoint to leave Creating');
    expect(described.EndpointStatus).toBe('Failed');
    expect(described.FailureReason).toContain('the unpacked model data is larger than the 16777216 bytes allowed');
    const models = path.join(server.dataDir, 'models');
    expect(existsSync(models) ? readdirSync(models) : []).toEqual([]);
  }, 60_000);
});

describe('SNS topics', () => {
  it('refuses a topic that is not listed under topics at CreateEndpointConfig; accepts a listed one', async () => {
    await sm.send(new CreateModelCommand({ ModelName: 'sns-model', PrimaryContainer: { Image: 'control:1' } }));
    const variants = [{ VariantName: 'v', ModelName: 'sns-model', InitialInstanceCount: 1 }];
    const err = await error(sm.send(new CreateEndpointConfigCommand({
      EndpointConfigName: 'unlisted-topic', ProductionVariants: variants,
      AsyncInferenceConfig: { OutputConfig: { S3OutputPath: 's3://bucket/o', NotificationConfig: { ErrorTopic: UNLISTED_TOPIC } } },
    })));
    expect(err.name).toBe('ValidationException');
    expect(err.message).toContain(`topic ${UNLISTED_TOPIC} is not allowed by the outbound policy`);
    const ok = await sm.send(new CreateEndpointConfigCommand({
      EndpointConfigName: 'listed-topic', ProductionVariants: variants,
      AsyncInferenceConfig: { OutputConfig: { S3OutputPath: 's3://bucket/o', NotificationConfig: { SuccessTopic: LISTED_TOPIC } } },
    }));
    expect(ok.EndpointConfigArn).toContain('endpoint-config/listed-topic');
  });

  it('refuses a config file endpoint with an unlisted topic at load, unless outbound.awsSns allows AWS SNS', async () => {
    const endpoint = controlEndpoint('cfg', {
      asyncInferenceConfig: { OutputConfig: { S3OutputPath: 's3://bucket/cfg/out', NotificationConfig: { SuccessTopic: UNLISTED_TOPIC } } },
    });
    const refused = await startServer({ config: { endpoints: [endpoint] }, waitForReady: false }).then(() => undefined, (e: Error) => e);
    expect(refused?.message).toContain(`topic ${UNLISTED_TOPIC} is not listed under "topics"`);
    const allowed = await startServer({ config: { endpoints: [endpoint], outbound: { awsSns: true } }, waitForReady: false });
    expect(await allowed.stop()).toBe(0);
  }, 30_000);
});

describe('the server keeps serving', () => {
  it('still runs inline invocations after the refusals', async () => {
    const res = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'ep', Body: Buffer.from('{"ok":1}'), ContentType: 'application/json' }));
    await waitForObject(server.dataDir, res.OutputLocation!, 15_000);
    expect(recorder.hits()).toBe(0);
  });
});

/**
 * Endpoints created the way users do on AWS: CreateModel → CreateEndpointConfig → CreateEndpoint →
 * waiter → InvokeEndpointAsync → DeleteEndpoint → waiter, with the official SDKs, plus a failing
 * image, a restart, and the AWS CLI for the same flow.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CreateEndpointCommand, CreateEndpointConfigCommand, CreateModelCommand, DeleteEndpointCommand, DescribeEndpointCommand,
  ListEndpointsCommand, SageMakerClient, UpdateEndpointCommand, UpdateEndpointWeightsAndCapacitiesCommand, waitUntilEndpointDeleted, waitUntilEndpointInService,
} from '@aws-sdk/client-sagemaker';
import { InvokeEndpointAsyncCommand, InvokeEndpointCommand, ModelError, ValidationError } from '@aws-sdk/client-sagemaker-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTROL_MODEL, objectFile, startServer, tempDir, waitFor, waitForObject, type ServerProcess } from './support/server.js';
import { TEST_CREDENTIALS, AWS_CLI_ENV } from './support/signing.js';

const run = promisify(execFile);
const AWS = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws';
const config = {
  images: {
    'control:1': { command: [process.execPath, CONTROL_MODEL], env: { MODEL_VERSION: '1' } },
    'control:2': { command: [process.execPath, CONTROL_MODEL], env: { MODEL_VERSION: '2' } },
  },
  endpoints: [],
};
const asyncConfig = { OutputConfig: { S3OutputPath: 's3://api-bucket/out', S3FailurePath: 's3://api-bucket/fail' }, ClientConfig: { MaxConcurrentInvocationsPerInstance: 2 } };

let server: ServerProcess;
let sm: SageMakerClient;

function client(url: string): SageMakerClient {
  return new SageMakerClient({ endpoint: url, region: 'us-east-1', maxAttempts: 1, credentials: TEST_CREDENTIALS });
}

async function createAsyncEndpoint(c: SageMakerClient, name: string, image: string, instances = 1): Promise<void> {
  await c.send(new CreateModelCommand({ ModelName: `${name}-model`, PrimaryContainer: { Image: image, Environment: { GREETING: 'hi' } } }));
  await c.send(new CreateEndpointConfigCommand({
    EndpointConfigName: `${name}-config`, AsyncInferenceConfig: asyncConfig,
    ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: `${name}-model`, InitialInstanceCount: instances, ContainerStartupHealthCheckTimeoutInSeconds: 60 }],
  }));
  await c.send(new CreateEndpointCommand({ EndpointName: name, EndpointConfigName: `${name}-config` }));
}

beforeAll(async () => {
  server = await startServer({ config, dataDir: tempDir(), waitForReady: false });
  sm = client(server.url);
});

afterAll(async () => {
  await server.stop();
});

describe('endpoint lifecycle', () => {
  it('Creating → InService → serves → Deleting → gone, with the SDK waiters', async () => {
    await createAsyncEndpoint(sm, 'api-ep', 'control:1', 2);
    const creating = await sm.send(new DescribeEndpointCommand({ EndpointName: 'api-ep' }));
    expect(['Creating', 'InService']).toContain(creating.EndpointStatus);
    const ready = await waitUntilEndpointInService({ client: sm, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { EndpointName: 'api-ep' });
    expect(ready.state).toBe('SUCCESS');
    const ep = await sm.send(new DescribeEndpointCommand({ EndpointName: 'api-ep' }));
    expect(ep).toMatchObject({ EndpointStatus: 'InService', EndpointConfigName: 'api-ep-config', AsyncInferenceConfig: asyncConfig });
    expect(ep.ProductionVariants?.[0]).toMatchObject({ VariantName: 'AllTraffic', CurrentInstanceCount: 2, DesiredInstanceCount: 2 });

    const res = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'api-ep', Body: Buffer.from('{"a":1}') }));
    expect(res.OutputLocation).toMatch(/^s3:\/\/api-bucket\/out\/[0-9a-f-]{36}\.out$/);
    const out = JSON.parse((await waitForObject(server.dataDir, res.OutputLocation!)).toString());
    expect(Buffer.from(out.bodyBase64, 'base64').toString()).toBe('{"a":1}');

    await sm.send(new DeleteEndpointCommand({ EndpointName: 'api-ep' }));
    const gone = await waitUntilEndpointDeleted({ client: sm, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { EndpointName: 'api-ep' });
    expect(gone.state).toBe('SUCCESS');
    const after = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'api-ep', Body: Buffer.from('{}') })).catch((e: Error) => e);
    expect((after as Error).message).toBe('Endpoint api-ep of account 123456789012 not found.');
  });

  it('fails an endpoint whose image is not registered, saying how to register it', async () => {
    await createAsyncEndpoint(sm, 'bad-image', 'unknown:9');
    const result = await waitUntilEndpointInService({ client: sm, maxWaitTime: 20, minDelay: 1, maxDelay: 1 }, { EndpointName: 'bad-image' }).catch((e: Error) => e);
    expect(String((result as Error).message ?? result)).toMatch(/FAILURE|Failed/);
    const ep = await sm.send(new DescribeEndpointCommand({ EndpointName: 'bad-image' }));
    expect(ep.EndpointStatus).toBe('Failed');
    expect(ep.FailureReason).toMatch(/^Image "unknown:9" is not registered\. Add it to the config file under "images"/);
  });

  it('refuses a duplicate endpoint and a missing configuration in the AWS words', async () => {
    const missing = await sm.send(new CreateEndpointCommand({ EndpointName: 'x1', EndpointConfigName: 'no-config' })).catch((e: Error) => e);
    expect((missing as Error).message).toBe('Could not find endpoint configuration "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/no-config".');
    const dup = await sm.send(new CreateEndpointCommand({ EndpointName: 'bad-image', EndpointConfigName: 'bad-image-config' })).catch((e: Error) => e);
    expect((dup as Error).message).toBe('Cannot create already existing endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/bad-image".');
  });

  it('brings API endpoints back after a restart', async () => {
    const first = await startServer({ config, waitForReady: false });
    const a = client(first.url);
    await createAsyncEndpoint(a, 'kept-ep', 'control:1');
    await waitUntilEndpointInService({ client: a, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { EndpointName: 'kept-ep' });
    expect(await first.stop()).toBe(0);
    const second = await startServer({ config, dataDir: first.dataDir, waitForReady: false });
    try {
      const b = client(second.url);
      const back = await waitUntilEndpointInService({ client: b, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { EndpointName: 'kept-ep' });
      expect(back.state).toBe('SUCCESS');
      expect((await b.send(new ListEndpointsCommand({}))).Endpoints?.map((e) => e.EndpointName)).toEqual(['kept-ep']);
      const res = await second.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'kept-ep', Body: Buffer.from('{}') }));
      await waitForObject(second.dataDir, res.OutputLocation!);
    } finally {
      await second.stop();
    }
  });
});

describe('updates', () => {
  it('rolls UpdateEndpoint out under load without losing an invocation, then rescales', async () => {
    await createAsyncEndpoint(sm, 'rolling', 'control:1');
    await waitUntilEndpointInService({ client: sm, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { EndpointName: 'rolling' });
    await sm.send(new CreateModelCommand({ ModelName: 'rolling-v2', PrimaryContainer: { Image: 'control:2' } }));
    await sm.send(new CreateEndpointConfigCommand({
      EndpointConfigName: 'rolling-v2-config', AsyncInferenceConfig: asyncConfig,
      ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: 'rolling-v2', InitialInstanceCount: 1 }],
    }));

    const accepted: string[] = [];
    let sending = true;
    const senders = Array.from({ length: 4 }, async () => {
      while (sending) {
        const res = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'rolling', Body: Buffer.from('{}'), CustomAttributes: 'sleep_ms=50' }));
        accepted.push(res.OutputLocation!);
      }
    });
    while (accepted.length < 20) await new Promise((r) => setTimeout(r, 20));
    await sm.send(new UpdateEndpointCommand({ EndpointName: 'rolling', EndpointConfigName: 'rolling-v2-config' }));
    expect((await sm.send(new DescribeEndpointCommand({ EndpointName: 'rolling' }))).EndpointStatus).toBe('Updating');
    const busy = await sm.send(new UpdateEndpointCommand({ EndpointName: 'rolling', EndpointConfigName: 'rolling-v2-config' })).catch((e: Error) => e);
    expect((busy as Error).message).toBe('Cannot update in-progress endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/rolling".');
    await waitUntilEndpointInService({ client: sm, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { EndpointName: 'rolling' });
    const sentDuringUpdate = accepted.length;
    while (accepted.length < sentDuringUpdate + 20) await new Promise((r) => setTimeout(r, 20));
    sending = false;
    await Promise.all(senders);

    const versions = new Set<string>();
    for (const location of accepted) versions.add(JSON.parse((await waitForObject(server.dataDir, location)).toString()).version);
    expect([...versions].sort()).toEqual(['1', '2']);
    expect((await sm.send(new DescribeEndpointCommand({ EndpointName: 'rolling' }))).EndpointConfigName).toBe('rolling-v2-config');

    await sm.send(new UpdateEndpointWeightsAndCapacitiesCommand({ EndpointName: 'rolling', DesiredWeightsAndCapacities: [{ VariantName: 'AllTraffic', DesiredInstanceCount: 2 }] }));
    await waitUntilEndpointInService({ client: sm, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { EndpointName: 'rolling' });
    const scaled = await sm.send(new DescribeEndpointCommand({ EndpointName: 'rolling' }));
    expect(scaled.ProductionVariants?.[0]).toMatchObject({ CurrentInstanceCount: 2, DesiredInstanceCount: 2 });
    // To zero and back, in place: work waits in the queue meanwhile.
    await sm.send(new UpdateEndpointWeightsAndCapacitiesCommand({ EndpointName: 'rolling', DesiredWeightsAndCapacities: [{ VariantName: 'AllTraffic', DesiredInstanceCount: 0 }] }));
    await waitUntilEndpointInService({ client: sm, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { EndpointName: 'rolling' });
    await waitFor(async () => (await sm.send(new DescribeEndpointCommand({ EndpointName: 'rolling' }))).ProductionVariants?.[0]?.CurrentInstanceCount === 0, 15_000, 'no instance serving');
    expect((await sm.send(new DescribeEndpointCommand({ EndpointName: 'rolling' }))).ProductionVariants?.[0]).toMatchObject({ CurrentInstanceCount: 0, DesiredInstanceCount: 0 });
    const waiting = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'rolling', Body: Buffer.from('{}') }));
    await sm.send(new UpdateEndpointWeightsAndCapacitiesCommand({ EndpointName: 'rolling', DesiredWeightsAndCapacities: [{ VariantName: 'AllTraffic', DesiredInstanceCount: 1 }] }));
    await waitForObject(server.dataDir, waiting.OutputLocation!, 20_000);
    await waitUntilEndpointInService({ client: sm, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { EndpointName: 'rolling' });
    expect((await sm.send(new DescribeEndpointCommand({ EndpointName: 'rolling' }))).ProductionVariants?.[0]).toMatchObject({ CurrentInstanceCount: 1, DesiredInstanceCount: 1 });
    const wrong = await sm.send(new UpdateEndpointWeightsAndCapacitiesCommand({ EndpointName: 'rolling', DesiredWeightsAndCapacities: [{ VariantName: 'Other', DesiredInstanceCount: 1 }] })).catch((e: Error) => e);
    expect((wrong as Error).message).toContain('The variant(s) "[Other]" are not present in the endpoint');
  }, 90_000);
});

describe('ModelDataUrl', () => {
  it('unpacks the tar.gz into SM_MODEL_DIR for the instances, or fails the endpoint saying why', async () => {
    const src = tempDir('asyncinfer-model-');
    writeFileSync(path.join(src, 'weights.txt'), 'w=0.42');
    const archive = objectFile(server.dataDir, 's3://api-bucket/models/m.tar.gz');
    mkdirSync(path.dirname(archive), { recursive: true });
    await run('tar', ['-czf', archive, '-C', src, 'weights.txt']);
    await sm.send(new CreateModelCommand({ ModelName: 'with-data', PrimaryContainer: { Image: 'control:1', ModelDataUrl: 's3://api-bucket/models/m.tar.gz' } }));
    await sm.send(new CreateEndpointConfigCommand({ EndpointConfigName: 'with-data-config', AsyncInferenceConfig: asyncConfig, ProductionVariants: [{ VariantName: 'v', ModelName: 'with-data', InitialInstanceCount: 1 }] }));
    await sm.send(new CreateEndpointCommand({ EndpointName: 'with-data', EndpointConfigName: 'with-data-config' }));
    await waitUntilEndpointInService({ client: sm, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { EndpointName: 'with-data' });
    const res = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'with-data', Body: Buffer.from('{}') }));
    expect(JSON.parse((await waitForObject(server.dataDir, res.OutputLocation!)).toString()).modelData).toBe('w=0.42');

    await sm.send(new CreateModelCommand({ ModelName: 'no-data', PrimaryContainer: { Image: 'control:1', ModelDataUrl: 's3://api-bucket/models/missing.tar.gz' } }));
    await sm.send(new CreateEndpointConfigCommand({ EndpointConfigName: 'no-data-config', AsyncInferenceConfig: asyncConfig, ProductionVariants: [{ VariantName: 'v', ModelName: 'no-data', InitialInstanceCount: 1 }] }));
    await sm.send(new CreateEndpointCommand({ EndpointName: 'no-data', EndpointConfigName: 'no-data-config' }));
    await waitUntilEndpointInService({ client: sm, maxWaitTime: 10, minDelay: 1, maxDelay: 1 }, { EndpointName: 'no-data' }).catch(() => undefined);
    const failed = await sm.send(new DescribeEndpointCommand({ EndpointName: 'no-data' }));
    expect(failed.EndpointStatus).toBe('Failed');
    expect(failed.FailureReason).toBe('Could not download and unpack ModelDataUrl s3://api-bucket/models/missing.tar.gz: The object s3://api-bucket/models/missing.tar.gz does not exist');
  });
});

describe('real-time endpoints', () => {
  it('serves InvokeEndpoint on an endpoint without AsyncInferenceConfig, and each call type refuses the other endpoint kind', async () => {
    await sm.send(new CreateModelCommand({ ModelName: 'rt-model', PrimaryContainer: { Image: 'control:1' } }));
    await sm.send(new CreateEndpointConfigCommand({ EndpointConfigName: 'rt-config', ProductionVariants: [{ VariantName: 'v', ModelName: 'rt-model', InitialInstanceCount: 1 }] }));
    await sm.send(new CreateEndpointCommand({ EndpointName: 'rt', EndpointConfigName: 'rt-config' }));
    await waitUntilEndpointInService({ client: sm, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { EndpointName: 'rt' });

    const res = await server.client.send(new InvokeEndpointCommand({
      EndpointName: 'rt', Body: Buffer.from('{"q":1}'), ContentType: 'application/json', Accept: 'application/json', CustomAttributes: 'x=1', InferenceId: 'rt-1',
    }));
    expect(res.ContentType).toBe('application/json');
    const out = JSON.parse(Buffer.from(res.Body!).toString());
    expect(out.headers).toMatchObject({ contentType: 'application/json', accept: 'application/json', customAttributes: 'x=1', inferenceId: 'rt-1' });
    expect(Buffer.from(out.bodyBase64, 'base64').toString()).toBe('{"q":1}');

    const failing = await server.client.send(new InvokeEndpointCommand({ EndpointName: 'rt', Body: Buffer.from('{}'), CustomAttributes: 'status=500' })).catch((e: unknown) => e);
    expect(failing).toBeInstanceOf(ModelError);
    expect((failing as ModelError).OriginalStatusCode).toBe(500);
    expect((failing as ModelError).message).toMatch(/^Received server error \(500\) from primary with message /);

    const asyncOnRealtime = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'rt', Body: Buffer.from('{}') })).catch((e: Error) => e);
    expect(asyncOnRealtime).toBeInstanceOf(ValidationError);
    expect((asyncOnRealtime as Error).message).toMatch(/^Endpoint rt is a real-time endpoint/);

    await createAsyncEndpoint(sm, 'async-only', 'control:1');
    await waitUntilEndpointInService({ client: sm, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { EndpointName: 'async-only' });
    const realtimeOnAsync = await server.client.send(new InvokeEndpointCommand({ EndpointName: 'async-only', Body: Buffer.from('{}') })).catch((e: Error) => e);
    expect(realtimeOnAsync).toBeInstanceOf(ValidationError);
    expect((realtimeOnAsync as Error).message).toMatch(/^Endpoint async-only is an asynchronous endpoint/);
  });
});

describe('deleting', () => {
  it('lets running invocations finish and fails the queued ones with a reason', async () => {
    await createAsyncEndpoint(sm, 'doomed', 'control:1');
    await waitUntilEndpointInService({ client: sm, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { EndpointName: 'doomed' });
    const accepted = await Promise.all(Array.from({ length: 6 }, () => server.client.send(
      new InvokeEndpointAsyncCommand({ EndpointName: 'doomed', Body: Buffer.from('{}'), CustomAttributes: 'sleep_ms=1500' }))));
    // MaxConcurrentInvocationsPerInstance is 2: two run, four wait.
    await new Promise((r) => setTimeout(r, 300));
    await sm.send(new DeleteEndpointCommand({ EndpointName: 'doomed' }));
    await waitUntilEndpointDeleted({ client: sm, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { EndpointName: 'doomed' });
    let completed = 0;
    let failed = 0;
    for (const r of accepted) {
      if (existsSync(objectFile(server.dataDir, r.OutputLocation!))) completed++;
      else {
        const failure = JSON.parse((await waitForObject(server.dataDir, r.FailureLocation!)).toString());
        expect(failure.message).toBe('ClientError: The endpoint doomed was deleted (DeleteEndpoint) before this request ran.');
        failed++;
      }
    }
    expect({ completed, failed }).toEqual({ completed: 2, failed: 4 });
  });
});

describe('the AWS CLI', () => {
  it('create-model → create-endpoint-config → create-endpoint → wait → invoke-endpoint-async → delete-endpoint', async () => {
    const env = { ...process.env, ...AWS_CLI_ENV };
    const aws = async (...args: string[]) => JSON.parse((await run(AWS, [...args, '--endpoint-url', server.url, '--output', 'json'], { env })).stdout || '{}') as Record<string, unknown>;
    // This CLI's model still requires a role; any ARN does here.
    await aws('sagemaker', 'create-model', '--model-name', 'cli-model', '--primary-container', 'Image=control:1',
      '--execution-role-arn', 'arn:aws:iam::123456789012:role/asyncinfer');
    await aws('sagemaker', 'create-endpoint-config', '--endpoint-config-name', 'cli-config',
      '--production-variants', 'VariantName=AllTraffic,ModelName=cli-model,InitialInstanceCount=1,InstanceType=ml.m5.large',
      // Debian's CLI 2.9 predates S3FailurePath (2023-04) and refuses it on the client side.
      '--async-inference-config', JSON.stringify({ ...asyncConfig, OutputConfig: { S3OutputPath: asyncConfig.OutputConfig.S3OutputPath } }));
    const created = await aws('sagemaker', 'create-endpoint', '--endpoint-name', 'cli-ep', '--endpoint-config-name', 'cli-config');
    expect(created.EndpointArn).toBe('arn:aws:sagemaker:us-east-1:123456789012:endpoint/cli-ep');
    await aws('sagemaker', 'wait', 'endpoint-in-service', '--endpoint-name', 'cli-ep');
    expect((await aws('sagemaker', 'describe-endpoint', '--endpoint-name', 'cli-ep')).EndpointStatus).toBe('InService');
    const input = 's3://api-bucket/in/x.json';
    mkdirSync(path.dirname(objectFile(server.dataDir, input)), { recursive: true });
    writeFileSync(objectFile(server.dataDir, input), '{"cli":true}');
    const invoked = await aws('sagemaker-runtime', 'invoke-endpoint-async', '--endpoint-name', 'cli-ep', '--input-location', input, '--content-type', 'application/json');
    await waitForObject(server.dataDir, invoked.OutputLocation as string);
    await aws('sagemaker', 'delete-endpoint', '--endpoint-name', 'cli-ep');
    await aws('sagemaker', 'wait', 'endpoint-deleted', '--endpoint-name', 'cli-ep');
  }, 120_000);
});

/**
 * The SageMaker control plane through the official @aws-sdk/client-sagemaker: models and endpoint
 * configurations (create, describe, list, delete, persisted across a restart), endpoints from the
 * config file, and the AWS error shapes the SDK and its waiters rely on.
 */
import {
  CreateEndpointConfigCommand, CreateModelCommand, DeleteEndpointConfigCommand, DeleteModelCommand,
  DescribeEndpointCommand, DescribeEndpointConfigCommand, DescribeModelCommand, ListEndpointConfigsCommand, ListEndpointsCommand,
  ListModelsCommand, SageMakerClient, SageMakerServiceException, waitUntilEndpointInService,
} from '@aws-sdk/client-sagemaker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlEndpoint, startServer, type ServerProcess } from './support/server.js';
import { TEST_CREDENTIALS, signedFetch } from './support/signing.js';

let server: ServerProcess;
let sm: SageMakerClient;

const asyncConfig = {
  OutputConfig: { S3OutputPath: 's3://bucket/out', S3FailurePath: 's3://bucket/fail', NotificationConfig: { SuccessTopic: 'arn:aws:sns:us-east-1:123456789012:ok' } },
  ClientConfig: { MaxConcurrentInvocationsPerInstance: 2 },
};

function client(url: string): SageMakerClient {
  return new SageMakerClient({ endpoint: url, region: 'us-east-1', maxAttempts: 1, credentials: TEST_CREDENTIALS });
}

async function error(promise: Promise<unknown>): Promise<SageMakerServiceException> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(SageMakerServiceException);
  return err as SageMakerServiceException;
}

beforeAll(async () => {
  // asyncConfig names a topic not listed under "topics": the operator lets it go to AWS SNS.
  server = await startServer({ config: { endpoints: [controlEndpoint('from-config', { instances: { initial: 2 } })], outbound: { awsSns: true } } });
  sm = client(server.url);
});

afterAll(async () => {
  await server.stop();
});

describe('models', () => {
  it('creates, describes with every field echoed, lists and deletes', async () => {
    const created = await sm.send(new CreateModelCommand({
      ModelName: 'Iris-Model', ExecutionRoleArn: 'arn:aws:iam::123456789012:role/r',
      PrimaryContainer: { Image: 'iris:1', ModelDataUrl: 's3://bucket/model.tar.gz', Environment: { THREADS: '2' } },
      Tags: [{ Key: 'team', Value: 'ml' }],
    }));
    expect(created.ModelArn).toBe('arn:aws:sagemaker:us-east-1:123456789012:model/iris-model');
    const described = await sm.send(new DescribeModelCommand({ ModelName: 'Iris-Model' }));
    expect(described).toMatchObject({
      ModelName: 'Iris-Model', ModelArn: created.ModelArn, ExecutionRoleArn: 'arn:aws:iam::123456789012:role/r',
      PrimaryContainer: { Image: 'iris:1', ModelDataUrl: 's3://bucket/model.tar.gz', Environment: { THREADS: '2' } },
    });
    expect(described.CreationTime).toBeInstanceOf(Date);
    expect(Math.abs(described.CreationTime!.getTime() - Date.now())).toBeLessThan(60_000);
    const listed = await sm.send(new ListModelsCommand({ NameContains: 'iris' }));
    expect(listed.Models?.map((m) => m.ModelName)).toEqual(['Iris-Model']);
    await sm.send(new DeleteModelCommand({ ModelName: 'Iris-Model' }));
    const gone = await error(sm.send(new DescribeModelCommand({ ModelName: 'Iris-Model' })));
    expect(gone.name).toBe('ValidationException');
    expect(gone.$metadata.httpStatusCode).toBe(400);
    expect(gone.message).toBe('Could not find model "arn:aws:sagemaker:us-east-1:123456789012:model/iris-model".');
  });

  it('refuses a duplicate, a bad name and a missing container, in the AWS words', async () => {
    await sm.send(new CreateModelCommand({ ModelName: 'dup', PrimaryContainer: { Image: 'x:1' } }));
    expect((await error(sm.send(new CreateModelCommand({ ModelName: 'dup', PrimaryContainer: { Image: 'x:1' } })))).message)
      .toBe('Cannot create already existing model "arn:aws:sagemaker:us-east-1:123456789012:model/dup".');
    expect((await error(sm.send(new CreateModelCommand({ ModelName: 'bad_name', PrimaryContainer: { Image: 'x' } })))).message)
      .toContain("Value 'bad_name' at 'modelName' failed to satisfy constraint: Member must satisfy regular expression pattern");
    expect((await error(sm.send(new CreateModelCommand({ ModelName: 'empty' })))).message).toMatch(/^Either PrimaryContainer or Containers must be provided/);
  });

  it('pages and sorts', async () => {
    for (const n of ['page-a', 'page-b', 'page-c']) await sm.send(new CreateModelCommand({ ModelName: n, PrimaryContainer: { Image: 'x:1' } }));
    const first = await sm.send(new ListModelsCommand({ NameContains: 'page', SortBy: 'Name', SortOrder: 'Ascending', MaxResults: 2 }));
    expect(first.Models?.map((m) => m.ModelName)).toEqual(['page-a', 'page-b']);
    expect(first.NextToken).toBeDefined();
    const second = await sm.send(new ListModelsCommand({ NameContains: 'page', SortBy: 'Name', SortOrder: 'Ascending', MaxResults: 2, NextToken: first.NextToken }));
    expect(second.Models?.map((m) => m.ModelName)).toEqual(['page-c']);
    expect(second.NextToken).toBeUndefined();
    const newest = await sm.send(new ListModelsCommand({ NameContains: 'page', MaxResults: 1 }));
    expect(newest.Models?.[0]?.ModelName).toBe('page-c');
    const after = await sm.send(new ListModelsCommand({ NameContains: 'page', CreationTimeAfter: new Date(Date.now() + 60_000) }));
    expect(after.Models).toEqual([]);
    expect((await error(sm.send(new ListModelsCommand({ MaxResults: 101 })))).message)
      .toContain("Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100");
  });
});

describe('endpoint configurations', () => {
  it('stores the AsyncInferenceConfig and every variant field, and checks the model exists', async () => {
    await sm.send(new CreateModelCommand({ ModelName: 'cfg-model', PrimaryContainer: { Image: 'x:1' } }));
    const missing = await error(sm.send(new CreateEndpointConfigCommand({
      EndpointConfigName: 'cfg', ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: 'nope', InitialInstanceCount: 1 }],
    })));
    expect(missing.message).toBe('Could not find model "arn:aws:sagemaker:us-east-1:123456789012:model/nope".');
    const created = await sm.send(new CreateEndpointConfigCommand({
      EndpointConfigName: 'cfg', AsyncInferenceConfig: asyncConfig,
      ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: 'cfg-model', InitialInstanceCount: 1, InstanceType: 'ml.m5.large', ContainerStartupHealthCheckTimeoutInSeconds: 600 }],
    }));
    expect(created.EndpointConfigArn).toBe('arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/cfg');
    const described = await sm.send(new DescribeEndpointConfigCommand({ EndpointConfigName: 'cfg' }));
    expect(described.AsyncInferenceConfig).toEqual(asyncConfig);
    expect(described.ProductionVariants?.[0]).toMatchObject({ VariantName: 'AllTraffic', ModelName: 'cfg-model', InitialInstanceCount: 1, InstanceType: 'ml.m5.large', InitialVariantWeight: 1, ContainerStartupHealthCheckTimeoutInSeconds: 600 });
    expect((await sm.send(new ListEndpointConfigsCommand({}))).EndpointConfigs?.map((c) => c.EndpointConfigName)).toContain('cfg');
  });

  it('validates variants and the async config, all problems at once', async () => {
    const err = await error(sm.send(new CreateEndpointConfigCommand({
      EndpointConfigName: 'bad-cfg',
      ProductionVariants: [{ VariantName: 'v', ModelName: 'cfg-model', InitialInstanceCount: 0 }],
      AsyncInferenceConfig: { OutputConfig: { S3OutputPath: 'ftp://x' }, ClientConfig: { MaxConcurrentInvocationsPerInstance: 1001 } },
    })));
    expect(err.message).toMatch(/^3 validation errors detected: /);
    expect(err.message).toContain("at 'productionVariants.1.member.initialInstanceCount' failed to satisfy constraint: Member must have value greater than or equal to 1");
    expect(err.message).toContain("at 'asyncInferenceConfig.outputConfig.s3OutputPath' failed to satisfy constraint");
    expect(err.message).toContain("at 'asyncInferenceConfig.clientConfig.maxConcurrentInvocationsPerInstance'");
    expect((await error(sm.send(new CreateEndpointConfigCommand({ EndpointConfigName: 'none', ProductionVariants: [] })))).message)
      .toContain("at 'productionVariants' failed to satisfy constraint: Member must have length greater than or equal to 1");
  });

  it('deletes, and says so when it is already gone', async () => {
    await sm.send(new DeleteEndpointConfigCommand({ EndpointConfigName: 'cfg' }));
    expect((await error(sm.send(new DeleteEndpointConfigCommand({ EndpointConfigName: 'cfg' })))).message)
      .toBe('Could not find endpoint configuration "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/cfg".');
  });
});

describe('endpoints', () => {
  it('shows config-file endpoints InService with live instance counts, and the waiter sees it', async () => {
    const ep = await sm.send(new DescribeEndpointCommand({ EndpointName: 'from-config' }));
    expect(ep).toMatchObject({ EndpointName: 'from-config', EndpointStatus: 'InService', EndpointArn: 'arn:aws:sagemaker:us-east-1:123456789012:endpoint/from-config' });
    expect(ep.ProductionVariants?.[0]).toMatchObject({ VariantName: 'AllTraffic', DesiredInstanceCount: 2 });
    expect(ep.AsyncInferenceConfig?.OutputConfig?.S3OutputPath).toBe('s3://bucket/from-config/out');
    const result = await waitUntilEndpointInService({ client: sm, maxWaitTime: 10, minDelay: 1 }, { EndpointName: 'from-config' });
    expect(result.state).toBe('SUCCESS');
    const list = await sm.send(new ListEndpointsCommand({ StatusEquals: 'InService' }));
    expect(list.Endpoints?.map((e) => e.EndpointName)).toEqual(['from-config']);
  });

  it('answers a missing endpoint the way the waiters expect', async () => {
    const err = await error(sm.send(new DescribeEndpointCommand({ EndpointName: 'nope' })));
    expect(err.name).toBe('ValidationException');
    expect(err.message).toBe('Could not find endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/nope".');
  });
});

describe('protocol', () => {
  it('answers an unknown operation and bad JSON in the AWS shape', async () => {
    const unknown = await signedFetch(server.url, { method: 'POST', headers: { 'x-amz-target': 'SageMaker.CreateTrainingJob', 'content-type': 'application/x-amz-json-1.1' }, body: '{}' });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ __type: 'UnknownOperationException' });
    const bad = await signedFetch(server.url, { method: 'POST', headers: { 'x-amz-target': 'SageMaker.ListModels' }, body: '{nope' });
    expect(await bad.json()).toMatchObject({ __type: 'SerializationException' });
  });
});

describe('persistence', () => {
  it('keeps models and endpoint configs across a restart', async () => {
    const first = await startServer({ config: { endpoints: [] }, waitForReady: false });
    const a = client(first.url);
    await a.send(new CreateModelCommand({ ModelName: 'kept', PrimaryContainer: { Image: 'x:1' } }));
    await a.send(new CreateEndpointConfigCommand({ EndpointConfigName: 'kept-cfg', ProductionVariants: [{ VariantName: 'v', ModelName: 'kept', InitialInstanceCount: 1 }] }));
    expect(await first.stop()).toBe(0);
    const second = await startServer({ config: { endpoints: [] }, dataDir: first.dataDir, waitForReady: false });
    try {
      const b = client(second.url);
      expect((await b.send(new DescribeModelCommand({ ModelName: 'kept' }))).PrimaryContainer?.Image).toBe('x:1');
      expect((await b.send(new DescribeEndpointConfigCommand({ EndpointConfigName: 'kept-cfg' }))).ProductionVariants?.[0]?.ModelName).toBe('kept');
    } finally {
      await second.stop();
    }
  });
});

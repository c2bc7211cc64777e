/**
 * Issue 13, findings 8, 1 (API side) and 2 (API side): what an authenticated caller sends to the
 * control plane is checked before anything runs. Operation names come from an own-property map
 * (no `constructor`), every input is of its SageMaker shape (400, never 500, nothing stored),
 * CreateModel's Environment cannot load code into the model unless the operator allowed it, and
 * instance counts stop at the configured limits.
 */
import {
  CreateEndpointCommand, CreateEndpointConfigCommand, CreateModelCommand, DescribeEndpointConfigCommand, DescribeModelCommand,
  ListModelsCommand, SageMakerClient, SageMakerServiceException, UpdateEndpointWeightsAndCapacitiesCommand,
} from '@aws-sdk/client-sagemaker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTROL_MODEL, controlEndpoint, startServer, type ServerProcess } from '../support/server.js';
import { TEST_CREDENTIALS, signedFetch } from '../support/signing.js';

let server: ServerProcess;
let sm: SageMakerClient;

const ASYNC = { OutputConfig: { S3OutputPath: 's3://bucket/out' } };

beforeAll(async () => {
  server = await startServer({
    config: {
      endpoints: [controlEndpoint('from-config')],
      images: {
        'control:1': { command: [process.execPath, CONTROL_MODEL] },
        'trusted:1': { command: [process.execPath, CONTROL_MODEL], allowedEnvironment: ['NODE_OPTIONS', 'LD_LIBRARY_PATH', 'PYTHONPATH'] },
      },
    },
  });
  sm = new SageMakerClient({ endpoint: server.url, region: 'us-east-1', maxAttempts: 1, credentials: TEST_CREDENTIALS });
  await sm.send(new CreateModelCommand({ ModelName: 'base', PrimaryContainer: { Image: 'control:1' } }));
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

async function call(operation: string, body: unknown): Promise<{ status: number; json: Record<string, unknown>; text: string }> {
  const res = await signedFetch(server.url, {
    method: 'POST', headers: { 'x-amz-target': `SageMaker.${operation}`, 'content-type': 'application/x-amz-json-1.1' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Asserted by the caller.
  }
  return { status: res.status, json, text };
}

async function error(promise: Promise<unknown>): Promise<SageMakerServiceException> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(SageMakerServiceException);
  return err as SageMakerServiceException;
}

async function stillServing(): Promise<void> {
  const models = await sm.send(new ListModelsCommand({}));
  expect(models.Models?.map((m) => m.ModelName)).toContain('base');
}

describe('operation names are looked up in an own-property map', () => {
  for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
    it(`SageMaker.${name} is an unknown operation and shows nothing of the server`, async () => {
      const { status, json, text } = await call(name, {});
      expect(status).toBe(400);
      expect(json.__type).toBe('UnknownOperationException');
      expect(Object.keys(json).sort()).toEqual(['__type', 'message']);
      for (const secret of ['configuredEndpoints', 'accountId', 'catalog', 'deployer', 's3://bucket', 'from-config']) expect(text).not.toContain(secret);
      await stillServing();
    });
  }
});

describe('every input is of its shape: 400 naming the member, never 500, nothing stored', () => {
  const cases: [string, string, Record<string, unknown>, string, () => Promise<unknown>][] = [
    ['Containers: "x"', 'CreateModel', { ModelName: 'm-containers-string', Containers: 'x' }, "'containers'",
      () => sm.send(new DescribeModelCommand({ ModelName: 'm-containers-string' }))],
    ['Containers: [null]', 'CreateModel', { ModelName: 'm-containers-null', Containers: [null] }, "'containers.1.member'",
      () => sm.send(new DescribeModelCommand({ ModelName: 'm-containers-null' }))],
    ['PrimaryContainer: "ctl:1"', 'CreateModel', { ModelName: 'm-primary-string', PrimaryContainer: 'ctl:1' }, "'primaryContainer'",
      () => sm.send(new DescribeModelCommand({ ModelName: 'm-primary-string' }))],
    ['ProductionVariants: [null]', 'CreateEndpointConfig', { EndpointConfigName: 'c-variants-null', ProductionVariants: [null] }, "'productionVariants.1.member'",
      () => sm.send(new DescribeEndpointConfigCommand({ EndpointConfigName: 'c-variants-null' }))],
    ['IncludeInferenceResponseIn: "x"', 'CreateEndpointConfig', {
      EndpointConfigName: 'c-include-string',
      ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: 'base', InitialInstanceCount: 1 }],
      AsyncInferenceConfig: { OutputConfig: { S3OutputPath: 's3://bucket/out', NotificationConfig: { IncludeInferenceResponseIn: 'x' } } },
    }, "'asyncInferenceConfig.outputConfig.notificationConfig.includeInferenceResponseIn'",
    () => sm.send(new DescribeEndpointConfigCommand({ EndpointConfigName: 'c-include-string' }))],
    ['DesiredWeightsAndCapacities: [null]', 'UpdateEndpointWeightsAndCapacities', { EndpointName: 'from-config', DesiredWeightsAndCapacities: [null] }, "'desiredWeightsAndCapacities.1.member'",
      async () => {
        const described = await call('DescribeEndpoint', { EndpointName: 'from-config' });
        expect(described.json.ProductionVariants).toMatchObject([{ DesiredInstanceCount: 1 }]);
        throw new Error('unchanged');
      }],
  ];
  for (const [title, operation, body, member, notStored] of cases) {
    it(title, async () => {
      const { status, json } = await call(operation, body);
      expect(status).toBe(400);
      expect(['SerializationException', 'ValidationException']).toContain(json.__type);
      expect(json.message).toContain(member);
      await expect(notStored()).rejects.toThrow();
      await stillServing();
    });
  }

  it('a wrong JSON type is a SerializationException, a broken constraint a ValidationException', async () => {
    const typed = await call('CreateModel', { ModelName: 'm-typed', PrimaryContainer: 'ctl:1' });
    expect(typed.json).toEqual({ __type: 'SerializationException', message: "1 serialization error detected: Value at 'primaryContainer' must be a JSON object (structure), not a string" });
    const nulled = await call('CreateModel', { ModelName: 'm-nulled', Containers: [null] });
    expect(nulled.json).toEqual({ __type: 'ValidationException', message: "1 validation error detected: Value null at 'containers.1.member' failed to satisfy constraint: Member must not be null" });
  });

  it('a body over the control plane\'s 1 MiB limit gets the control plane\'s error shape', async () => {
    const { status, json } = await call('CreateModel', JSON.stringify({ ModelName: 'big', Tags: [{ Key: 'k', Value: 'v'.repeat(2 * 1024 * 1024) }] }));
    expect(status).toBe(400);
    expect(json.__type).toBe('ValidationException');
    expect(json.message).toContain("Value at 'body' failed to satisfy constraint: Member must have length less than or equal to 1048576");
    await stillServing();
  });
});

describe('CreateModel refuses environment variables that load code', () => {
  for (const [name, value] of [['NODE_OPTIONS', '--import=data:text/javascript,process.exit(7)'], ['LD_PRELOAD', '/tmp/evil.so'], ['PYTHONSTARTUP', '/tmp/evil.py']] as const) {
    it(`refuses ${name}, naming it, and stores nothing`, async () => {
      const modelName = `env-${name.toLowerCase().replace(/_/g, '-')}`;
      const err = await error(sm.send(new CreateModelCommand({ ModelName: modelName, PrimaryContainer: { Image: 'control:1', Environment: { THREADS: '2', [name]: value } } })));
      expect(err.name).toBe('ValidationException');
      expect(err.message).toContain("'primaryContainer.environment'");
      expect(err.message).toContain(name);
      expect(err.message).not.toContain('THREADS');
      await expect(sm.send(new DescribeModelCommand({ ModelName: modelName }))).rejects.toThrow(/Could not find model/);
    });
  }

  it('refuses them in Containers too, and for an Image without an images entry', async () => {
    const err = await error(sm.send(new CreateModelCommand({ ModelName: 'env-containers', Containers: [{ Image: 'http://127.0.0.1:1', Environment: { LD_AUDIT: 'x', PATH: '/tmp' } }] })));
    expect(err.message).toContain("'containers.1.member.environment'");
    expect(err.message).toContain('LD_AUDIT, PATH');
  });

  it('accepts them when the images entry for that Image allows them', async () => {
    await sm.send(new CreateModelCommand({ ModelName: 'env-allowed', PrimaryContainer: { Image: 'trusted:1', Environment: { NODE_OPTIONS: '--max-old-space-size=64', LD_LIBRARY_PATH: '/opt/lib', PYTHONPATH: '/opt/py' } } }));
    const described = await sm.send(new DescribeModelCommand({ ModelName: 'env-allowed' }));
    expect(described.PrimaryContainer?.Environment).toEqual({ NODE_OPTIONS: '--max-old-space-size=64', LD_LIBRARY_PATH: '/opt/lib', PYTHONPATH: '/opt/py' });
    // Allowed for that image only, and only the names listed.
    const other = await error(sm.send(new CreateModelCommand({ ModelName: 'env-allowed-other', PrimaryContainer: { Image: 'control:1', Environment: { NODE_OPTIONS: '--max-old-space-size=64' } } })));
    expect(other.message).toContain('NODE_OPTIONS');
    const unlisted = await error(sm.send(new CreateModelCommand({ ModelName: 'env-allowed-unlisted', PrimaryContainer: { Image: 'trusted:1', Environment: { LD_PRELOAD: '/tmp/evil.so' } } })));
    expect(unlisted.message).toContain('LD_PRELOAD');
  });
});

describe('instance counts stop at the configured limits', () => {
  it('InitialInstanceCount 2^53: a ValidationException naming the limit, answered fast', async () => {
    const started = Date.now();
    const err = await error(sm.send(new CreateEndpointConfigCommand({
      EndpointConfigName: 'huge', ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: 'base', InitialInstanceCount: 2 ** 53 }], AsyncInferenceConfig: ASYNC,
    })));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(err.name).toBe('ValidationException');
    expect(err.message).toContain("Value '9007199254740992' at 'productionVariants.1.member.initialInstanceCount' failed to satisfy constraint: Member must have value less than or equal to 64");
    expect(err.message).toContain('limits.instancesPerEndpoint');
    await expect(sm.send(new DescribeEndpointConfigCommand({ EndpointConfigName: 'huge' }))).rejects.toThrow(/Could not find/);
    await stillServing();
  });

  it('DesiredInstanceCount 1e9: a ValidationException naming the limit, answered fast', async () => {
    const started = Date.now();
    const err = await error(sm.send(new UpdateEndpointWeightsAndCapacitiesCommand({
      EndpointName: 'from-config', DesiredWeightsAndCapacities: [{ VariantName: 'AllTraffic', DesiredInstanceCount: 1e9 }],
    })));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(err.name).toBe('ValidationException');
    expect(err.message).toContain("Value '1000000000' at 'desiredWeightsAndCapacities.1.member.desiredInstanceCount' failed to satisfy constraint: Member must have value less than or equal to 64");
    const described = await call('DescribeEndpoint', { EndpointName: 'from-config' });
    expect(described.json.ProductionVariants).toMatchObject([{ DesiredInstanceCount: 1 }]);
    await stillServing();
  });
});

describe('the per-server limit', () => {
  let small: ServerProcess;
  afterAll(async () => {
    await small?.stop();
  });

  it('counts config endpoints and API-created ones, and names the limit', async () => {
    small = await startServer({
      config: {
        endpoints: [controlEndpoint('fixed', { instances: { initial: 1, min: 0, max: 3 } })],
        images: { 'control:1': { command: [process.execPath, CONTROL_MODEL] } },
        limits: { instancesPerEndpoint: 4, instancesPerServer: 5 },
      },
    });
    const client = new SageMakerClient({ endpoint: small.url, region: 'us-east-1', maxAttempts: 1, credentials: TEST_CREDENTIALS });
    await client.send(new CreateModelCommand({ ModelName: 'm', PrimaryContainer: { Image: 'control:1' } }));
    await client.send(new CreateEndpointConfigCommand({ EndpointConfigName: 'three', ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: 'm', InitialInstanceCount: 3 }], AsyncInferenceConfig: ASYNC }));
    // 3 (fixed's max) + 3 > 5.
    const err = await error(client.send(new CreateEndpointCommand({ EndpointName: 'api', EndpointConfigName: 'three' })));
    expect(err.name).toBe('ValidationException');
    expect(err.message).toContain('Member must have value less than or equal to 2');
    expect(err.message).toContain('limits.instancesPerServer');
    const pin = await error(client.send(new UpdateEndpointWeightsAndCapacitiesCommand({ EndpointName: 'fixed', DesiredWeightsAndCapacities: [{ VariantName: 'AllTraffic', DesiredInstanceCount: 5 }] })));
    expect(pin.message).toContain("Value '5' at 'desiredWeightsAndCapacities.1.member.desiredInstanceCount' failed to satisfy constraint: Member must have value less than or equal to 4");
    await client.send(new UpdateEndpointWeightsAndCapacitiesCommand({ EndpointName: 'fixed', DesiredWeightsAndCapacities: [{ VariantName: 'AllTraffic', DesiredInstanceCount: 0 }] }));
  });
});

/**
 * Beyond one machine, on one machine: two gateways and two workers sharing a real redis-server
 * (AOF, appendfsync always) and a real S3-protocol server (s3rver). Work spreads over both
 * workers; every gateway answers the same; a worker killed with kill -9 mid-run loses nothing; and
 * with Redis down the gateways answer 503 ServiceUnavailable (nothing accepted that was not
 * stored), then everything recovers and every 202'd invocation completes.
 */
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import {
  CreateEndpointCommand, CreateEndpointConfigCommand, CreateModelCommand, DeleteEndpointCommand, DescribeEndpointCommand, SageMakerClient,
  UpdateEndpointCommand, UpdateEndpointWeightsAndCapacitiesCommand, waitUntilEndpointDeleted, waitUntilEndpointInService,
} from '@aws-sdk/client-sagemaker';
import { InvokeEndpointAsyncCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrape, scrapeUntil } from './support/metrics.js';
import { startRedisServer, type RedisServer } from './support/redis-server.js';
import { startS3Server, type S3Server } from './support/s3-server.js';
import { CLI, CONTROL_MODEL, controlEndpoint, isAlive, runCommand, startServer, tempDir, waitFor, type ServerProcess } from './support/server.js';
import { TEST_CREDENTIALS } from './support/signing.js';

const BUCKET = 'dist';
let redis: RedisServer;
let s3: S3Server;
const gateways: ServerProcess[] = [];
const workers: ServerProcess[] = [];
/** Model processes started by the workers, to clean up after a kill -9 left some behind. */
const modelPids = new Set<number>();

function config(): Record<string, unknown> {
  return {
    queue: { type: 'redis', url: redis.url },
    storage: { type: 's3', endpoint: s3.url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
    leaseDuration: '2s',
    autoscaling: { interval: '200ms' },
    shutdownGraceSeconds: 5,
    images: { 'control:1': { command: [process.execPath, CONTROL_MODEL] } },
    endpoints: [controlEndpoint('ep', {
      instances: { initial: 2 },
      asyncInferenceConfig: {
        OutputConfig: { S3OutputPath: `s3://${BUCKET}/out`, S3FailurePath: `s3://${BUCKET}/fail` },
        ClientConfig: { MaxConcurrentInvocationsPerInstance: 2 },
      },
    }), controlEndpoint('auto', {
      instances: { initial: 0, min: 0, max: 3, targetBacklogPerInstance: 2, scaleOutCooldown: '0s', scaleInCooldown: '1s', idleBeforeZero: '1s' },
      asyncInferenceConfig: {
        OutputConfig: { S3OutputPath: `s3://${BUCKET}/auto`, S3FailurePath: `s3://${BUCKET}/fail` },
        ClientConfig: { MaxConcurrentInvocationsPerInstance: 2 },
      },
    })],
  };
}

const startWorker = async () => {
  const w = await startServer({ config: config(), args: ['--role', 'worker'] });
  workers.push(w);
  return w;
};

beforeAll(async () => {
  [redis, s3] = await Promise.all([startRedisServer(), startS3Server({ buckets: [BUCKET] })]);
  await startWorker();
  await startWorker();
  for (let i = 0; i < 2; i++) gateways.push(await startServer({ config: config(), args: ['--role', 'gateway'], waitForReady: false }));
  // The fleet shares the endpoint's 2 instances out: one per worker.
  await waitFor(() => workers.every((w) => readyInstances(w) === 1), 20_000, 'one ready instance on each worker');
}, 90_000);

afterAll(async () => {
  for (const p of [...gateways, ...workers]) await p.stop();
  for (const pid of modelPids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  await s3?.close();
  await redis?.stop();
}, 60_000);

/** Ready minus lost instances of a worker, from its log. */
function readyInstances(w: ServerProcess): number {
  for (const l of w.logs) if (l.msg === 'model instance starting' && typeof l.pid === 'number') modelPids.add(l.pid);
  const ready = new Set(w.logs.filter((l) => l.msg === 'model instance ready').map((l) => l.instance));
  for (const l of w.logs) if (l.msg === 'model instance draining' || l.msg === 'model instance stopped' || l.msg === 'model instance lost; replacing it') ready.delete(l.instance);
  return ready.size;
}

const runtime = (g: ServerProcess) => new SageMakerRuntimeClient({ endpoint: g.url, region: 'us-east-1', maxAttempts: 1, credentials: TEST_CREDENTIALS });
const invoke = (g: ServerProcess, body: object, attrs = 'sleep_ms=100', endpoint = 'ep') => runtime(g).send(new InvokeEndpointAsyncCommand({
  EndpointName: endpoint, Body: Buffer.from(JSON.stringify(body)), ContentType: 'application/json', CustomAttributes: attrs,
}));

async function output(uri: string, timeoutMs = 30_000): Promise<{ pid: number; bodyBase64: string }> {
  const key = uri.replace(`s3://${BUCKET}/`, '');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      return JSON.parse(await res.Body!.transformToString()) as { pid: number; bodyBase64: string };
    } catch (err) {
      // s3rver shows an object while its PUT is still streaming in (AWS S3 does not): read it again.
      const notYet = (err as Error).name === 'NoSuchKey' || err instanceof SyntaxError;
      if (!notYet || Date.now() > deadline) throw new Error(`no output ${uri}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function failures(): Promise<number> {
  const res = await s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'fail/' }));
  return res.KeyCount ?? 0;
}

/** Which worker ran a model process. */
const workerOf = (pid: number) => workers.findIndex((w) => w.logs.some((l) => l.msg === 'model instance starting' && l.pid === pid));

describe('two gateways, two workers, one Redis', () => {
  it('spreads work over both workers, and every gateway answers the same', async () => {
    const accepted = await Promise.all(Array.from({ length: 40 }, (_, i) => invoke(gateways[i % 2]!, { i })));
    const answers = await Promise.all(accepted.map((a) => output(a.OutputLocation!)));
    const ranOn = new Set(answers.map((a) => workerOf(a.pid)));
    expect([...ranOn].sort()).toEqual([0, 1]);
    expect(answers.map((a) => JSON.parse(Buffer.from(a.bodyBase64, 'base64').toString()).i).sort((x: number, y: number) => x - y)).toEqual([...Array(40).keys()]);

    const describe = async (g: ServerProcess) => {
      const sm = new SageMakerClient({ endpoint: g.url, region: 'us-east-1', credentials: TEST_CREDENTIALS });
      const out = await sm.send(new DescribeEndpointCommand({ EndpointName: 'ep' }));
      return { status: out.EndpointStatus, variants: out.ProductionVariants, config: out.AsyncInferenceConfig };
    };
    const [one, two] = await Promise.all(gateways.map(describe));
    expect(one).toEqual(two);
    expect(one!.variants?.[0]).toMatchObject({ CurrentInstanceCount: 2, DesiredInstanceCount: 2 });
    expect(await failures()).toBe(0);
  }, 60_000);

  it('scales an endpoint over both workers from the shared backlog, never past its max together, and back to zero', async () => {
    const AUTO = { endpoint: 'auto', variant: 'AllTraffic' };
    let watching = true;
    let maxLive = 0;
    let maxReady = 0;
    // A gateway reports the fleet's instances: every worker's, summed.
    const watcher = (async () => {
      while (watching) {
        const m = await scrape(gateways[0]!.url);
        const live = ['starting', 'ready', 'draining'].reduce((n, state) => n + (m('asyncinfer_instances', { ...AUTO, state }) ?? 0), 0);
        maxLive = Math.max(maxLive, live);
        maxReady = Math.max(maxReady, m('asyncinfer_instances', { ...AUTO, state: 'ready' }) ?? 0);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const accepted = await Promise.all(Array.from({ length: 30 }, (_, i) => invoke(gateways[i % 2]!, { i }, 'sleep_ms=400', 'auto')));
    const answers = await Promise.all(accepted.map((a) => output(a.OutputLocation!)));
    expect(new Set(answers.map((a) => workerOf(a.pid)))).toEqual(new Set([0, 1]));
    await scrapeUntil(gateways[1]!.url, (m) => m('asyncinfer_desired_instances', AUTO) === 0
      && ['starting', 'ready', 'draining'].every((state) => m('asyncinfer_instances', { ...AUTO, state }) === 0), 'the fleet back at zero', 30_000);
    watching = false;
    await watcher;
    expect(maxReady).toBe(3);
    expect(maxLive).toBeLessThanOrEqual(3);
  }, 60_000);

  it('runs an endpoint created through one gateway on both workers, and every gateway sees and changes the same endpoint', async () => {
    const sm = gateways.map((g) => new SageMakerClient({ endpoint: g.url, region: 'us-east-1', credentials: TEST_CREDENTIALS }));
    await sm[0]!.send(new CreateModelCommand({ ModelName: 'api-model', PrimaryContainer: { Image: 'control:1' } }));
    await sm[1]!.send(new CreateEndpointConfigCommand({
      EndpointConfigName: 'api-config',
      ProductionVariants: [{ VariantName: 'v1', ModelName: 'api-model', InitialInstanceCount: 2 }],
      AsyncInferenceConfig: { OutputConfig: { S3OutputPath: `s3://${BUCKET}/api` }, ClientConfig: { MaxConcurrentInvocationsPerInstance: 1 } },
    }));
    await sm[0]!.send(new CreateEndpointCommand({ EndpointName: 'api', EndpointConfigName: 'api-config' }));
    await waitUntilEndpointInService({ client: sm[1]!, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { EndpointName: 'api' });
    const [one, two] = await Promise.all(sm.map((c) => c.send(new DescribeEndpointCommand({ EndpointName: 'api' }))));
    expect(one!.ProductionVariants).toEqual(two!.ProductionVariants);
    expect(one!.ProductionVariants?.[0]).toMatchObject({ VariantName: 'v1', CurrentInstanceCount: 2, DesiredInstanceCount: 2 });

    const accepted = await Promise.all(Array.from({ length: 12 }, (_, i) => invoke(gateways[i % 2]!, { i }, 'sleep_ms=200', 'api')));
    const answers = await Promise.all(accepted.map((a) => output(a.OutputLocation!)));
    expect(new Set(answers.map((a) => workerOf(a.pid)))).toEqual(new Set([0, 1]));

    // A new configuration rolls out on both workers.
    await sm[0]!.send(new CreateModelCommand({ ModelName: 'api-model-2', PrimaryContainer: { Image: 'control:1', Environment: { MODEL_VERSION: '2' } } }));
    await sm[0]!.send(new CreateEndpointConfigCommand({
      EndpointConfigName: 'api-config-2',
      ProductionVariants: [{ VariantName: 'v1', ModelName: 'api-model-2', InitialInstanceCount: 2 }],
      AsyncInferenceConfig: { OutputConfig: { S3OutputPath: `s3://${BUCKET}/api` }, ClientConfig: { MaxConcurrentInvocationsPerInstance: 1 } },
    }));
    await sm[1]!.send(new UpdateEndpointCommand({ EndpointName: 'api', EndpointConfigName: 'api-config-2' }));
    await waitUntilEndpointInService({ client: sm[0]!, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { EndpointName: 'api' });
    expect((await sm[0]!.send(new DescribeEndpointCommand({ EndpointName: 'api' }))).EndpointConfigName).toBe('api-config-2');
    const after = await Promise.all(Array.from({ length: 4 }, (_, i) => invoke(gateways[i % 2]!, { i }, 'sleep_ms=1', 'api')));
    for (const a of after) expect((await output(a.OutputLocation!) as { version?: string }).version).toBe('2');

    // Scaled to zero through the other gateway: no instance anywhere, then deleted everywhere.
    await sm[1]!.send(new UpdateEndpointWeightsAndCapacitiesCommand({ EndpointName: 'api', DesiredWeightsAndCapacities: [{ VariantName: 'v1', DesiredInstanceCount: 0 }] }));
    await waitUntilEndpointInService({ client: sm[0]!, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { EndpointName: 'api' });
    await waitFor(async () => (await sm[0]!.send(new DescribeEndpointCommand({ EndpointName: 'api' }))).ProductionVariants?.[0]?.CurrentInstanceCount === 0, 15_000, 'no api instance left');
    await sm[0]!.send(new DeleteEndpointCommand({ EndpointName: 'api' }));
    await waitUntilEndpointDeleted({ client: sm[1]!, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { EndpointName: 'api' });
    await waitFor(() => workers.every((w) => w.logs.some((l) => l.msg === 'endpoint undeployed' && l.endpoint === 'api')), 10_000, 'every worker to stop the endpoint');
  }, 90_000);

  it('shares the keys made with asyncinfer keys through Redis: every gateway accepts a new key, and refuses it once deleted', async () => {
    const keys = (...args: string[]) => runCommand(process.execPath, [CLI, 'keys', ...args, '--redis-url', redis.url, '--data-dir', tempDir()]);
    const created = await keys('create', '--description', 'fleet key');
    expect(created.code).toBe(0);
    const { AccessKey } = JSON.parse(created.stdout) as { AccessKey: { AccessKeyId: string; SecretAccessKey: string } };
    const key = { accessKeyId: AccessKey.AccessKeyId, secretAccessKey: AccessKey.SecretAccessKey };
    const via = (g: ServerProcess) => new SageMakerRuntimeClient({ endpoint: g.url, region: 'us-east-1', maxAttempts: 1, credentials: key })
      .send(new InvokeEndpointAsyncCommand({ EndpointName: 'ep', Body: Buffer.from('{"key":"shared"}') })).then(() => 'accepted', (err: unknown) => (err as Error).name);
    for (const g of gateways) await waitFor(async () => (await via(g)) === 'accepted', 5000, `gateway ${g.url} to accept the new key`);
    expect((await keys('delete', '--access-key-id', key.accessKeyId)).code).toBe(0);
    for (const g of gateways) await waitFor(async () => (await via(g)) === 'UnrecognizedClientException', 5000, `gateway ${g.url} to refuse the deleted key`);
  });

  it('loses nothing when a worker is killed with kill -9 mid-run: its leases run out and the other worker takes over', async () => {
    const victim = workers[0]!;
    const sent = Promise.all(Array.from({ length: 40 }, (_, i) => invoke(gateways[i % 2]!, { i }, 'sleep_ms=300')));
    const accepted = (await sent).map((a) => a.OutputLocation!);
    // Kill it while it is running invocations: both workers are busy for about 3 s with these 40.
    await new Promise((r) => setTimeout(r, 500));
    victim.child.kill('SIGKILL');
    await victim.exited;

    // The survivor takes the fleet's whole count once the victim's heartbeat expires, and runs everything.
    await waitFor(() => readyInstances(workers[1]!) === 2, 20_000, 'the surviving worker at 2 instances');
    const answers = await Promise.all(accepted.map((uri) => output(uri, 60_000)));
    expect(answers).toHaveLength(accepted.length);
    expect(await failures()).toBe(0);
    expect(workers[1]!.logs.some((l) => l.msg === 'returned invocations whose lease ran out to the queue')).toBe(true);
    workers.shift();
  }, 120_000);

  it('answers 503 ServiceUnavailable while Redis is down, accepts nothing it could not store, and recovers', async () => {
    const accepted: string[] = [];
    const refused: { status: number | undefined; name: string; message: string }[] = [];
    let stop = false;
    const senders = gateways.map(async (g, n) => {
      for (let i = 0; !stop; i++) {
        try {
          accepted.push((await invoke(g, { n, i }, 'sleep_ms=20')).OutputLocation!);
        } catch (err) {
          const e = err as Error & { $metadata?: { httpStatusCode?: number } };
          refused.push({ status: e.$metadata?.httpStatusCode, name: e.name, message: e.message });
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    });
    await waitFor(() => accepted.length >= 10, 20_000, 'load');
    await redis.kill9();
    await waitFor(() => refused.length >= 10, 20_000, 'refusals while Redis is down');
    const acceptedWhileDown = accepted.length;
    await redis.restart();
    await waitFor(() => accepted.length >= acceptedWhileDown + 20, 30_000, 'requests accepted again');
    stop = true;
    await Promise.all(senders);

    expect(refused.every((r) => r.status === 503 && r.name === 'ServiceUnavailable')).toBe(true);
    expect(refused[0]!.message).toMatch(/Redis|queue/i);
    // Every 202 ends with its output: nothing acknowledged was lost, whichever gateway took it.
    const answers = await Promise.all(accepted.map((uri) => output(uri, 60_000)));
    expect(answers).toHaveLength(accepted.length);
    expect(await failures()).toBe(0);
  }, 120_000);
});

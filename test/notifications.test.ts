/**
 * Notifications end to end: the real server (CLI), a webhook receiver and an SNS stand-in run by
 * this test. Checks the exact SageMaker event JSON, Standard Webhooks signatures (verified with the
 * `standardwebhooks` package), retries with backoff, redirects and timeouts as failures, give-up
 * with its metric and admin listing, replay through the CLI, a kill -9 between outcome and
 * delivery, and TestNotification on CreateEndpoint.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import path from 'node:path';
import {
  CreateEndpointCommand, CreateEndpointConfigCommand, CreateModelCommand, SageMakerClient, UpdateEndpointWeightsAndCapacitiesCommand, waitUntilEndpointInService,
} from '@aws-sdk/client-sagemaker';
import { InvokeEndpointAsyncCommand, type InvokeEndpointAsyncCommandInput } from '@aws-sdk/client-sagemaker-runtime';
import Database from 'better-sqlite3';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, CONTROL_MODEL, runCommand, startServer, tempDir, waitFor, waitForObject, type ServerProcess } from './support/server.js';
import { startSnsStandIn, startWebhookReceiver, type Received, type WebhookReceiver } from './support/receivers.js';
import { AWS_CLI_ENV, TEST_CREDENTIALS, signedFetch } from './support/signing.js';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const RESPONSE_MESSAGE = 'Check S3 path location(if configured) or Cloudwatch for additional details.';
const TEST_NOTIFICATION = '{"eventVersion":"1.0","eventSource":"aws:sagemaker","eventName":"TestNotification"}';
/** The admin CLI signs like the AWS CLI: credentials from the environment. */
const CLI_ENV = { ...process.env, ...AWS_CLI_ENV };
const CREDENTIALS = { accessKeyId: 'AKIDSTANDIN', secretAccessKey: 'stand-in-secret' };
const arn = (name: string, region = 'us-east-1') => `arn:aws:sns:${region}:123456789012:${name}`;
const TOPIC = {
  ok: arn('ok'), err: arn('err'), flaky: arn('flaky'), redirect: arn('redirect'), hang: arn('hang'), giveup: arn('giveup'),
  sns: arn('sns-results', 'eu-west-1'), snsFifo: arn('sns-errors.fifo', 'us-west-2'), testA: arn('test-a'), testB: arn('test-b'),
  crashOk: arn('crash-ok'), crashErr: arn('crash-err'),
};
const FAST = { maxAttempts: 4, initialBackoff: '50ms', maxBackoff: '200ms', timeout: '500ms' };

type Event = Record<string, unknown> & { inferenceId?: string; eventName: string };
interface AdminEntry {
  id: string; state: string; attempts: number; endpointName: string; topicArn: string; event: Event; lastError?: string;
  history: { target: string; ok: boolean; status?: number; error?: string; latencyMs: number; at: string }[];
}

let model: ChildProcess;
let modelUrl: string;
let receiver: WebhookReceiver;
let sns: Awaited<ReturnType<typeof startSnsStandIn>>;
let server: ServerProcess;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

async function startModel(): Promise<void> {
  const port = await freePort();
  model = spawn(process.execPath, [CONTROL_MODEL], { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' });
  modelUrl = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${modelUrl}/ping`).catch(() => undefined))?.status === 200, 10_000, 'the control model');
}

/** An endpoint on the shared control model, its outputs in s3://bucket/<name>/. */
function endpoint(name: string, notification: Record<string, unknown>, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name, model: { url: modelUrl },
    asyncInferenceConfig: { OutputConfig: { S3OutputPath: `s3://bucket/${name}/out`, S3FailurePath: `s3://bucket/${name}/fail`, NotificationConfig: notification } },
    ...overrides,
  };
}

const webhook = (p: string, extra: Record<string, unknown> = {}) => [{ webhook: `${receiver.url}${p}`, ...extra }];

function mainConfig(): Record<string, unknown> {
  return {
    notifications: FAST,
    // CreateModel names the control model by its URL: the operator lists it for the outbound policy.
    outbound: { allow: [new URL(modelUrl).host] },
    topics: {
      [TOPIC.ok]: webhook('/ok', { secret: SECRET, headers: { Authorization: 'Bearer let-me-in' } }),
      [TOPIC.err]: webhook('/err', { secret: SECRET }),
      [TOPIC.flaky]: webhook('/flaky'),
      [TOPIC.redirect]: webhook('/redirect'),
      [TOPIC.hang]: webhook('/hang'),
      [TOPIC.giveup]: webhook('/giveup'),
      [TOPIC.sns]: [{ sns: { endpoint: sns.url, credentials: CREDENTIALS } }],
      [TOPIC.snsFifo]: [{ sns: { endpoint: sns.url, region: 'ap-south-1', credentials: CREDENTIALS } }],
      [TOPIC.testA]: webhook('/tests'),
      [TOPIC.testB]: webhook('/tests'),
    },
    endpoints: [
      endpoint('main-ep', { SuccessTopic: TOPIC.ok, ErrorTopic: TOPIC.err, IncludeInferenceResponseIn: ['SUCCESS_NOTIFICATION_TOPIC', 'ERROR_NOTIFICATION_TOPIC'] }),
      // No instances: what is queued there stays queued until it expires.
      { ...endpoint('expiry-ep', { ErrorTopic: TOPIC.err }), model: { command: [process.execPath, CONTROL_MODEL] }, instances: { initial: 0 } },
      endpoint('flaky-ep', { SuccessTopic: TOPIC.flaky }),
      endpoint('redirect-ep', { SuccessTopic: TOPIC.redirect }),
      endpoint('hang-ep', { SuccessTopic: TOPIC.hang }),
      endpoint('giveup-ep', { SuccessTopic: TOPIC.giveup }),
      endpoint('sns-ep', { SuccessTopic: TOPIC.sns, ErrorTopic: TOPIC.snsFifo }),
    ],
  };
}

async function invoke(s: ServerProcess, input: Partial<InvokeEndpointAsyncCommandInput> & { EndpointName: string }) {
  return s.client.send(new InvokeEndpointAsyncCommand({ Body: Buffer.from('{"x":1}'), ContentType: 'application/json', ...input }));
}

const event = (r: Received) => JSON.parse(r.body) as Event;

/** Waits for a request at `p` whose event is about `inferenceId`, and returns it. */
async function receivedFor(p: string, inferenceId: string, timeoutMs = 10_000): Promise<Received> {
  let found: Received | undefined;
  await waitFor(() => (found = receiver.at(p).find((r) => event(r).inferenceId === inferenceId)) !== undefined, timeoutMs, `an event for ${inferenceId} at ${p}`);
  return found!;
}

async function admin(s: ServerProcess, query: string): Promise<AdminEntry[]> {
  const res = await signedFetch(`${s.url}/admin/notifications?${query}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { notifications: AdminEntry[] }).notifications;
}

async function entryFor(s: ServerProcess, endpointName: string, inferenceId: string, until: (e: AdminEntry) => boolean, what: string): Promise<AdminEntry> {
  let found: AdminEntry | undefined;
  await waitFor(async () => {
    found = (await admin(s, `endpoint=${endpointName}&limit=1000`)).find((e) => e.event.inferenceId === inferenceId);
    return found !== undefined && until(found);
  }, 10_000, what);
  return found!;
}

beforeAll(async () => {
  await startModel();
  receiver = await startWebhookReceiver();
  sns = await startSnsStandIn();
  server = await startServer({ config: mainConfig() });
});

afterAll(async () => {
  await server?.stop();
  await receiver?.close();
  await sns?.close();
  model?.kill();
});

describe('InferenceResult events to webhooks', () => {
  it('success: the exact event, with the response inlined, signed per Standard Webhooks', async () => {
    const res = await invoke(server, { EndpointName: 'main-ep', Accept: 'application/json' });
    const req = await receivedFor('/ok', res.InferenceId!);
    const output = await waitForObject(server.dataDir, res.OutputLocation!);
    const got = event(req);
    expect(Object.keys(got)).toEqual([
      'awsRegion', 'eventTime', 'receivedTime', 'invocationStatus', 'requestParameters', 'responseParameters', 'responseBody',
      'inferenceId', 'eventVersion', 'eventSource', 'eventName',
    ]);
    expect(got).toEqual({
      awsRegion: 'us-east-1', eventTime: expect.stringMatching(ISO_MS), receivedTime: expect.stringMatching(ISO_MS), invocationStatus: 'Completed',
      requestParameters: { accept: 'application/json', contentType: 'application/json', endpointName: 'main-ep' },
      responseParameters: { contentType: 'application/json', outputLocation: res.OutputLocation },
      responseBody: { content: output.toString('base64'), message: RESPONSE_MESSAGE, encoding: 'BASE64' },
      inferenceId: res.InferenceId, eventVersion: '1.0', eventSource: 'aws:sagemaker', eventName: 'InferenceResult',
    });
    expect(Object.keys(got.requestParameters as object)).toEqual(['accept', 'contentType', 'endpointName']);
    expect(Object.keys(got.responseBody as object)).toEqual(['content', 'message', 'encoding']);
    expect(Date.parse(got.eventTime as string)).toBeGreaterThanOrEqual(Date.parse(got.receivedTime as string));

    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers.authorization).toBe('Bearer let-me-in');
    expect(req.headers['webhook-id']).toMatch(/^result-[0-9a-f-]{36}$/);
    expect(Math.abs(Number(req.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    expect(req.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    const wh = new Webhook(SECRET);
    expect(wh.verify(req.body, req.headers as Record<string, string>)).toEqual(got);
    expect(() => wh.verify(req.body.replace('Completed', 'Failed'), req.headers as Record<string, string>)).toThrow();
  });

  it('model failure: Failed on the ErrorTopic with failureReason, failureLocation and the error body', async () => {
    const res = await invoke(server, { EndpointName: 'main-ep', CustomAttributes: 'status=500' });
    const req = await receivedFor('/err', res.InferenceId!);
    const failure = await waitForObject(server.dataDir, res.FailureLocation!);
    const got = event(req);
    expect(Object.keys(got)).toEqual([
      'awsRegion', 'eventTime', 'receivedTime', 'invocationStatus', 'failureReason', 'failureLocation', 'requestParameters', 'responseParameters',
      'responseBody', 'inferenceId', 'eventVersion', 'eventSource', 'eventName',
    ]);
    expect(got).toEqual({
      awsRegion: 'us-east-1', eventTime: expect.stringMatching(ISO_MS), receivedTime: expect.stringMatching(ISO_MS), invocationStatus: 'Failed',
      failureReason: `ClientError: Received server error (500) from model. See ${res.FailureLocation} for the full response.`,
      failureLocation: res.FailureLocation,
      requestParameters: { contentType: 'application/json', endpointName: 'main-ep' },
      responseParameters: { contentType: 'application/json', failureLocation: res.FailureLocation },
      responseBody: { content: failure.toString('base64'), message: RESPONSE_MESSAGE, encoding: 'BASE64' },
      inferenceId: res.InferenceId, eventVersion: '1.0', eventSource: 'aws:sagemaker', eventName: 'InferenceResult',
    });
    expect(new Webhook(SECRET).verify(req.body, req.headers as Record<string, string>)).toEqual(got);
  });

  it('expiry: Failed on the ErrorTopic, no model response', async () => {
    const res = await invoke(server, { EndpointName: 'expiry-ep', RequestTTLSeconds: 60 });
    // RequestTTLSeconds is at least 60 s: rather than wait a minute, move this invocation's expiry into the past.
    const db = new Database(path.join(server.dataDir, 'queue.db'), { fileMustExist: true });
    try {
      db.pragma('busy_timeout = 5000');
      expect(db.prepare('UPDATE invocations SET expires_at = 0 WHERE inference_id = ? AND state = ?').run(res.InferenceId, 'queued').changes).toBe(1);
    } finally {
      db.close();
    }
    const got = event(await receivedFor('/err', res.InferenceId!));
    expect(Object.keys(got)).toEqual([
      'awsRegion', 'eventTime', 'receivedTime', 'invocationStatus', 'failureReason', 'failureLocation', 'requestParameters', 'responseParameters',
      'inferenceId', 'eventVersion', 'eventSource', 'eventName',
    ]);
    expect(got).toMatchObject({
      invocationStatus: 'Failed', failureReason: expect.stringMatching(/^Request expired: it was still queued after its RequestTTLSeconds \(60 s\)/),
      failureLocation: res.FailureLocation, requestParameters: { contentType: 'application/json', endpointName: 'expiry-ep' },
      responseParameters: { failureLocation: res.FailureLocation }, inferenceId: res.InferenceId, eventName: 'InferenceResult',
    });
  });
});

describe('delivery', () => {
  it('retries with backoff until the receiver takes it: one event id, every attempt recorded', async () => {
    receiver.on('/flaky', { failTimes: 2, failStatus: 500 });
    const res = await invoke(server, { EndpointName: 'flaky-ep' });
    const entry = await entryFor(server, 'flaky-ep', res.InferenceId!, (e) => e.state === 'delivered', 'the flaky delivery');
    const requests = receiver.at('/flaky').filter((r) => event(r).inferenceId === res.InferenceId);
    expect(requests.map((r) => r.status)).toEqual([500, 500, 200]);
    expect(new Set(requests.map((r) => r.headers['webhook-id']))).toEqual(new Set([entry.id]));
    // Full jitter with initialBackoff as its floor: no retry sooner than 50 ms.
    for (let i = 1; i < requests.length; i++) expect(requests[i]!.atMs - requests[i - 1]!.atMs).toBeGreaterThanOrEqual(45);
    expect(entry.attempts).toBe(3);
    expect(entry.history.map((h) => [h.target, h.ok, h.status])).toEqual([
      [`webhook ${receiver.url}/flaky`, false, 500], [`webhook ${receiver.url}/flaky`, false, 500], [`webhook ${receiver.url}/flaky`, true, 200],
    ]);
    expect(entry.history[0]!.error).toMatch(/^HTTP 500/);
  });

  it('a redirect is a failure and is never followed', async () => {
    receiver.on('/redirect', { redirectTo: `${receiver.url}/target` });
    const res = await invoke(server, { EndpointName: 'redirect-ep' });
    const entry = await entryFor(server, 'redirect-ep', res.InferenceId!, (e) => e.state === 'failed', 'the redirected delivery to give up');
    expect(entry.history).toHaveLength(FAST.maxAttempts);
    for (const h of entry.history) {
      expect(h).toMatchObject({ ok: false, status: 302 });
      expect(h.error).toContain(`redirect (302) to ${receiver.url}/target`);
    }
    expect(receiver.at('/target')).toEqual([]);
  });

  it('a receiver that hangs: the attempt times out and is recorded, the next one gets through', async () => {
    receiver.on('/hang', { hang: true });
    const res = await invoke(server, { EndpointName: 'hang-ep' });
    const first = await entryFor(server, 'hang-ep', res.InferenceId!, (e) => e.history.length >= 1, 'a timed-out attempt');
    expect(first.history[0]).toMatchObject({ ok: false, error: 'timed out after 500 ms' });
    expect(first.history[0]!.latencyMs).toBeGreaterThanOrEqual(450);
    receiver.on('/hang', {});
    const done = await entryFor(server, 'hang-ep', res.InferenceId!, (e) => e.state === 'delivered', 'delivery after the hang');
    expect(done.history.at(-1)).toMatchObject({ ok: true, status: 200 });
  });

  it('gives up after maxAttempts: counted, listed as failed, delivered by a replay through the CLI', async () => {
    receiver.on('/giveup', { status: 503 });
    const res = await invoke(server, { EndpointName: 'giveup-ep' });
    const failed = await entryFor(server, 'giveup-ep', res.InferenceId!, (e) => e.state === 'failed', 'the delivery to give up');
    expect(failed.attempts).toBe(FAST.maxAttempts);
    expect(failed.lastError).toBe(`webhook ${receiver.url}/giveup: HTTP 503: no (503)`);
    expect((await admin(server, 'state=failed')).map((e) => e.id)).toContain(failed.id);
    const metrics = await (await signedFetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^asyncinfer_notification_failures_total\{endpoint="giveup-ep",variant="AllTraffic"\} 1$/m);
    expect(server.logs.filter((l) => l.msg?.startsWith('notification given up') && l.eventId === failed.id)).toHaveLength(1);

    receiver.on('/giveup', {});
    const replay = await runCommand(process.execPath, [CLI, 'notifications', 'replay', '--endpoint-url', server.url, '--ids', failed.id], CLI_ENV);
    expect(replay).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(replay.stdout)).toEqual({ replayed: 1 });
    const delivered = await entryFor(server, 'giveup-ep', res.InferenceId!, (e) => e.state === 'delivered', 'the replayed delivery');
    expect(delivered.history).toHaveLength(FAST.maxAttempts + 1);
    const requests = receiver.at('/giveup').filter((r) => event(r).inferenceId === res.InferenceId);
    expect(requests.map((r) => r.status)).toEqual([503, 503, 503, 503, 200]);
    expect(new Set(requests.map((r) => r.headers['webhook-id']))).toEqual(new Set([failed.id]));

    const listed = await runCommand(process.execPath, [CLI, 'notifications', 'list', '--endpoint-url', server.url, '--state', 'delivered', '--endpoint-name', 'giveup-ep'], CLI_ENV);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { notifications: AdminEntry[] }).notifications.map((e) => e.id)).toEqual([failed.id]);
    expect((await runCommand(process.execPath, [CLI, 'notifications', 'list', '--endpoint-url', server.url, '--state', 'lost'], CLI_ENV)).code).toBe(1);
    expect((await runCommand(process.execPath, [CLI, 'notifications', 'frobnicate'], CLI_ENV)).code).toBe(2);
    // Its calls are signed: a wrong secret is refused by the server, and said so.
    const forged = await runCommand(process.execPath, [CLI, 'notifications', 'list', '--endpoint-url', server.url], { ...CLI_ENV, AWS_SECRET_ACCESS_KEY: 'not-the-secret-at-all-0000' });
    expect(forged.code).toBe(1);
    expect(forged.stderr).toContain('answered 403: The request signature we calculated does not match');
  });

  it('publishes to SNS topics with the Query protocol: Message = the event, FIFO ids, region (SNS stand-in, not AWS)', async () => {
    const ok = await invoke(server, { EndpointName: 'sns-ep' });
    const bad = await invoke(server, { EndpointName: 'sns-ep', CustomAttributes: 'status=500' });
    const publishedFor = (id: string) => sns.published.find((p) => (JSON.parse(p.params.get('Message')!) as Event).inferenceId === id);
    await waitFor(() => publishedFor(ok.InferenceId!) !== undefined && publishedFor(bad.InferenceId!) !== undefined, 10_000, 'two SNS publishes');

    const standard = publishedFor(ok.InferenceId!)!;
    expect(standard.params.get('Version')).toBe('2010-03-31');
    expect(standard.params.get('TopicArn')).toBe(TOPIC.sns);
    expect(JSON.parse(standard.params.get('Message')!)).toMatchObject({ invocationStatus: 'Completed', eventName: 'InferenceResult', requestParameters: { endpointName: 'sns-ep' } });
    expect(standard.params.has('Subject')).toBe(false);
    expect(standard.params.has('MessageGroupId')).toBe(false);
    // Region from the topic ARN.
    expect(standard.headers.authorization).toContain('/eu-west-1/sns/aws4_request');

    const fifo = publishedFor(bad.InferenceId!)!;
    const entry = await entryFor(server, 'sns-ep', bad.InferenceId!, (e) => e.state === 'delivered', 'the FIFO publish to settle');
    expect(fifo.params.get('TopicArn')).toBe(TOPIC.snsFifo);
    expect(fifo.params.get('Message')).toBe(JSON.stringify(entry.event));
    expect(fifo.params.get('MessageGroupId')).toBe('sns-ep');
    expect(fifo.params.get('MessageDeduplicationId')).toBe(entry.id);
    // Region from the target, over the ARN's.
    expect(fifo.headers.authorization).toContain('/ap-south-1/sns/aws4_request');
    expect(entry.history).toEqual([expect.objectContaining({ target: `sns ap-south-1 ${sns.url}`, ok: true, status: 200 })]);
  });
});

describe('TestNotification', () => {
  it('CreateEndpoint and UpdateEndpointWeightsAndCapacities send one per configured topic', async () => {
    const sm = new SageMakerClient({ endpoint: server.url, region: 'us-east-1', maxAttempts: 1, credentials: TEST_CREDENTIALS });
    await sm.send(new CreateModelCommand({ ModelName: 'notified-model', PrimaryContainer: { Image: modelUrl } }));
    await sm.send(new CreateEndpointConfigCommand({
      EndpointConfigName: 'notified-config',
      ProductionVariants: [{ VariantName: 'v1', ModelName: 'notified-model', InitialInstanceCount: 1 }],
      AsyncInferenceConfig: { OutputConfig: { S3OutputPath: 's3://bucket/notified/out', NotificationConfig: { SuccessTopic: TOPIC.testA, ErrorTopic: TOPIC.testB } } },
    }));
    await sm.send(new CreateEndpointCommand({ EndpointName: 'notified', EndpointConfigName: 'notified-config' }));
    await waitFor(() => receiver.at('/tests').length >= 2, 10_000, 'two TestNotifications');
    const tests = receiver.at('/tests');
    expect(tests.map((r) => r.body)).toEqual([TEST_NOTIFICATION, TEST_NOTIFICATION]);
    expect(new Set(tests.map((r) => r.headers['webhook-id'])).size).toBe(2);
    const entries = await admin(server, 'endpoint=notified');
    expect(entries.map((e) => e.topicArn).sort()).toEqual([TOPIC.testA, TOPIC.testB].sort());

    await waitUntilEndpointInService({ client: sm, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { EndpointName: 'notified' });
    await sm.send(new UpdateEndpointWeightsAndCapacitiesCommand({ EndpointName: 'notified', DesiredWeightsAndCapacities: [{ VariantName: 'v1', DesiredWeight: 1 }] }));
    await waitFor(() => receiver.at('/tests').length >= 4, 10_000, 'two more TestNotifications');
    expect(receiver.at('/tests')).toHaveLength(4);
  });
});

describe('exactly one event per outcome', () => {
  it('every outcome so far has one event id, however many attempts', async () => {
    const entries = (await admin(server, 'limit=1000')).filter((e) => e.event.eventName === 'InferenceResult');
    const byInference = new Map<string, Set<string>>();
    for (const e of entries) byInference.set(e.event.inferenceId!, (byInference.get(e.event.inferenceId!) ?? new Set()).add(e.id));
    expect(entries.length).toBeGreaterThanOrEqual(9);
    for (const ids of byInference.values()) expect(ids.size).toBe(1);
    for (const r of receiver.requests.filter((x) => x.path !== '/tests')) {
      expect(byInference.get(event(r).inferenceId!)).toEqual(new Set([r.headers['webhook-id']]));
    }
  });
});

describe('crash safety', () => {
  it('kill -9 after the outcomes are recorded but before delivery: every event is delivered after a restart, once per outcome', async () => {
    const down = await startWebhookReceiver();
    const port = down.port;
    await down.close();
    const url = `http://127.0.0.1:${port}`;
    const config = {
      notifications: { maxAttempts: 100, initialBackoff: '50ms', maxBackoff: '100ms', timeout: '500ms' },
      topics: { [TOPIC.crashOk]: [{ webhook: `${url}/crash` }], [TOPIC.crashErr]: [{ webhook: `${url}/crash` }] },
      endpoints: [endpoint('crash-ep', { SuccessTopic: TOPIC.crashOk, ErrorTopic: TOPIC.crashErr })],
    };
    const dataDir = tempDir();
    const first = await startServer({ config, dataDir });
    const sent = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => invoke(first, { EndpointName: 'crash-ep', ...(i % 3 === 0 && { CustomAttributes: 'status=500' }) })));
    const rows = () => {
      const db = new Database(path.join(dataDir, 'queue.db'), { readonly: true, fileMustExist: true });
      try {
        return db.prepare('SELECT event_id, state, attempts FROM notifications').all() as { event_id: string; state: string; attempts: number }[];
      } finally {
        db.close();
      }
    };
    // Outcomes recorded, deliveries tried and failed (the receiver is down).
    await waitFor(() => rows().length === 6 && rows().every((r) => r.state === 'pending' && r.attempts >= 1), 15_000, 'six failed first attempts');
    await first.stop('SIGKILL');

    const up = await startWebhookReceiver(port);
    try {
      const second = await startServer({ config, dataDir });
      try {
        await waitFor(() => new Set(up.at('/crash').filter((r) => r.status === 200).map((r) => r.headers['webhook-id'])).size === 6, 15_000, 'six events delivered');
        const byInference = new Map<string, Set<string>>();
        for (const r of up.at('/crash')) {
          const id = event(r).inferenceId!;
          byInference.set(id, (byInference.get(id) ?? new Set()).add(String(r.headers['webhook-id'])));
        }
        expect([...byInference.keys()].sort()).toEqual(sent.map((s) => s.InferenceId!).sort());
        for (const ids of byInference.values()) expect(ids.size).toBe(1);
        await waitFor(() => rows().every((r) => r.state === 'delivered'), 5000, 'every outbox row delivered');
        expect(rows()).toHaveLength(6);
      } finally {
        await second.stop();
      }
    } finally {
      await up.close();
    }
  });
});

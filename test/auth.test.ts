/**
 * Secure by default, end to end: the real server, signed by the official JS SDK v3 clients, the
 * presigner and Debian's AWS CLI. Every refusal is the SDK's own exception with status 403 (or
 * S3's 400 where S3 answers so), and nothing refused is ever queued.
 */
import { execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { Agent } from 'node:https';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListBucketsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DeleteModelCommand, ListModelsCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { InvokeEndpointAsyncCommand, InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signHeaders } from '../src/cli/signed-request.js';
import { CLI, controlEndpoint, invocationRows, runCommand, startServer, tempDir, waitFor, waitForObject, type ServerProcess } from './support/server.js';
import { AWS_CLI_ENV, signedFetch, TEST_CREDENTIALS } from './support/signing.js';

const AWS = '/usr/bin/aws';
const REGION = 'us-east-1';
type Credentials = { accessKeyId: string; secretAccessKey: string };

const INVOKE_A_ONLY = { accessKeyId: 'AKIAINVOKEAONLY00001', secretAccessKey: 'invoke-a-only-secret-0123456789' };
const S3_READ_ONLY = { accessKeyId: 'AKIAS3READONLY000001', secretAccessKey: 's3-read-only-secret-0123456789' };
const NO_DELETE = { accessKeyId: 'AKIANODELETE00000001', secretAccessKey: 'no-delete-secret-0123456789ab' };
const WILDCARDS = { accessKeyId: 'AKIAWILDCARDS0000001', secretAccessKey: 'wildcards-secret-0123456789ab' };
const ARN = (name: string) => `arn:aws:sagemaker:us-east-1:123456789012:endpoint/${name}`;

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer({
    config: {
      endpoints: [controlEndpoint('ep-a'), controlEndpoint('ep-b')],
      cors: { allowedOrigins: ['https://app.example.com'] },
      auth: {
        keys: [
          { ...INVOKE_A_ONLY, policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sagemaker:InvokeEndpointAsync', Resource: ARN('ep-a') }] } },
          { ...S3_READ_ONLY, policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: ['arn:aws:s3:::bucket', 'arn:aws:s3:::bucket/*'] }] } },
          {
            ...NO_DELETE,
            policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sagemaker:*', Resource: '*' }, { Effect: 'Deny', Action: 'sagemaker:Delete*', Resource: '*' }] },
          },
          { ...WILDCARDS, secretAccessKey: undefined, secretAccessKeyEnv: 'WILDCARD_SECRET', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sagemaker:Invoke*Async', Resource: 'arn:aws:sagemaker:us-east-1:123456789012:endpoint/ep-?' }] } },
        ],
      },
    },
    env: { WILDCARD_SECRET: WILDCARDS.secretAccessKey },
  });
});

afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

const runtime = (credentials: Credentials, extra: Partial<ConstructorParameters<typeof SageMakerRuntimeClient>[0]> = {}) =>
  new SageMakerRuntimeClient({ endpoint: server.url, region: REGION, maxAttempts: 1, credentials, ...extra });
const control = (credentials: Credentials) => new SageMakerClient({ endpoint: server.url, region: REGION, maxAttempts: 1, credentials });
const s3 = (credentials: Credentials, extra: Partial<ConstructorParameters<typeof S3Client>[0]> = {}) =>
  new S3Client({ endpoint: server.s3Url!, region: REGION, forcePathStyle: true, maxAttempts: 1, credentials, ...extra });

async function failure(p: Promise<unknown>): Promise<{ name: string; status?: number; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to be refused');
}

/** What a call came to: 'accepted', or the name of the error the SDK raised. */
async function outcome(p: Promise<unknown>): Promise<string> {
  return p.then(() => 'accepted', (err: unknown) => (err as Error).name);
}

const invoke = (client: SageMakerRuntimeClient, endpoint = 'ep-a') =>
  client.send(new InvokeEndpointAsyncCommand({ EndpointName: endpoint, Body: Buffer.from('{"signed":true}'), ContentType: 'application/json' }));

describe('the SageMaker runtime API', () => {
  it('accepts a request signed with a valid key, and refuses every bad signature with the SDK\'s own exception, queueing nothing', async () => {
    const ok = await invoke(runtime(TEST_CREDENTIALS));
    // The server got its key from ASYNCINFER_ACCESS_KEY_ID/ASYNCINFER_SECRET_ACCESS_KEY; its model did not.
    expect((JSON.parse((await waitForObject(server.dataDir, ok.OutputLocation!)).toString()) as { serverVariables: string[] }).serverVariables).toEqual([]);
    const queued = invocationRows(server.dataDir).length;

    const cases: [string, () => Promise<unknown>, string][] = [
      ['wrong secret', () => invoke(runtime({ ...TEST_CREDENTIALS, secretAccessKey: 'not-the-secret-at-all-0000' })), 'InvalidSignatureException'],
      ['unknown key', () => invoke(runtime({ accessKeyId: 'AKIANOSUCHKEY0000000', secretAccessKey: 'whatever-secret-000000000' })), 'UnrecognizedClientException'],
      ['clock 20 minutes fast', () => invoke(runtime(TEST_CREDENTIALS, { systemClockOffset: 20 * 60 * 1000 })), 'InvalidSignatureException'],
      ['clock 20 minutes slow', () => invoke(runtime(TEST_CREDENTIALS, { systemClockOffset: -20 * 60 * 1000 })), 'InvalidSignatureException'],
      ['wrong region in the scope', () => invoke(runtime(TEST_CREDENTIALS, { region: 'eu-west-1' })), 'InvalidSignatureException'],
    ];
    for (const [what, call, name] of cases) {
      const err = await failure(call());
      expect({ what, name: err.name, status: err.status }).toEqual({ what, name, status: 403 });
    }
    expect(invocationRows(server.dataDir)).toHaveLength(queued);
  });

  it('refuses bad signatures on the control plane with the SDK\'s own exceptions', async () => {
    const list = (credentials: Credentials) => control(credentials).send(new ListModelsCommand({}));
    expect(await failure(list({ ...TEST_CREDENTIALS, secretAccessKey: 'not-the-secret-at-all-0000' }))).toMatchObject({ name: 'InvalidSignatureException', status: 403 });
    expect(await failure(list({ accessKeyId: 'AKIANOSUCHKEY0000000', secretAccessKey: 'whatever-secret-000000000' }))).toMatchObject({ name: 'UnrecognizedClientException', status: 403 });
    const unsigned = await fetch(server.url, { method: 'POST', headers: { 'x-amz-target': 'SageMaker.ListModels', 'content-type': 'application/x-amz-json-1.1' }, body: '{}' });
    expect(unsigned.status).toBe(403);
    expect(await unsigned.json()).toMatchObject({ __type: 'MissingAuthenticationTokenException' });
  });

  it('refuses an unsigned request, a tampered body and a tampered signed header with 403, queueing nothing', async () => {
    const queued = invocationRows(server.dataDir).length;
    const url = `${server.url}/endpoints/ep-a/async-invocations`;
    const unsigned = await fetch(url, { method: 'POST', body: '{}' });
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');

    const headers = await signHeaders({ method: 'POST', url, body: '{"amount":1}', headers: { 'x-amzn-sagemaker-custom-attributes': 'a=1' }, region: REGION, service: 'sagemaker', credentials: TEST_CREDENTIALS });
    delete headers.host;
    const tamperedBody = await fetch(url, { method: 'POST', headers, body: '{"amount":1000}' });
    expect(tamperedBody.status).toBe(403);
    expect(tamperedBody.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');
    const tamperedHeader = await fetch(url, { method: 'POST', headers: { ...headers, 'x-amzn-sagemaker-custom-attributes': 'a=2' }, body: '{"amount":1}' });
    expect(tamperedHeader.status).toBe(403);
    expect(tamperedHeader.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');
    const garbled = await fetch(url, { method: 'POST', headers: { authorization: 'AWS4-HMAC-SHA256 Credential=nonsense' }, body: '{}' });
    expect(garbled.status).toBe(403);
    expect(garbled.headers.get('x-amzn-errortype')).toBe('IncompleteSignatureException');
    // UNSIGNED-PAYLOAD is S3's: on these APIs the body is always signed.
    const unsignedPayload = await signHeaders({ method: 'POST', url, body: '{}', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }, region: REGION, service: 'sagemaker', credentials: TEST_CREDENTIALS });
    delete unsignedPayload.host;
    const notHashed = await fetch(url, { method: 'POST', headers: unsignedPayload, body: '{"anything":"at all"}' });
    expect(notHashed.status).toBe(403);
    expect(notHashed.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');
    // The same signed request untouched is accepted: the refusals above were the tampering.
    expect((await fetch(url, { method: 'POST', headers, body: '{"amount":1}' })).status).toBe(202);
    expect(invocationRows(server.dataDir)).toHaveLength(queued + 1);
  });

  it('keeps /ping open and /metrics signed', async () => {
    expect((await fetch(`${server.url}/ping`)).status).toBe(200);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(403);
    expect((await signedFetch(`${server.url}/metrics`)).status).toBe(200);
  });
});

describe('policies', () => {
  it('an invoke-only key on endpoint A: A works; B, the control plane and S3 are refused with AccessDenied naming action and resource', async () => {
    await waitForObject(server.dataDir, (await invoke(runtime(INVOKE_A_ONLY), 'ep-a')).OutputLocation!);
    const queued = invocationRows(server.dataDir).length;
    const b = await failure(invoke(runtime(INVOKE_A_ONLY), 'ep-b'));
    expect(b).toMatchObject({ name: 'AccessDeniedException', status: 403 });
    expect(b.message).toBe(`User: arn:aws:iam::123456789012:user/${INVOKE_A_ONLY.accessKeyId} is not authorized to perform: sagemaker:InvokeEndpointAsync on resource: ${ARN('ep-b')} because no identity-based policy allows the sagemaker:InvokeEndpointAsync action`);
    expect(await failure(control(INVOKE_A_ONLY).send(new ListModelsCommand({})))).toMatchObject({ name: 'AccessDeniedException', status: 403 });
    expect(await failure(s3(INVOKE_A_ONLY).send(new ListBucketsCommand({})))).toMatchObject({ name: 'AccessDenied', status: 403 });
    // An InputLocation is read on the caller's behalf: it needs s3:GetObject on it too.
    const viaInput = await failure(runtime(INVOKE_A_ONLY).send(new InvokeEndpointAsyncCommand({ EndpointName: 'ep-a', InputLocation: 's3://bucket/secret/input.json' })));
    expect(viaInput).toMatchObject({ name: 'AccessDeniedException', status: 403 });
    expect(viaInput.message).toContain('s3:GetObject on resource: arn:aws:s3:::bucket/secret/input.json');
    expect(invocationRows(server.dataDir)).toHaveLength(queued);
  });

  it('a read-only S3 key reads and lists one bucket, and may not write, delete or invoke', async () => {
    const root = s3(TEST_CREDENTIALS);
    await root.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'shared/readme.txt', Body: 'hello' }));
    await root.send(new CreateBucketCommand({ Bucket: 'other' }));
    await root.send(new PutObjectCommand({ Bucket: 'other', Key: 'x.txt', Body: 'no' }));
    const reader = s3(S3_READ_ONLY);
    const got = await reader.send(new GetObjectCommand({ Bucket: 'bucket', Key: 'shared/readme.txt' }));
    expect(await got.Body!.transformToString()).toBe('hello');
    expect((await reader.send(new ListObjectsV2Command({ Bucket: 'bucket', Prefix: 'shared/' }))).Contents?.map((c) => c.Key)).toEqual(['shared/readme.txt']);
    expect(await failure(reader.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'shared/new.txt', Body: 'x' })))).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(await failure(reader.send(new GetObjectCommand({ Bucket: 'other', Key: 'x.txt' })))).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(await failure(invoke(runtime(S3_READ_ONLY)))).toMatchObject({ name: 'AccessDeniedException', status: 403 });
  });

  it('an explicit Deny overrides an Allow, and wildcards match as in IAM', async () => {
    const operator = control(NO_DELETE);
    expect((await operator.send(new ListModelsCommand({}))).Models).toBeDefined();
    const denied = await failure(operator.send(new DeleteModelCommand({ ModelName: 'whatever' })));
    expect(denied).toMatchObject({ name: 'AccessDeniedException', status: 403 });
    expect(denied.message).toContain('with an explicit deny in an identity-based policy');
    await waitForObject(server.dataDir, (await invoke(runtime(WILDCARDS), 'ep-b')).OutputLocation!);
    expect(await failure(runtime(WILDCARDS).send(new InvokeEndpointCommand({ EndpointName: 'ep-a', Body: Buffer.from('{}') })))).toMatchObject({ name: 'AccessDeniedException', status: 403 });
  });
});

describe('the embedded S3 API', () => {
  it('refuses bad signatures with S3\'s own error names', async () => {
    const list = (c: S3Client) => c.send(new ListBucketsCommand({}));
    expect(await failure(list(s3({ ...TEST_CREDENTIALS, secretAccessKey: 'not-the-secret-at-all-0000' })))).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
    expect(await failure(list(s3({ accessKeyId: 'AKIANOSUCHKEY0000000', secretAccessKey: 'whatever-secret-000000000' })))).toMatchObject({ name: 'InvalidAccessKeyId', status: 403 });
    expect(await failure(list(s3(TEST_CREDENTIALS, { systemClockOffset: 20 * 60 * 1000 })))).toMatchObject({ name: 'RequestTimeTooSkewed', status: 403 });
    const unsigned = await fetch(`${server.s3Url}/bucket/shared/readme.txt`);
    expect(unsigned.status).toBe(403);
    expect(await unsigned.text()).toContain('<Code>AccessDenied</Code>');
    const tampered = await signHeaders({ method: 'PUT', url: `${server.s3Url}/bucket/t.txt`, body: 'signed body', region: REGION, service: 's3', credentials: TEST_CREDENTIALS });
    delete tampered.host;
    const put = await fetch(`${server.s3Url}/bucket/t.txt`, { method: 'PUT', headers: tampered, body: 'other body!' });
    expect(put.status).toBe(400);
    expect(await put.text()).toContain('<Code>XAmzContentSHA256Mismatch</Code>');
    expect((await fetch(`${server.s3Url}/bucket/t.txt`, { method: 'PUT', headers: tampered, body: 'signed body' })).status).toBe(200);
  });

  it('verifies every chunk signature of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD upload, and stores nothing when one is forged', async () => {
    const data = Buffer.alloc(70_000, 'a');
    const put = async (key: string, tamper: boolean) => {
      const url = `${server.s3Url}/bucket/${key}`;
      const headers = await signHeaders({
        method: 'PUT', url, region: REGION, service: 's3', credentials: TEST_CREDENTIALS,
        headers: { 'content-encoding': 'aws-chunked', 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'x-amz-decoded-content-length': String(data.length) },
      });
      delete headers.host;
      const body = streamingBody(data, 65_536, headers, tamper);
      return fetch(url, { method: 'PUT', headers, body });
    };
    expect((await put('streamed/ok.bin', false)).status).toBe(200);
    const got = await s3(TEST_CREDENTIALS).send(new GetObjectCommand({ Bucket: 'bucket', Key: 'streamed/ok.bin' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
    const forged = await put('streamed/forged.bin', true);
    expect(forged.status).toBe(403);
    expect(await forged.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
    expect(await failure(s3(TEST_CREDENTIALS).send(new GetObjectCommand({ Bucket: 'bucket', Key: 'streamed/forged.bin' })))).toMatchObject({ name: 'NoSuchKey' });
  });

  it('serves presigned GET and PUT URLs to plain fetch, and refuses an expired one', async () => {
    const client = s3(TEST_CREDENTIALS);
    const putUrl = await getSignedUrl(client, new PutObjectCommand({ Bucket: 'bucket', Key: 'presigned/in.txt' }), { expiresIn: 600 });
    expect((await fetch(putUrl, { method: 'PUT', body: 'uploaded without keys' })).status).toBe(200);
    const getUrl = await getSignedUrl(client, new GetObjectCommand({ Bucket: 'bucket', Key: 'presigned/in.txt', ResponseContentType: 'text/x-overridden' }), { expiresIn: 600 });
    const got = await fetch(getUrl);
    expect(got.status).toBe(200);
    expect(await got.text()).toBe('uploaded without keys');
    expect(got.headers.get('content-type')).toBe('text/x-overridden');
    const expired = await getSignedUrl(client, new GetObjectCommand({ Bucket: 'bucket', Key: 'presigned/in.txt' }), { expiresIn: 60, signingDate: new Date(Date.now() - 5 * 60_000) });
    const refused = await fetch(expired);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toMatch(/<Code>AccessDenied<\/Code><Message>Request has expired/);
    // Changing what was signed (the key) breaks the signature.
    const forged = await fetch(getUrl.replace('presigned/in.txt', 'presigned/other.txt'));
    expect(forged.status).toBe(403);
    expect(await forged.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
  });
});

describe('the AWS CLI', () => {
  const aws = (env: Record<string, string>, ...args: string[]) => runCommand(AWS, [...args, '--output', 'json'], { ...process.env, ...env });

  it('signs for the runtime, the control plane and S3; a wrong secret gets AWS\'s error names', async () => {
    const ok = await aws(AWS_CLI_ENV, 'sagemaker', 'list-endpoints', '--endpoint-url', server.url);
    expect(ok.code).toBe(0);
    expect((JSON.parse(ok.stdout) as { Endpoints: unknown[] }).Endpoints.length).toBeGreaterThanOrEqual(2);
    const ls = await aws(AWS_CLI_ENV, 's3', 'ls', 's3://bucket/shared/', '--endpoint-url', server.s3Url!);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toContain('readme.txt');
    const wrong = { ...AWS_CLI_ENV, AWS_SECRET_ACCESS_KEY: 'not-the-secret-at-all-0000' };
    const invoke = await aws(wrong, 'sagemaker-runtime', 'invoke-endpoint-async', '--endpoint-url', server.url, '--endpoint-name', 'ep-a', '--input-location', 's3://bucket/shared/readme.txt');
    expect(invoke.code).not.toBe(0);
    expect(invoke.stderr).toContain('(InvalidSignatureException)');
    const unknown = await aws({ ...AWS_CLI_ENV, AWS_ACCESS_KEY_ID: 'AKIANOSUCHKEY0000000' }, 'sagemaker', 'list-models', '--endpoint-url', server.url);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('(UnrecognizedClientException)');
    const cp = await aws(wrong, 's3', 'cp', 's3://bucket/shared/readme.txt', '-', '--endpoint-url', server.s3Url!);
    expect(cp.code).not.toBe(0);
    expect(cp.stderr).toMatch(/403|SignatureDoesNotMatch|Forbidden/);
  });
});

describe('keys managed with asyncinfer keys, taking effect without a restart', () => {
  it('creates a key with a policy, disables it, enables it and deletes it', async () => {
    const keys = (...args: string[]) => runCommand(process.execPath, [CLI, 'keys', ...args, '--data-dir', server.dataDir]);
    const created = await keys('create', '--description', 'invoke ep-b', '--policy', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sagemaker:InvokeEndpointAsync', Resource: ARN('ep-b') }] }));
    expect(created.code).toBe(0);
    const { AccessKey } = JSON.parse(created.stdout) as { AccessKey: { AccessKeyId: string; SecretAccessKey: string; Status: string } };
    expect(AccessKey.AccessKeyId).toMatch(/^AKIA[A-Z2-7]{16}$/);
    expect(AccessKey.Status).toBe('Active');
    const key = { accessKeyId: AccessKey.AccessKeyId, secretAccessKey: AccessKey.SecretAccessKey };
    await waitFor(async () => (await outcome(invoke(runtime(key), 'ep-b'))) === 'accepted', 5000, 'the new key to be accepted');
    expect(await failure(invoke(runtime(key), 'ep-a'))).toMatchObject({ name: 'AccessDeniedException' });

    const listed = JSON.parse((await keys('list')).stdout) as { AccessKeyMetadata: { AccessKeyId: string; Source: string; SecretAccessKey?: string }[] };
    expect(listed.AccessKeyMetadata.find((k) => k.AccessKeyId === key.accessKeyId)).toMatchObject({ Source: 'catalog', Status: 'Active', Description: 'invoke ep-b' });
    expect(JSON.stringify(listed)).not.toContain(key.secretAccessKey);

    expect((await keys('disable', '--access-key-id', key.accessKeyId)).code).toBe(0);
    await waitFor(async () => (await outcome(invoke(runtime(key), 'ep-b'))) === 'UnrecognizedClientException', 5000, 'the disabled key to be refused');
    expect((await keys('enable', '--access-key-id', key.accessKeyId)).code).toBe(0);
    await waitFor(async () => (await outcome(invoke(runtime(key), 'ep-b'))) === 'accepted', 5000, 'the enabled key to be accepted');
    expect((await keys('delete', '--access-key-id', key.accessKeyId)).code).toBe(0);
    await waitFor(async () => (await outcome(invoke(runtime(key), 'ep-b'))) === 'UnrecognizedClientException', 5000, 'the deleted key to be refused');

    const bad = await keys('create', '--policy', '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sagemkaer:*","Resource":"*"}]}');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('service is one of sagemaker, s3, asyncinfer');
  });
});

describe('browsers', () => {
  it('refuses a foreign Host (DNS rebinding) and a foreign Origin, signed or not', async () => {
    const url = `${server.url}/endpoints/ep-a/async-invocations`;
    const rebound = await signHeaders({ method: 'POST', url: url.replace('127.0.0.1', 'evil.example'), body: '{}', region: REGION, service: 'sagemaker', credentials: TEST_CREDENTIALS });
    const viaRebinding = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(url, { method: 'POST', headers: rebound }, (res) => resolve(res.statusCode!));
      req.on('error', reject);
      req.end('{}');
    });
    expect(viaRebinding).toBe(403);
    const fromPage = await signedFetch(url, { body: '{}', headers: { origin: 'https://evil.example' } });
    expect(fromPage.status).toBe(403);
    expect(fromPage.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('CORS', () => {
  it('grants a configured origin (preflight and answers, both ports), and no other', async () => {
    for (const base of [server.url, server.s3Url!]) {
      const preflight = await fetch(`${base}/endpoints/ep-a/async-invocations`, {
        method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,x-amz-date' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
      expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization,x-amz-date');
      const foreign = await fetch(`${base}/endpoints/ep-a/async-invocations`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
      expect(foreign.status).toBe(403);
      expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    }
    const res = await signedFetch(`${server.url}/endpoints/ep-a/async-invocations`, { body: '{}', headers: { origin: 'https://app.example.com' } });
    expect(res.status).toBe(202);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(res.headers.get('access-control-expose-headers')).toContain('x-amzn-sagemaker-outputlocation');
  });
});

describe('first start with no key', () => {
  it('makes a root key, writes it owner-only in the shared-credentials format, and the AWS CLI works with it; a restart keeps it', async () => {
    const dataDir = tempDir();
    const noKey = { ASYNCINFER_ACCESS_KEY_ID: '', ASYNCINFER_SECRET_ACCESS_KEY: '' };
    const first = await startServer({ dataDir, env: noKey, config: { endpoints: [controlEndpoint('ep')] } });
    const file = path.join(dataDir, 'credentials');
    try {
      expect(existsSync(file)).toBe(true);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      expect(readFileSync(file, 'utf8')).toMatch(/^\[asyncinfer\]\naws_access_key_id = AKIA[A-Z2-7]{16}\naws_secret_access_key = \S{40}\n$/);
      const env = { AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: 'asyncinfer', AWS_DEFAULT_REGION: REGION, AWS_PAGER: '', AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' };
      const res = await runCommand(AWS, ['sagemaker', 'describe-endpoint', '--endpoint-name', 'ep', '--endpoint-url', first.url, '--output', 'json'], { ...process.env, ...env, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined } as NodeJS.ProcessEnv);
      expect(res.stderr).toBe('');
      expect((JSON.parse(res.stdout) as { EndpointStatus: string }).EndpointStatus).toBe('InService');
      // The config's test key is not there: this server has only the root key.
      expect((await signedFetch(`${first.url}/metrics`)).status).toBe(403);
    } finally {
      expect(await first.stop()).toBe(0);
    }
    const before = readFileSync(file, 'utf8');
    const second = await startServer({ dataDir, env: noKey, config: { endpoints: [controlEndpoint('ep')] } });
    try {
      expect(readFileSync(file, 'utf8')).toBe(before);
      const id = /aws_access_key_id = (\S+)/.exec(before)![1]!;
      const secret = /aws_secret_access_key = (\S+)/.exec(before)![1]!;
      expect((await signedFetch(`${second.url}/metrics`, { credentials: { accessKeyId: id, secretAccessKey: secret } })).status).toBe(200);
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });
});

describe('auth off', () => {
  it('is refused on a non-loopback bind', async () => {
    const res = await runCommand(process.execPath, [CLI, 'serve', '--host', '0.0.0.0', '--port', '0', '--s3-port', '0', '--data-dir', tempDir()], { ...process.env, ASYNCINFER_CONFIG: writeConfig({ auth: { mode: 'off' } }) });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('auth.mode: "off" serves every request unauthenticated, so it is only allowed on a loopback address');
  });

  it('serves unsigned requests on loopback, and still refuses a foreign Host', async () => {
    const open = await startServer({ config: { auth: { mode: 'off' }, endpoints: [controlEndpoint('ep')] } });
    try {
      const res = await fetch(`${open.url}/endpoints/ep/async-invocations`, { method: 'POST', body: '{}' });
      expect(res.status).toBe(202);
      await waitForObject(open.dataDir, res.headers.get('x-amzn-sagemaker-outputlocation')!);
      const foreign = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${open.url}/endpoints/ep/async-invocations`, { method: 'POST', headers: { host: 'rebound.example:80' } }, (r) => resolve(r.statusCode!));
        req.on('error', reject);
        req.end('{}');
      });
      expect(foreign).toBe(403);
      const fromPage = await fetch(`${open.url}/endpoints/ep/async-invocations`, { method: 'POST', body: '{}', headers: { origin: 'https://evil.example' } });
      expect(fromPage.status).toBe(403);
    } finally {
      expect(await open.stop()).toBe(0);
    }
  });
});

describe('TLS', () => {
  it('serves HTTPS on both ports to SDK clients trusting a throwaway CA, and serves a renewed certificate after SIGHUP', async () => {
    const dir = tempDir('asyncinfer-tls-');
    const makeCert = (name: string) => {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`,
        '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
      return readFileSync(path.join(dir, 'cert.pem'));
    };
    const firstCert = makeCert('first');
    const secure = await startServer({ args: ['--tls-cert', path.join(dir, 'cert.pem'), '--tls-key', path.join(dir, 'key.pem')], config: { endpoints: [controlEndpoint('ep')] } });
    try {
      expect(secure.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(secure.s3Url).toMatch(/^https:\/\//);
      const handler = (ca: Buffer) => new NodeHttpHandler({ httpsAgent: new Agent({ ca }) });
      const client = new SageMakerRuntimeClient({ endpoint: secure.url, region: REGION, maxAttempts: 1, credentials: TEST_CREDENTIALS, requestHandler: handler(firstCert) });
      const res = await client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'ep', Body: Buffer.from('{}') }));
      await waitForObject(secure.dataDir, res.OutputLocation!);
      const store = new S3Client({ endpoint: secure.s3Url!, region: REGION, forcePathStyle: true, maxAttempts: 1, credentials: TEST_CREDENTIALS, requestHandler: handler(firstCert) });
      expect(await (await store.send(new GetObjectCommand({ Bucket: 'bucket', Key: res.OutputLocation!.replace('s3://bucket/', '') }))).Body!.transformToString()).toContain('bodyBase64');

      const secondCert = makeCert('second');
      secure.child.kill('SIGHUP');
      const renewed = new SageMakerRuntimeClient({ endpoint: secure.url, region: REGION, maxAttempts: 1, credentials: TEST_CREDENTIALS, requestHandler: handler(secondCert) });
      await waitFor(async () => (await outcome(renewed.send(new InvokeEndpointAsyncCommand({ EndpointName: 'ep', Body: Buffer.from('{}') })))) === 'accepted', 5000, 'the renewed certificate');
      // A client that trusts only the old certificate no longer gets through.
      const stale = new SageMakerRuntimeClient({ endpoint: secure.url, region: REGION, maxAttempts: 1, credentials: TEST_CREDENTIALS, requestHandler: handler(firstCert) });
      expect(await outcome(stale.send(new InvokeEndpointAsyncCommand({ EndpointName: 'ep', Body: Buffer.from('{}') })))).not.toBe('accepted');
    } finally {
      expect(await secure.stop()).toBe(0);
    }
  });
});

/**
 * An aws-chunked body whose chunks are signed as the AWS documentation describes (each chunk's
 * signature chains from the previous one, starting at the Authorization header's); `tamper` flips
 * a byte of the last data chunk after it was signed.
 */
function streamingBody(data: Buffer, chunkSize: number, headers: Record<string, string>, tamper: boolean): Buffer {
  const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
  const hmac = (key: Buffer | string, text: string) => createHmac('sha256', key).update(text).digest();
  const amzDate = headers['x-amz-date']!;
  const scope = `${amzDate.slice(0, 8)}/${REGION}/s3/aws4_request`;
  const signingKey = ['us-east-1', 's3', 'aws4_request'].reduce((key, part) => hmac(key, part), hmac(`AWS4${TEST_CREDENTIALS.secretAccessKey}`, amzDate.slice(0, 8)));
  let previous = /Signature=([0-9a-f]{64})/.exec(headers.authorization!)![1]!;
  const parts: Buffer[] = [];
  const chunks = [];
  for (let at = 0; at < data.length; at += chunkSize) chunks.push(Buffer.from(data.subarray(at, at + chunkSize)));
  chunks.push(Buffer.alloc(0));
  chunks.forEach((chunk, i) => {
    previous = hmac(signingKey, ['AWS4-HMAC-SHA256-PAYLOAD', amzDate, scope, previous, sha(''), sha(chunk)].join('\n')).toString('hex');
    if (tamper && i === chunks.length - 2) chunk[0] = 0x62;
    parts.push(Buffer.from(`${chunk.length.toString(16)};chunk-signature=${previous}\r\n`), chunk, Buffer.from('\r\n'));
  });
  return Buffer.concat(parts);
}

function writeConfig(config: Record<string, unknown>): string {
  const file = path.join(tempDir(), 'config.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
}

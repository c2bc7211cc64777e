/**
 * The S3 backend end to end: the real server with `storage.type = "s3"` against s3rver (a real,
 * independent S3-protocol server), driven by the official SDKs. Inputs stream from S3 into the
 * model and outputs stream back, so a 200 MB input moves through a server whose memory stays small.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { InvokeEndpointAsyncCommand } from '@aws-sdk/client-sagemaker-runtime';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3Server, type S3Server } from './support/s3-server.js';
import { controlEndpoint, invocationRows, objectFile, startServer, tempDir, waitFor, type ServerProcess } from './support/server.js';
import { signedFetch } from './support/signing.js';

const MiB = 1024 * 1024;
let s3: S3Server;
let server: ServerProcess;

function endpoint(name: string, outputBucket = 'outputs') {
  return controlEndpoint(name, {
    asyncInferenceConfig: {
      OutputConfig: { S3OutputPath: `s3://${outputBucket}/${name}/out`, S3FailurePath: `s3://outputs/${name}/fail` },
      ClientConfig: { MaxConcurrentInvocationsPerInstance: 2 },
    },
  });
}

beforeAll(async () => {
  s3 = await startS3Server({ buckets: ['inputs', 'outputs'] });
  server = await startServer({
    config: {
      storage: { type: 's3', endpoint: s3.url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
      endpoints: [endpoint('ep'), endpoint('no-bucket', 'missing-bucket')],
    },
  });
});

afterAll(async () => {
  expect(await server.stop()).toBe(0);
  await s3.close();
});

function keyOf(uri: string): { Bucket: string; Key: string } {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri)!;
  return { Bucket: m[1]!, Key: m[2]! };
}

async function waitForS3Object(uri: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(async () => s3.client.send(new HeadObjectCommand(keyOf(uri))).then(() => true, () => false), timeoutMs, `object ${uri}`);
}

async function readS3Object(uri: string): Promise<{ text: string; contentType?: string }> {
  const res = await s3.client.send(new GetObjectCommand(keyOf(uri)));
  return { text: await res.Body!.transformToString(), ...(res.ContentType !== undefined && { contentType: res.ContentType }) };
}

async function metric(name: string, endpointName: string): Promise<number> {
  const text = await (await signedFetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`endpoint="${endpointName}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** Deterministic bytes, made as they are read: the test never holds the whole input either. */
function patterned(totalBytes: number, hash: ReturnType<typeof createHash>): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= totalBytes) return void this.push(null);
      const chunk = Buffer.alloc(Math.min(MiB, totalBytes - sent), (sent / MiB) % 251);
      chunk.writeUInt32BE(sent, 0);
      hash.update(chunk);
      sent += chunk.length;
      this.push(chunk);
    },
  });
}

function peakRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

describe('storage on S3 (s3rver)', () => {
  it('writes the output to S3 with the model response Content-Type', async () => {
    const res = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'ep', Body: Buffer.from('{"x":1}'), ContentType: 'application/json' }));
    expect(res.OutputLocation).toMatch(/^s3:\/\/outputs\/ep\/out\/[0-9a-f-]{36}\.out$/);
    await waitForS3Object(res.OutputLocation!);
    const out = await readS3Object(res.OutputLocation!);
    expect(out.contentType).toBe('application/json');
    expect(JSON.parse(out.text).bodyLength).toBe(7);
  });

  it('streams a 200 MB InputLocation through the model and back to S3 with the server RSS under 200 MB', async () => {
    const size = 200 * MiB;
    const inputHash = createHash('sha256');
    await new Upload({ client: s3.client, params: { Bucket: 'inputs', Key: 'big/input.bin', Body: patterned(size, inputHash) }, partSize: 8 * MiB }).done();
    
    const started = Date.now();
    const res = await server.client.send(new InvokeEndpointAsyncCommand({
      EndpointName: 'ep', InputLocation: 's3://inputs/big/input.bin', ContentType: 'application/octet-stream', CustomAttributes: 'echo=1',
    }));
    // Wait for the recorded outcome, not the object: s3rver makes a multipart object visible while it still assembles it.
    await waitFor(() => invocationRows(server.dataDir).some((r) => res.OutputLocation!.includes(r.id) && r.state === 'completed'), 180_000, 'the invocation to complete');
    const out = await s3.client.send(new GetObjectCommand(keyOf(res.OutputLocation!)));
    expect(out.ContentLength).toBe(size);
    expect(out.ContentType).toBe('application/x-echo');
    const outputHash = createHash('sha256');
    for await (const chunk of out.Body as Readable) outputHash.update(chunk as Buffer);
    expect(outputHash.digest('hex')).toBe(inputHash.digest('hex'));
    const peak = peakRssBytes(server.child.pid!);
    console.log(`200 MB round trip in ${Date.now() - started} ms; server peak RSS ${(peak / MiB).toFixed(1)} MiB`);
    expect(peak).toBeLessThan(200 * MiB);
    expect(await metric('asyncinfer_request_download_latency_seconds_count', 'ep')).toBeGreaterThanOrEqual(1);
  }, 240_000);

  it('fails a missing input with a failure object and counts a RequestDownloadFailure', async () => {
    const before = await metric('asyncinfer_request_download_failures_total', 'ep');
    const res = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'ep', InputLocation: 's3://inputs/does/not-exist.json' }));
    await waitForS3Object(res.FailureLocation!);
    const failure = await readS3Object(res.FailureLocation!);
    expect(failure.contentType).toBe('application/json');
    expect(JSON.parse(failure.text).message).toMatch(/^ClientError: Could not read the input at s3:\/\/inputs\/does\/not-exist\.json: the object does not exist/);
    expect(await metric('asyncinfer_request_download_failures_total', 'ep')).toBe(before + 1);
  });

  it('retries an output upload with backoff, then fails the invocation and counts a ResponseUploadFailure', async () => {
    const res = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'no-bucket', Body: Buffer.from('{}') }));
    await waitForS3Object(res.FailureLocation!, 30_000);
    const failure = JSON.parse((await readS3Object(res.FailureLocation!)).text);
    expect(failure.message).toMatch(/^ClientError: Could not upload the response to s3:\/\/missing-bucket\/no-bucket\/out\/.*\.out: /);
    const retries = server.logs.filter((l) => l.msg === 'writing the outcome object failed; retrying' && l.id === /([0-9a-f-]{36})\.out$/.exec(res.OutputLocation!)![1]);
    expect(retries.map((l) => l.attempt)).toEqual([1, 2, 3]);
    expect(await metric('asyncinfer_response_upload_failures_total', 'no-bucket')).toBe(1);
  });

  it('reads an https:// InputLocation (a presigned URL)', async () => {
    await s3.client.send(new PutObjectCommand({ Bucket: 'inputs', Key: 'presigned/in.json', Body: '{"presigned":true}' }));
    const presigned = new URL(await getSignedUrl(s3.client, new GetObjectCommand({ Bucket: 'inputs', Key: 'presigned/in.json' }), { expiresIn: 600 }));
    // The presigned URL over TLS: a proxy with a throwaway certificate the server is told to trust.
    const proxy = await startTlsProxy(presigned.origin);
    try {
      const url = `${proxy.url}${presigned.pathname}${presigned.search}`;
      // The operator lists the proxy's loopback address: the outbound policy refuses unlisted hosts and loopback.
      const tlsServer = await startServer({
        config: { endpoints: [controlEndpoint('tls')], outbound: { allow: [new URL(proxy.url).host] } }, env: { NODE_EXTRA_CA_CERTS: proxy.certFile },
      });
      try {
        const res = await tlsServer.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'tls', InputLocation: url, ContentType: 'application/json' }));
        await waitFor(() => tlsServer.logs.some((l) => l.msg === 'invocation completed'), 15_000, 'the invocation to complete');
        expect(proxy.requests.some((r) => r.includes('X-Amz-Signature='))).toBe(true);
        const out = JSON.parse(readFileSync(objectFile(tlsServer.dataDir, res.OutputLocation!), 'utf8'));
        expect(Buffer.from(out.bodyBase64, 'base64').toString()).toBe('{"presigned":true}');
      } finally {
        expect(await tlsServer.stop()).toBe(0);
      }
    } finally {
      proxy.close();
    }
  });
});

/** An HTTPS proxy to `target` with a fresh self-signed certificate for 127.0.0.1. */
async function startTlsProxy(target: string): Promise<{ url: string; certFile: string; requests: string[]; close(): void }> {
  const dir = tempDir('asyncinfer-tls-');
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const requests: string[] = [];
  const server = https.createServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) }, (req, res) => {
    requests.push(req.url!);
    void fetch(`${target}${req.url}`).then(async (upstream) => {
      const body = Buffer.from(await upstream.arrayBuffer());
      res.writeHead(upstream.status, { 'content-length': body.length }).end(body);
    }, () => res.writeHead(502).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `https://127.0.0.1:${port}`, certFile, requests, close: () => server.close() };
}

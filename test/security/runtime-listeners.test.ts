/**
 * Issue 13, findings 6 and 9 (runtime side): listeners that time out and cap their connections,
 * an embedded store that never follows symbolic links, S3-shaped answers to malformed HTTP, and a
 * process that survives an unhandled promise rejection.
 */
import { mkdirSync, mkdtempSync, readFileSync, existsSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlEndpoint, startServer, waitFor, type ServerProcess } from '../support/server.js';
import { TEST_CREDENTIALS, signedFetch } from '../support/signing.js';
import { connectionCapFor, MAX_CONNECTIONS_CEILING } from '../../src/gateway/tls.js';

let server: ServerProcess;
let s3: S3Client;

beforeAll(async () => {
  server = await startServer({ config: { endpoints: [controlEndpoint('control')] }, waitForReady: false });
  s3 = new S3Client({ endpoint: server.s3Url!, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: TEST_CREDENTIALS });
  await s3.send(new CreateBucketCommand({ Bucket: 'links' }));
});

afterAll(async () => {
  s3?.destroy();
  expect(await server.stop()).toBe(0);
});

function port(url: string): number {
  return Number(new URL(url).port);
}

/**
 * Opens `count` connections that send nothing, in batches (so the listen backlog never holds them
 * back); resolves once all are open (or were refused/closed at once).
 */
async function idleConnections(url: string, count: number): Promise<{ sockets: net.Socket[]; closed: () => number }> {
  let closed = 0;
  const sockets: net.Socket[] = [];
  for (let opened = 0; opened < count; opened += 250) {
    sockets.push(...await Promise.all(Array.from({ length: Math.min(250, count - opened) }, () => new Promise<net.Socket>((resolve) => {
      const socket = net.connect(port(url), '127.0.0.1');
      socket.on('error', () => undefined);
      // Read what the server says, so its close is seen.
      socket.resume();
      socket.once('close', () => { closed++; });
      socket.once('connect', () => resolve(socket));
      socket.once('close', () => resolve(socket));
    }))));
  }
  return { sockets, closed: () => closed };
}

async function s3Answers(): Promise<boolean> {
  const res = await signedFetch(`${server.s3Url!}/links?list-type=2`, { service: 's3' }).catch(() => undefined);
  return res?.status === 200;
}

describe('listener limits (finding 6)', () => {
  it('idle connections to the S3 port are closed after the header timeout; the port answers again', async () => {
    const { sockets, closed } = await idleConnections(server.s3Url!, 300);
    await waitFor(() => closed() === sockets.length, 20_000, 'every idle connection to be closed by the server');
    expect(await s3Answers()).toBe(true);
  }, 30_000);

  it('each listener caps its open connections, and still serves once they go', async () => {
    // The server's cap, from its own open-file limit (as it computes it).
    const soft = /^Max open files\s+(\S+)/m.exec(readFileSync(`/proc/${server.child.pid}/limits`, 'utf8'))![1]!;
    const cap = connectionCapFor(soft === 'unlimited' ? Infinity : Number(soft));
    expect(cap).toBeLessThanOrEqual(MAX_CONNECTIONS_CEILING);
    for (const url of [server.s3Url!, server.url]) {
      const { sockets, closed } = await idleConnections(url, cap + 100);
      // Past the cap Node closes new connections at once.
      await waitFor(() => closed() >= 100, 10_000, `connections past the cap on ${url} to be refused`);
      for (const s of sockets) s.destroy();
    }
    await waitFor(s3Answers, 5_000, 'the S3 port to answer');
    const ping = await signedFetch(`${server.url}/ping`);
    expect(ping.status).toBe(200);
  }, 60_000);
});

describe('the embedded store never follows symbolic links (finding 9)', () => {
  const outside = mkdtempSync(path.join(tmpdir(), 'asyncinfer-outside-'));
  writeFileSync(path.join(outside, 'secret.txt'), 'do not read me');
  mkdirSync(path.join(outside, 'dir'));
  writeFileSync(path.join(outside, 'dir', 'victim.txt'), 'do not delete me');

  it('reads, lists, writes and deletes through a link are refused; nothing outside the data dir changes', async () => {
    const bucket = path.join(server.dataDir, 's3', 'links');
    symlinkSync(path.join(outside, 'secret.txt'), path.join(bucket, 'file-link'));
    symlinkSync(path.join(outside, 'dir'), path.join(bucket, 'dir-link'));
    symlinkSync(outside, path.join(server.dataDir, 's3', 'linked-bucket'));

    const read = await s3.send(new GetObjectCommand({ Bucket: 'links', Key: 'file-link' })).catch((e: Error) => e);
    expect(read).toBeInstanceOf(Error);
    const throughDir = await s3.send(new GetObjectCommand({ Bucket: 'links', Key: 'dir-link/victim.txt' })).catch((e: Error) => e);
    expect(throughDir).toBeInstanceOf(Error);
    const throughBucket = await s3.send(new GetObjectCommand({ Bucket: 'linked-bucket', Key: 'secret.txt' })).catch((e: Error) => e);
    expect(throughBucket).toBeInstanceOf(Error);

    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'links' }));
    expect(listed.Contents ?? []).toEqual([]);

    const created = await s3.send(new PutObjectCommand({ Bucket: 'links', Key: 'dir-link/planted.txt', Body: 'x' })).catch((e: Error) => e);
    expect(created).toBeInstanceOf(Error);
    expect(existsSync(path.join(outside, 'dir', 'planted.txt'))).toBe(false);

    await s3.send(new DeleteObjectCommand({ Bucket: 'links', Key: 'dir-link/victim.txt' })).catch((e: Error) => e);
    expect(readFileSync(path.join(outside, 'dir', 'victim.txt'), 'utf8')).toBe('do not delete me');

    // An ordinary object beside the links is still served.
    await s3.send(new PutObjectCommand({ Bucket: 'links', Key: 'plain.txt', Body: 'fine' }));
    const plain = await s3.send(new GetObjectCommand({ Bucket: 'links', Key: 'plain.txt' }));
    expect(await plain.Body!.transformToString()).toBe('fine');
  });
});

describe('malformed HTTP on the S3 port (finding 9)', () => {
  it('is answered in S3\'s XML error shape', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port(server.s3Url!), '127.0.0.1', () => socket.write('GET /links HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n'));
      let data = '';
      socket.on('data', (d) => { data += d.toString('latin1'); });
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
    });
    const [head, body] = answer.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(head!.toLowerCase()).toContain('content-type: application/xml');
    expect(body).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n<Error><Code>InvalidRequest<\/Code><Message>[^<]+<\/Message>/);
    expect(await s3Answers()).toBe(true);
  });
});

describe('unhandled promise rejections (finding 9)', () => {
  it('are logged and counted; the server goes on serving', async () => {
    // A rejection nobody handles, raised inside the server process some time after it started.
    const source = 'setTimeout(() => Promise.reject(new Error("planted")), 1500);';
    const planted = `data:text/javascript;base64,${Buffer.from(source).toString('base64')}`;
    const victim = await startServer({ config: { endpoints: [] }, waitForReady: false, env: { NODE_OPTIONS: `--import=${planted}` } });
    try {
      await waitFor(() => victim.logs.some((l) => l.unhandledRejections === 1) || victim.child.exitCode !== null, 10_000, 'the rejection');
      expect(victim.child.exitCode).toBeNull();
      const res = await signedFetch(`${victim.s3Url!}/`, { service: 's3' });
      expect(res.status).toBe(200);
    } finally {
      await victim.stop();
    }
  });
});

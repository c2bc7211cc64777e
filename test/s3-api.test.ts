/**
 * The embedded store's S3 API end to end: the real server, driven by @aws-sdk/client-s3 (with
 * its default flexible checksums, so streamed bodies arrive aws-chunked with CRC32 trailers),
 * lib-storage's multipart Upload, Debian's AWS CLI (`aws s3 …`), and raw HTTP where the SDKs
 * hide the wire. Objects put through S3 are InputLocations, and outputs are read back by S3.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand, CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, DeleteObjectsCommand,
  GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListBucketsCommand, ListObjectsCommand, ListObjectsV2Command,
  PutObjectCommand, S3Client, UploadPartCommand, type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { InvokeEndpointAsyncCommand } from '@aws-sdk/client-sagemaker-runtime';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlEndpoint, runCommand, startServer, tempDir, waitFor, type ServerProcess } from './support/server.js';
import { signHeaders } from '../src/cli/signed-request.js';
import { AWS_CLI_ENV, TEST_CREDENTIALS } from './support/signing.js';

const MiB = 1024 * 1024;
// Debian's package; a pip-installed aws earlier in PATH may be another major version.
const AWS = '/usr/bin/aws';

let server: ServerProcess;
let s3: S3Client;
let s3Url: string;

beforeAll(async () => {
  server = await startServer({ config: { endpoints: [controlEndpoint('control')] } });
  s3Url = server.s3Url!;
  s3 = new S3Client({
    endpoint: s3Url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1,
    credentials: TEST_CREDENTIALS,
  });
});

afterAll(async () => {
  s3?.destroy();
  expect(await server.stop()).toBe(0);
});

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');

async function errorOf(p: Promise<unknown>): Promise<{ name: string; status?: number; message: string; requestId?: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number; requestId?: string } };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode, requestId: e.$metadata?.requestId };
  }
  throw new Error('expected the call to fail');
}

async function bucket(name: string): Promise<string> {
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

async function read(Bucket: string, Key: string, Range?: string) {
  const res = await s3.send(new GetObjectCommand({ Bucket, Key, ...(Range && { Range }) }));
  return { res, text: await res.Body!.transformToString() };
}

/** Raw HTTP against the S3 port, for what the SDKs do not show; signed as the SDKs sign. */
async function raw(method: string, urlPath: string, unsigned: Record<string, string | number> = {}, body?: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; continued: boolean }> {
  const headers = await signHeaders({
    method, url: `${s3Url}${urlPath}`, region: 'us-east-1', service: 's3', credentials: TEST_CREDENTIALS,
    headers: Object.fromEntries(Object.entries(unsigned).map(([k, v]) => [k, String(v)])), ...(body && { body }),
  });
  return new Promise((resolve, reject) => {
    let continued = false;
    const req = http.request(`${s3Url}${urlPath}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString(), continued }));
    });
    req.on('error', reject);
    if (headers.expect === '100-continue') {
      req.on('continue', () => {
        continued = true;
        req.end(body);
      });
      req.flushHeaders();
    } else {
      req.end(body);
    }
  });
}

describe('buckets', () => {
  it('creates, heads, lists and deletes buckets, with S3 error codes', async () => {
    await bucket('life-cycle');
    await s3.send(new HeadBucketCommand({ Bucket: 'life-cycle' }));
    const list = await s3.send(new ListBucketsCommand({}));
    expect(list.Buckets!.map((b) => b.Name)).toContain('life-cycle');
    expect(Math.abs(list.Buckets!.find((b) => b.Name === 'life-cycle')!.CreationDate!.getTime() - Date.now())).toBeLessThan(60_000);
    expect(list.Owner?.ID).toBe('asyncinfer');

    expect(await errorOf(s3.send(new CreateBucketCommand({ Bucket: 'life-cycle' })))).toMatchObject({ name: 'BucketAlreadyOwnedByYou', status: 409 });
    expect(await errorOf(s3.send(new CreateBucketCommand({ Bucket: 'Bad_Name' })))).toMatchObject({ name: 'InvalidBucketName', status: 400 });

    await s3.send(new PutObjectCommand({ Bucket: 'life-cycle', Key: 'x', Body: 'x' }));
    const notEmpty = await errorOf(s3.send(new DeleteBucketCommand({ Bucket: 'life-cycle' })));
    expect(notEmpty).toMatchObject({ name: 'BucketNotEmpty', status: 409 });
    expect(notEmpty.message).toContain('aws s3 rm s3://life-cycle --recursive');
    await s3.send(new DeleteObjectCommand({ Bucket: 'life-cycle', Key: 'x' }));
    await s3.send(new DeleteBucketCommand({ Bucket: 'life-cycle' }));
    // HEAD errors have no body, so the SDK names them after the status.
    expect(await errorOf(s3.send(new HeadBucketCommand({ Bucket: 'life-cycle' })))).toMatchObject({ name: 'NotFound', status: 404 });
    expect(await errorOf(s3.send(new DeleteBucketCommand({ Bucket: 'life-cycle' })))).toMatchObject({ name: 'NoSuchBucket', status: 404 });
  });
});

describe('objects', () => {
  it('round-trips bytes, Content-Type, user metadata and headers; the ETag is the MD5', async () => {
    await bucket('objects');
    const body = Buffer.from('{"hello":"world"}');
    const put = await s3.send(new PutObjectCommand({
      Bucket: 'objects', Key: 'docs/hello.json', Body: body, ContentType: 'application/json; charset=utf-8',
      Metadata: { owner: 'ada', purpose: 'test' }, CacheControl: 'max-age=60', ContentDisposition: 'attachment; filename="h.json"',
    }));
    expect(put.ETag).toBe(`"${md5(body)}"`);
    expect(put.ChecksumCRC32).toBeDefined();
    expect(put.$metadata.requestId).toMatch(/^[0-9A-F]{16}$/);

    const { res, text } = await read('objects', 'docs/hello.json');
    expect(text).toBe(body.toString());
    expect(res).toMatchObject({
      ContentType: 'application/json; charset=utf-8', ContentLength: body.length, ETag: `"${md5(body)}"`, AcceptRanges: 'bytes',
      Metadata: { owner: 'ada', purpose: 'test' }, CacheControl: 'max-age=60', ContentDisposition: 'attachment; filename="h.json"',
    });
    expect(Math.abs(res.LastModified!.getTime() - Date.now())).toBeLessThan(60_000);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'objects', Key: 'docs/hello.json' }));
    expect(head).toMatchObject({ ContentType: 'application/json; charset=utf-8', ContentLength: body.length, ETag: `"${md5(body)}"`, Metadata: { owner: 'ada', purpose: 'test' } });
  });

  it('takes a streamed body (aws-chunked with a CRC32 trailer) and checks the checksum on the way back', async () => {
    await bucket('streams');
    const parts = [Buffer.alloc(300_000, 1), Buffer.alloc(123_457, 2)];
    const put = await s3.send(new PutObjectCommand({ Bucket: 'streams', Key: 'chunked.bin', Body: Readable.from(parts), ContentLength: 423_457 }));
    expect(put.ETag).toBe(`"${md5(Buffer.concat(parts))}"`);
    expect(put.ChecksumCRC32).toBeDefined();
    const got = await s3.send(new GetObjectCommand({ Bucket: 'streams', Key: 'chunked.bin', ChecksumMode: 'ENABLED' }));
    expect(got.ChecksumCRC32).toBe(put.ChecksumCRC32);
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.concat(parts))).toBe(true);
  });

  it('serves byte ranges as 206 with Content-Range, and refuses one past the end with InvalidRange', async () => {
    await bucket('ranges');
    await s3.send(new PutObjectCommand({ Bucket: 'ranges', Key: 'digits.txt', Body: '0123456789', ContentType: 'text/plain' }));
    const middle = await read('ranges', 'digits.txt', 'bytes=2-4');
    expect(middle.text).toBe('234');
    expect(middle.res).toMatchObject({ ContentRange: 'bytes 2-4/10', ContentLength: 3, ContentType: 'text/plain' });
    expect(middle.res.$metadata.httpStatusCode).toBe(206);
    expect((await read('ranges', 'digits.txt', 'bytes=7-')).text).toBe('789');
    expect((await read('ranges', 'digits.txt', 'bytes=-3')).text).toBe('789');
    expect((await read('ranges', 'digits.txt', 'bytes=8-100')).res.ContentRange).toBe('bytes 8-9/10');
    expect(await errorOf(read('ranges', 'digits.txt', 'bytes=10-'))).toMatchObject({ name: 'InvalidRange', status: 416 });
  });

  it('deletes objects one at a time (idempotently) and in batches, freeing a key for a file of its folder\'s name', async () => {
    await bucket('deletions');
    for (const key of ['a/b', 'c', 'd', 'e/f/g']) await s3.send(new PutObjectCommand({ Bucket: 'deletions', Key: key, Body: key }));
    const conflict = await errorOf(s3.send(new PutObjectCommand({ Bucket: 'deletions', Key: 'a', Body: 'x' })));
    expect(conflict).toMatchObject({ name: 'InvalidArgument', status: 400 });
    expect(conflict.message).toContain('"a" and "a/b"');

    const del = await s3.send(new DeleteObjectCommand({ Bucket: 'deletions', Key: 'a/b' }));
    expect(del.$metadata.httpStatusCode).toBe(204);
    await s3.send(new DeleteObjectCommand({ Bucket: 'deletions', Key: 'a/b' }));
    await s3.send(new PutObjectCommand({ Bucket: 'deletions', Key: 'a', Body: 'now a file' }));

    const batch = await s3.send(new DeleteObjectsCommand({ Bucket: 'deletions', Delete: { Objects: [{ Key: 'c' }, { Key: 'e/f/g' }, { Key: 'never-was' }] } }));
    expect(batch.Deleted!.map((d) => d.Key).sort()).toEqual(['c', 'e/f/g', 'never-was']);
    expect(batch.Errors ?? []).toEqual([]);
    const quiet = await s3.send(new DeleteObjectsCommand({ Bucket: 'deletions', Delete: { Objects: [{ Key: 'd' }], Quiet: true } }));
    expect(quiet.Deleted ?? []).toEqual([]);
    const left = await s3.send(new ListObjectsV2Command({ Bucket: 'deletions' }));
    expect(left.Contents!.map((o) => o.Key)).toEqual(['a']);
  });

  it('copies an object with its metadata, or with new metadata', async () => {
    await bucket('copies');
    await s3.send(new PutObjectCommand({ Bucket: 'copies', Key: 'src.txt', Body: 'copy me', ContentType: 'text/plain', Metadata: { k: 'v' } }));
    const copy = await s3.send(new CopyObjectCommand({ Bucket: 'copies', Key: 'dir/dst.txt', CopySource: 'copies/src.txt' }));
    expect(copy.CopyObjectResult?.ETag).toBe(`"${md5('copy me')}"`);
    const kept = await read('copies', 'dir/dst.txt');
    expect(kept).toMatchObject({ text: 'copy me', res: { ContentType: 'text/plain', Metadata: { k: 'v' } } });
    await s3.send(new CopyObjectCommand({ Bucket: 'copies', Key: 'src.txt', CopySource: 'copies/src.txt', MetadataDirective: 'REPLACE', ContentType: 'text/markdown' }));
    expect((await s3.send(new HeadObjectCommand({ Bucket: 'copies', Key: 'src.txt' }))).ContentType).toBe('text/markdown');
    expect(await errorOf(s3.send(new CopyObjectCommand({ Bucket: 'copies', Key: 'x', CopySource: 'copies/missing' })))).toMatchObject({ name: 'NoSuchKey' });
  });

  it('answers S3 error codes that say what is wrong', async () => {
    await bucket('errors');
    const missingKey = await errorOf(s3.send(new GetObjectCommand({ Bucket: 'errors', Key: 'nope.txt' })));
    expect(missingKey).toMatchObject({ name: 'NoSuchKey', status: 404 });
    expect(missingKey.message).toContain('aws s3 ls s3://errors/');
    expect(missingKey.requestId).toMatch(/^[0-9A-F]{16}$/);
    expect(await errorOf(s3.send(new GetObjectCommand({ Bucket: 'no-such-bucket', Key: 'k' })))).toMatchObject({ name: 'NoSuchBucket', status: 404 });
    expect(await errorOf(s3.send(new PutObjectCommand({ Bucket: 'no-such-bucket', Key: 'k', Body: 'x' })))).toMatchObject({ name: 'NoSuchBucket', status: 404 });
    expect(await errorOf(s3.send(new HeadObjectCommand({ Bucket: 'errors', Key: 'nope' })))).toMatchObject({ name: 'NotFound', status: 404 });
    expect(await errorOf(s3.send(new PutObjectCommand({ Bucket: 'errors', Key: 'k'.repeat(1025), Body: 'x' })))).toMatchObject({ name: 'KeyTooLongError', status: 400 });
    expect(await errorOf(s3.send(new PutObjectCommand({ Bucket: 'errors', Key: 'a//b', Body: 'x' })))).toMatchObject({ name: 'InvalidArgument', status: 400 });
    expect(await errorOf(s3.send(new UploadPartCommand({ Bucket: 'errors', Key: 'k', UploadId: '00000000-0000-0000-0000-000000000000', PartNumber: 1, Body: 'x' }))))
      .toMatchObject({ name: 'NoSuchUpload', status: 404 });
    expect(await errorOf(s3.send(new PutObjectCommand({ Bucket: 'errors', Key: 'k', Body: 'x', ContentMD5: Buffer.from(md5('y'), 'hex').toString('base64') }))))
      .toMatchObject({ name: 'BadDigest', status: 400 });
  });

  it('sends the XML error document with the resource and request id, and no body for HEAD', async () => {
    const res = await raw('GET', '/errors/missing%20key.txt');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('application/xml');
    expect(res.headers['x-amz-request-id']).toMatch(/^[0-9A-F]{16}$/);
    expect(res.body).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>NoSuchKey<\/Code><Message>[^<]+<\/Message><Key>missing key.txt<\/Key><Resource>\/errors\/missing key.txt<\/Resource><RequestId>[0-9A-F]{16}<\/RequestId><HostId>[^<]+<\/HostId><\/Error>$/);
    const head = await raw('HEAD', '/errors/missing');
    expect(head).toMatchObject({ status: 404, body: '' });
    expect(head.headers['x-amz-request-id']).toBeDefined();
    const acl = await raw('GET', '/errors?acl');
    expect(acl.status).toBe(501);
    expect(acl.body).toContain('<Code>NotImplemented</Code>');
    expect((await raw('PATCH', '/errors/k')).status).toBe(405);
  });

  it('answers Expect: 100-continue only when it will read the body', async () => {
    const body = Buffer.from('continued');
    const ok = await raw('PUT', '/errors/continued.txt', { expect: '100-continue', 'content-length': body.length }, body);
    expect(ok).toMatchObject({ status: 200, continued: true });
    expect(ok.headers.etag).toBe(`"${md5(body)}"`);
    const refused = await raw('PUT', '/no-such-bucket/k', { expect: '100-continue', 'content-length': body.length }, body);
    expect(refused).toMatchObject({ status: 404, continued: false });
    expect(refused.body).toContain('<Code>NoSuchBucket</Code>');
    const noUpload = await raw('PUT', '/errors/k?partNumber=1&uploadId=00000000-0000-0000-0000-000000000000', { expect: '100-continue', 'content-length': body.length }, body);
    expect(noUpload).toMatchObject({ status: 404, continued: false });
    expect(noUpload.body).toContain('<Code>NoSuchUpload</Code>');
  });
});

describe('listing', () => {
  const keys = ['a.txt', 'b/1.txt', 'b/2.txt', 'b/c/3.txt', 'd/4.txt', 'e.txt', 'sp ace+plus.txt'];

  beforeAll(async () => {
    await bucket('listing');
    for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: 'listing', Key: key, Body: key }));
  });

  it('lists every key in order, with size, ETag and date', async () => {
    const res = await s3.send(new ListObjectsV2Command({ Bucket: 'listing' }));
    expect(res.Contents!.map((o) => o.Key)).toEqual(keys);
    expect(res).toMatchObject({ KeyCount: keys.length, IsTruncated: false, Name: 'listing', MaxKeys: 1000 });
    expect(res.Contents![0]).toMatchObject({ Key: 'a.txt', Size: 5, ETag: `"${md5('a.txt')}"`, StorageClass: 'STANDARD' });
  });

  it('rolls keys up into CommonPrefixes at the delimiter, under a prefix', async () => {
    const top = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', Delimiter: '/' }));
    expect(top.Contents!.map((o) => o.Key)).toEqual(['a.txt', 'e.txt', 'sp ace+plus.txt']);
    expect(top.CommonPrefixes!.map((p) => p.Prefix)).toEqual(['b/', 'd/']);
    const b = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', Delimiter: '/', Prefix: 'b/' }));
    expect(b.Contents!.map((o) => o.Key)).toEqual(['b/1.txt', 'b/2.txt']);
    expect(b.CommonPrefixes!.map((p) => p.Prefix)).toEqual(['b/c/']);
    const after = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', StartAfter: 'b/2.txt' }));
    expect(after.Contents!.map((o) => o.Key)).toEqual(['b/c/3.txt', 'd/4.txt', 'e.txt', 'sp ace+plus.txt']);
  });

  it('pages with MaxKeys and continuation tokens, keys and prefixes alike', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page: ListObjectsV2CommandOutput = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', Delimiter: '/', MaxKeys: 2, ...(token && { ContinuationToken: token }) }));
      pages++;
      expect(page.KeyCount).toBeLessThanOrEqual(2);
      seen.push(...(page.Contents ?? []).map((o) => o.Key!), ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual(['a.txt', 'b/', 'd/', 'e.txt', 'sp ace+plus.txt']);
    expect(await errorOf(s3.send(new ListObjectsV2Command({ Bucket: 'listing', ContinuationToken: 'not a token' })))).toMatchObject({ name: 'InvalidArgument' });
  });

  it('answers ListObjects v1 with markers, and URL-encodes keys when asked', async () => {
    const v1 = await s3.send(new ListObjectsCommand({ Bucket: 'listing', MaxKeys: 3 }));
    expect(v1.Contents!.map((o) => o.Key)).toEqual(keys.slice(0, 3));
    expect(v1.IsTruncated).toBe(true);
    const next = await s3.send(new ListObjectsCommand({ Bucket: 'listing', Marker: v1.Contents!.at(-1)!.Key }));
    expect(next.Contents!.map((o) => o.Key)).toEqual(keys.slice(3));
    const encoded = await raw('GET', '/listing?list-type=2&prefix=sp&encoding-type=url');
    expect(encoded.body).toContain('<Key>sp%20ace%2Bplus.txt</Key>');
    expect(encoded.body).toContain('<EncodingType>url</EncodingType>');
    expect(await errorOf(s3.send(new ListObjectsV2Command({ Bucket: 'no-such-bucket' })))).toMatchObject({ name: 'NoSuchBucket' });
  });
});

describe('multipart uploads', () => {
  it('uploads a 20 MB stream with lib-storage (5 MB parts, CRC32 per part) and reads it back whole and in ranges', async () => {
    await bucket('multipart');
    const size = 20 * MiB + 12_345;
    const source = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4096) source.writeUInt32BE(i, i);
    const upload = new Upload({
      client: s3, partSize: 5 * MiB, queueSize: 4,
      params: { Bucket: 'multipart', Key: 'big/blob.bin', Body: Readable.from(chunksOf(source, 64 * 1024)), ContentType: 'application/x-blob', Metadata: { run: '1' } },
    });
    const done = await upload.done();
    expect(done.ETag).toMatch(/^"[0-9a-f]{32}-5"$/);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'multipart', Key: 'big/blob.bin' }));
    expect(head).toMatchObject({ ContentLength: size, ContentType: 'application/x-blob', ETag: done.ETag, Metadata: { run: '1' } });
    const whole = await s3.send(new GetObjectCommand({ Bucket: 'multipart', Key: 'big/blob.bin' }));
    expect(md5(Buffer.from(await whole.Body!.transformToByteArray()))).toBe(md5(source));
    const tail = await s3.send(new GetObjectCommand({ Bucket: 'multipart', Key: 'big/blob.bin', Range: `bytes=${size - 5000}-` }));
    expect(tail.ContentRange).toBe(`bytes ${size - 5000}-${size - 1}/${size}`);
    expect(Buffer.from(await tail.Body!.transformToByteArray()).equals(source.subarray(size - 5000))).toBe(true);
  });
});

function* chunksOf(buf: Buffer, size: number): Generator<Buffer> {
  for (let at = 0; at < buf.length; at += size) yield buf.subarray(at, at + size);
}

describe('with InvokeEndpointAsync', () => {
  it('runs an input PUT through S3 and serves the output by GetObject with the model Content-Type', async () => {
    // The endpoint writes to s3://bucket/control/…; the input goes to a bucket of its own.
    await bucket('inputs');
    const input = Buffer.from(JSON.stringify({ features: [1, 2, 3] }));
    await s3.send(new PutObjectCommand({ Bucket: 'inputs', Key: 'requests/r1.json', Body: input, ContentType: 'application/json' }));
    const res = await server.client.send(new InvokeEndpointAsyncCommand({
      EndpointName: 'control', InputLocation: 's3://inputs/requests/r1.json', ContentType: 'application/json',
    }));
    const [, outBucket, outKey] = /^s3:\/\/([^/]+)\/(.+)$/.exec(res.OutputLocation!)!;
    await waitFor(() => s3.send(new HeadObjectCommand({ Bucket: outBucket, Key: outKey })).then(() => true, () => false), 20_000, 'the output object');
    const out = await read(outBucket!, outKey!);
    expect(out.res.ContentType).toBe('application/json');
    const model = JSON.parse(out.text) as { bodyBase64: string; headers: { contentType: string } };
    expect(Buffer.from(model.bodyBase64, 'base64').equals(input)).toBe(true);
    expect(model.headers.contentType).toBe('application/json');
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: outBucket, Prefix: 'control/out/' }));
    expect(listed.Contents!.map((o) => o.Key)).toContain(outKey);
  });
});

describe('the AWS CLI (aws s3)', () => {
  const dir = tempDir('asyncinfer-cli-s3-');
  const env = { ...process.env, ...AWS_CLI_ENV };
  const aws = (...args: string[]) => runCommand(AWS, ['s3', ...args, '--endpoint-url', s3Url], env);

  it('makes a bucket, copies a small and a 20 MB (multipart) file up and down, lists and removes them', async () => {
    const small = path.join(dir, 'small.csv');
    const big = path.join(dir, 'big.bin');
    writeFileSync(small, '5.1,3.5,1.4,0.2\n');
    const bigBytes = Buffer.alloc(20 * MiB);
    for (let i = 0; i < bigBytes.length; i += 997) bigBytes[i] = i % 256;
    writeFileSync(big, bigBytes);

    expect(await aws('mb', 's3://cli-bucket')).toMatchObject({ code: 0, stdout: 'make_bucket: cli-bucket\n' });
    const upSmall = await aws('cp', small, 's3://cli-bucket/in/small.csv');
    expect(upSmall.stderr).toBe('');
    expect(upSmall.code).toBe(0);
    expect(await aws('cp', big, 's3://cli-bucket/in/big.bin')).toMatchObject({ code: 0, stderr: '' });
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'cli-bucket', Key: 'in/big.bin' }));
    expect(head.ETag).toMatch(/-3"$/); // 8 MB parts: the CLI went multipart
    expect((await s3.send(new HeadObjectCommand({ Bucket: 'cli-bucket', Key: 'in/small.csv' }))).ContentType).toBe('text/csv');

    const ls = await aws('ls', 's3://cli-bucket/in/');
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/\s20971520 big\.bin\n/);
    expect(ls.stdout).toMatch(/\s16 small\.csv\n/);
    const top = await aws('ls', 's3://cli-bucket');
    expect(top.stdout).toContain('PRE in/');
    expect((await aws('ls')).stdout).toMatch(/ cli-bucket\n/);

    const downBig = path.join(dir, 'big.out');
    const downSmall = path.join(dir, 'small.out');
    expect(await aws('cp', 's3://cli-bucket/in/big.bin', downBig)).toMatchObject({ code: 0, stderr: '' });
    expect(await aws('cp', 's3://cli-bucket/in/small.csv', downSmall)).toMatchObject({ code: 0, stderr: '' });
    expect(md5(readFileSync(downBig))).toBe(md5(bigBytes));
    expect(readFileSync(downSmall, 'utf8')).toBe('5.1,3.5,1.4,0.2\n');

    expect(await aws('rm', 's3://cli-bucket/in/small.csv')).toMatchObject({ code: 0, stdout: 'delete: s3://cli-bucket/in/small.csv\n' });
    expect(await aws('rm', 's3://cli-bucket', '--recursive')).toMatchObject({ code: 0 });
    expect((await aws('ls', 's3://cli-bucket/')).stdout).toBe('');
    expect(await aws('rb', 's3://cli-bucket')).toMatchObject({ code: 0 });
    const missing = await aws('cp', 's3://cli-bucket/in/small.csv', downSmall);
    expect(missing.code).not.toBe(0);
  }, 60_000);
});

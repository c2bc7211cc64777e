import { createHash, createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { ChunkSignatureChain } from '../../auth/index.js';
import { AwsChunkedDecoder, isAwsChunked } from './aws-chunked.js';
import { S3Error } from './s3-error.js';

/** Frames `data` as the SDKs do, then cuts the framed bytes into pieces of `pieceSize` (to split lines and chunks anywhere). */
function framed(data: Buffer, chunkSize: number, options: { signature?: boolean; trailers?: string[] } = {}): Buffer {
  const parts: Buffer[] = [];
  const ext = options.signature ? ';chunk-signature=' + 'a'.repeat(64) : '';
  for (let at = 0; at < data.length; at += chunkSize) {
    const chunk = data.subarray(at, at + chunkSize);
    parts.push(Buffer.from(`${chunk.length.toString(16)}${ext}\r\n`), chunk, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`0${ext}\r\n`));
  for (const t of options.trailers ?? []) parts.push(Buffer.from(`${t}\r\n`));
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

function pieces(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, at + size));
  return out;
}

async function decode(input: Buffer[], decodedLength?: number, chain?: ChunkSignatureChain): Promise<{ data: Buffer; trailers: Map<string, string> }> {
  const decoder = new AwsChunkedDecoder({ decodedLength, chain });
  const [data] = await Promise.all([buffer(decoder), pipeline(Readable.from(input), decoder).catch((err: unknown) => { throw err; })]);
  return { data, trailers: decoder.trailers };
}

const data = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));

describe('AwsChunkedDecoder', () => {
  it.each([1, 2, 7, 8192, 1_000_000])('decodes unsigned chunks with a trailer, whatever the network split (%i-byte pieces)', async (size) => {
    const bytes = framed(data, 8192, { trailers: ['x-amz-checksum-crc32:AAAAAA=='] });
    const out = await decode(pieces(bytes, size), data.length);
    expect(out.data.equals(data)).toBe(true);
    expect(out.trailers.get('x-amz-checksum-crc32')).toBe('AAAAAA==');
  });

  it('decodes signed chunks (the signatures are skipped) and an empty body', async () => {
    expect((await decode([framed(data, 65_536, { signature: true })])).data.equals(data)).toBe(true);
    expect((await decode([framed(Buffer.alloc(0), 10)], 0)).data.length).toBe(0);
  });

  it('accepts trailers that end without the final empty line', async () => {
    const bytes = Buffer.from('3\r\nabc\r\n0\r\nx-amz-checksum-sha256:xyz\r\n');
    const out = await decode([bytes]);
    expect(out.data.toString()).toBe('abc');
    expect(out.trailers.get('x-amz-checksum-sha256')).toBe('xyz');
  });

  it.each([
    ['a body cut off mid-chunk', '5\r\nab', 'IncompleteBody'],
    ['a body without its final chunk', '3\r\nabc\r\n', 'IncompleteBody'],
    ['a size that is not hex', 'zz\r\nabc\r\n0\r\n\r\n', 'InvalidRequest'],
    ['a chunk longer than its size', '2\r\nabc\r\n0\r\n\r\n', 'InvalidRequest'],
    ['bytes after the end', '0\r\n\r\nextra', 'InvalidRequest'],
  ])('refuses %s', async (_what, body, code) => {
    const err = await decode([Buffer.from(body)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(S3Error);
    expect((err as S3Error).code).toBe(code);
  });

  it('refuses data whose length differs from x-amz-decoded-content-length', async () => {
    const err = await decode([framed(Buffer.from('abc'), 10)], 4).catch((e: unknown) => e);
    expect((err as S3Error).code).toBe('IncompleteBody');
  });
});

// AWS's examples ("Transferring Payload in Multiple Chunks", "Including Trailing Headers"):
// 66560 bytes of 'a' in chunks of 65536 and 1024, signed at 20130524T000000Z.
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const hmac = (key: Buffer | string, text: string) => createHmac('sha256', key).update(text).digest();
const SIGNING_KEY = ['20130524', 'us-east-1', 's3', 'aws4_request'].reduce<Buffer | string>((key, part) => hmac(key, part), 'AWS4wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY') as Buffer;
const SCOPE = '20130524/us-east-1/s3/aws4_request';
const AWS_DATA = Buffer.alloc(66560, 'a');
const AWS_PLAIN = { seed: '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9', chunks: ['ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648', '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497', 'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9'] };
const AWS_TRAILER = { seed: '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e', chunks: ['b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2', '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7', '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992'], trailer: 'd81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435' };
const chainFrom = (seed: string) => new ChunkSignatureChain(SIGNING_KEY, '20130524T000000Z', SCOPE, seed);

/** The wire bytes of AWS's examples, from their published signatures. */
function awsBody(example: { chunks: string[]; trailer?: string }, options: { finalEmptyLine?: boolean } = {}): Buffer {
  const [first, second, last] = example.chunks as [string, string, string];
  const parts = [`10000;chunk-signature=${first}\r\n`, AWS_DATA.subarray(0, 65536), `\r\n400;chunk-signature=${second}\r\n`, AWS_DATA.subarray(65536), `\r\n0;chunk-signature=${last}\r\n`];
  if (example.trailer) parts.push(`x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:${example.trailer}\r\n`);
  if (options.finalEmptyLine ?? true) parts.push('\r\n');
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
}

/** A body signed as a signing client frames it, chained from `seed`. */
function signedBody(data: Buffer, chunkSize: number, seed: string, trailers: string[] = []): Buffer {
  const parts: Buffer[] = [];
  let previous = seed;
  const signChunk = (chunk: Buffer) => {
    previous = hmac(SIGNING_KEY, ['AWS4-HMAC-SHA256-PAYLOAD', '20130524T000000Z', SCOPE, previous, sha256(''), sha256(chunk)].join('\n')).toString('hex');
    parts.push(Buffer.from(`${chunk.length.toString(16)};chunk-signature=${previous}\r\n`), chunk, Buffer.from(chunk.length > 0 ? '\r\n' : ''));
  };
  for (let at = 0; at < data.length; at += chunkSize) signChunk(data.subarray(at, at + chunkSize));
  signChunk(Buffer.alloc(0));
  if (trailers.length > 0) {
    const text = trailers.map((t) => `${t}\n`).join('');
    const signature = hmac(SIGNING_KEY, ['AWS4-HMAC-SHA256-TRAILER', '20130524T000000Z', SCOPE, previous, sha256(text)].join('\n')).toString('hex');
    parts.push(Buffer.from(`${trailers.map((t) => `${t}\r\n`).join('')}x-amz-trailer-signature:${signature}\r\n`));
  }
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

async function failureOf(input: Buffer[], chain: ChunkSignatureChain): Promise<unknown> {
  return decode(input, undefined, chain).then(() => 'accepted', (err: unknown) => (isSigV4Error(err) ? err.failure : err));
}

/** The auth module's own error, passed through as it is (the S3 API names it SignatureDoesNotMatch). */
function isSigV4Error(err: unknown): err is Error & { failure: string } {
  return err instanceof Error && err.name === 'SigV4Error';
}

describe('AwsChunkedDecoder with a ChunkSignatureChain', () => {
  it.each([1, 7, 8192, 1_000_000])("passes AWS's signed examples, whatever the network split (%i-byte pieces)", async (size) => {
    const plain = await decode(pieces(awsBody(AWS_PLAIN), size), 66560, chainFrom(AWS_PLAIN.seed));
    expect(plain.data.equals(AWS_DATA)).toBe(true);
    const trailer = await decode(pieces(awsBody(AWS_TRAILER), size), 66560, chainFrom(AWS_TRAILER.seed));
    expect(trailer.data.equals(AWS_DATA)).toBe(true);
    expect(trailer.trailers.get('x-amz-checksum-crc32c')).toBe('sOO8/Q==');
  });

  it('checks the trailer signature when the body ends without the final empty line', async () => {
    expect((await decode([awsBody(AWS_TRAILER, { finalEmptyLine: false })], 66560, chainFrom(AWS_TRAILER.seed))).data.length).toBe(66560);
  });

  it('passes signed bodies of many chunks, with and without trailers, and an empty one', async () => {
    const seed = 'f'.repeat(64);
    expect((await decode(pieces(signedBody(data, 8192, seed), 1000), data.length, chainFrom(seed))).data.equals(data)).toBe(true);
    const withTrailers = signedBody(data, 8192, seed, ['x-amz-checksum-crc32:AAAAAA==', 'x-amz-checksum-sha256:abc=']);
    expect((await decode([withTrailers], data.length, chainFrom(seed))).trailers.get('x-amz-checksum-sha256')).toBe('abc=');
    expect((await decode([signedBody(Buffer.alloc(0), 10, seed)], 0, chainFrom(seed))).data.length).toBe(0);
  });

  it('errors the stream with the SigV4Error itself on a flipped data byte', async () => {
    const body = awsBody(AWS_PLAIN);
    body[200] = 0x62;
    const err = await decode([body], 66560, chainFrom(AWS_PLAIN.seed)).catch((e: unknown) => e);
    expect(isSigV4Error(err) && err.failure).toBe('SignatureMismatch');
    const last = awsBody(AWS_PLAIN);
    last[last.length - 100] = 0x62;
    expect(await failureOf([last], chainFrom(AWS_PLAIN.seed))).toBe('SignatureMismatch');
  });

  it('refuses a wrong seed, a changed chunk signature, chunks without signatures, a dropped chunk', async () => {
    expect(await failureOf([awsBody(AWS_PLAIN)], chainFrom(AWS_TRAILER.seed))).toBe('SignatureMismatch');
    const changed = Buffer.from(awsBody(AWS_PLAIN).toString('latin1').replace(AWS_PLAIN.chunks[2]!, AWS_TRAILER.chunks[2]!), 'latin1');
    expect(await failureOf([changed], chainFrom(AWS_PLAIN.seed))).toBe('SignatureMismatch');
    expect(await failureOf([framed(data, 8192)], chainFrom(AWS_PLAIN.seed))).toBe('SignatureMismatch');
    const noFinal = Buffer.from(awsBody(AWS_PLAIN).toString('latin1').replace(`0;chunk-signature=${AWS_PLAIN.chunks[2]!}`, '0'), 'latin1');
    expect(await failureOf([noFinal], chainFrom(AWS_PLAIN.seed))).toBe('SignatureMismatch');
    const seed = 'e'.repeat(64);
    const body = signedBody(Buffer.from('abcdefghij'), 5, seed).toString('latin1');
    const dropped = body.replace(/^5;chunk-signature=[0-9a-f]{64}\r\nabcde\r\n/, '');
    expect(await failureOf([Buffer.from(dropped, 'latin1')], chainFrom(seed))).toBe('SignatureMismatch');
  });

  it('refuses a changed trailer, a trailer without its signature, and trailers added to a body signed without them', async () => {
    const seed = 'd'.repeat(64);
    const body = signedBody(data, 65536, seed, ['x-amz-checksum-crc32:AAAAAA==']).toString('latin1');
    expect(await failureOf([Buffer.from(body.replace('AAAAAA==', 'AAAAAB=='), 'latin1')], chainFrom(seed))).toBe('SignatureMismatch');
    expect(await failureOf([Buffer.from(body.replace(/x-amz-trailer-signature:[0-9a-f]{64}\r\n/, ''), 'latin1')], chainFrom(seed))).toBe('SignatureMismatch');
    const unsignedTrailer = signedBody(data, 65536, seed).toString('latin1').replace(/\r\n$/, 'x-amz-checksum-crc32:AAAAAA==\r\n\r\n');
    expect(await failureOf([Buffer.from(unsignedTrailer, 'latin1')], chainFrom(seed))).toBe('SignatureMismatch');
  });
});

describe('isAwsChunked', () => {
  it('recognises the encoding and the streaming payload hashes', () => {
    expect(isAwsChunked({ 'content-encoding': 'aws-chunked' })).toBe(true);
    expect(isAwsChunked({ 'content-encoding': 'gzip, aws-chunked' })).toBe(true);
    expect(isAwsChunked({ 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' })).toBe(true);
    expect(isAwsChunked({ 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' })).toBe(true);
    expect(isAwsChunked({ 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' })).toBe(false);
    expect(isAwsChunked({ 'content-encoding': 'gzip' })).toBe(false);
  });
});

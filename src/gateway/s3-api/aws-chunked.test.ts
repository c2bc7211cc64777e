import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
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

async function decode(input: Buffer[], decodedLength?: number): Promise<{ data: Buffer; trailers: Map<string, string> }> {
  const decoder = new AwsChunkedDecoder(decodedLength);
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

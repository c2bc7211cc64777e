import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { ChecksumVerifier, checksFor, crc32c } from './checksums.js';
import { S3Error } from './s3-error.js';

async function verify(headers: Record<string, string>, body: Buffer, trailers?: Map<string, string>) {
  const verifier = new ChecksumVerifier(checksFor(headers, () => trailers));
  const [out] = await Promise.all([buffer(verifier), pipeline(Readable.from([body.subarray(0, 3), body.subarray(3)]), verifier)]);
  return { out, checksum: verifier.checksum };
}

describe('checksums', () => {
  it('computes CRC32C (the RFC 3720 check value)', () => {
    expect(crc32c(Buffer.from('123456789')).toString(16)).toBe('e3069283');
    expect(crc32c(Buffer.from('56789'), crc32c(Buffer.from('1234')))).toBe(crc32c(Buffer.from('123456789')));
  });

  it('checks a CRC32 header and a SHA-256 trailer, and passes the bytes through', async () => {
    const body = Buffer.from('hello world');
    const crc = Buffer.from('0d4a1185', 'hex').toString('base64'); // CRC32("hello world")
    const header = await verify({ 'x-amz-checksum-crc32': crc }, body);
    expect(header.out.equals(body)).toBe(true);
    expect(header.checksum).toEqual({ algorithm: 'CRC32', value: crc });
    const sha = createHash('sha256').update(body).digest('base64');
    const trailer = await verify({ 'x-amz-trailer': 'x-amz-checksum-sha256' }, body, new Map([['x-amz-checksum-sha256', sha]]));
    expect(trailer.checksum).toEqual({ algorithm: 'SHA256', value: sha });
  });

  it('fails with BadDigest on a mismatch, and XAmzContentSHA256Mismatch on a wrong payload hash', async () => {
    const body = Buffer.from('hello world');
    const bad = await verify({ 'x-amz-checksum-crc32c': 'AAAAAA==' }, body).catch((e: unknown) => e);
    expect((bad as S3Error).code).toBe('BadDigest');
    const payload = await verify({ 'x-amz-content-sha256': 'ab'.repeat(32) }, body).catch((e: unknown) => e);
    expect((payload as S3Error).code).toBe('XAmzContentSHA256Mismatch');
    await verify({ 'x-amz-content-sha256': createHash('sha256').update(body).digest('hex') }, body);
  });
});

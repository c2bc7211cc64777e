/**
 * S3's flexible checksums on uploads: `x-amz-checksum-<algorithm>` as a header, or as an
 * aws-chunked trailer named by `x-amz-trailer`; and the old `Content-MD5` and the hex
 * `x-amz-content-sha256` of signed payloads. Each is computed while the body streams past and
 * compared at its end, before the store commits anything, so a corrupted upload stores nothing.
 *
 * CRC32 comes from node:zlib (Node 20.15 and later; on older Nodes it is not checked), SHA-1 and
 * SHA-256 from node:crypto, CRC32C from the table below. CRC64NVME is accepted but not checked.
 */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import type { Checksum, ChecksumAlgorithm } from '../../storage/index.js';
import { s3Error } from './s3-error.js';

interface Hasher {
  update(data: Buffer): void;
  digest(): Buffer;
}

const ALGORITHMS: readonly ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];

function crcHasher(step: (data: Buffer, crc: number) => number): Hasher {
  let crc = 0;
  return {
    update(data) { crc = step(data, crc); },
    digest() {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(crc >>> 0);
      return out;
    },
  };
}

const zlibCrc32 = (zlib as { crc32?: (data: Buffer, value?: number) => number }).crc32;

function hasherFor(algorithm: ChecksumAlgorithm): Hasher | undefined {
  switch (algorithm) {
    case 'CRC32': return zlibCrc32 && crcHasher((data, crc) => zlibCrc32(data, crc));
    case 'CRC32C': return crcHasher(crc32c);
    case 'SHA1': return createHash('sha1');
    case 'SHA256': return createHash('sha256');
    default: return undefined;
  }
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli), continuing from `crc` (0 to start). */
export function crc32c(data: Buffer, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC32C_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

interface Check {
  /** What the client calls it, for messages and the answer's headers. */
  name: string;
  hasher: Hasher;
  encoding: 'base64' | 'hex';
  expected: () => string | undefined;
  errorCode: 'BadDigest' | 'XAmzContentSHA256Mismatch';
  algorithm?: ChecksumAlgorithm;
}

/**
 * Passes bytes through unchanged while computing every checksum the request declares; fails at
 * the end, with S3's error, when one differs from what the client sent.
 */
export class ChecksumVerifier extends Transform {
  private result: Checksum | undefined;

  constructor(private readonly checks: readonly Check[]) {
    super();
  }

  /** The flexible checksum of the body (verified if the client sent one), once it has ended. */
  get checksum(): Checksum | undefined {
    return this.result;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    for (const check of this.checks) check.hasher.update(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    for (const check of this.checks) {
      const actual = check.hasher.digest().toString(check.encoding);
      const expected = check.expected();
      if (expected !== undefined && expected !== actual) {
        return done(s3Error(check.errorCode, `The ${check.name} you specified (${expected}) did not match the one calculated from the body received (${actual}); nothing was stored. Send the body again.`));
      }
      if (check.algorithm) this.result = { algorithm: check.algorithm, value: actual };
    }
    done();
  }
}

type Headers = Record<string, string | string[] | undefined>;
const one = (headers: Headers, name: string) => {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * The checks a request asks for. `trailers` gives the aws-chunked trailers once the body has
 * ended. Content-MD5 is checked by the store (which hashes MD5 for the ETag anyway).
 */
export function checksFor(headers: Headers, trailers: () => ReadonlyMap<string, string> | undefined): Check[] {
  const checks: Check[] = [];
  const trailerNames = (one(headers, 'x-amz-trailer') ?? '').toLowerCase().split(',').map((t) => t.trim());
  const declared = (one(headers, 'x-amz-sdk-checksum-algorithm') ?? one(headers, 'x-amz-checksum-algorithm'))?.toUpperCase();
  for (const algorithm of ALGORITHMS) {
    const name = `x-amz-checksum-${algorithm.toLowerCase()}`;
    const inHeader = one(headers, name);
    const inTrailer = trailerNames.includes(name);
    if (inHeader === undefined && !inTrailer && declared !== algorithm) continue;
    const hasher = hasherFor(algorithm);
    if (!hasher) continue;
    checks.push({
      name, hasher, encoding: 'base64', algorithm, errorCode: 'BadDigest',
      expected: () => inHeader ?? trailers()?.get(name),
    });
  }
  const sha = one(headers, 'x-amz-content-sha256');
  if (sha !== undefined && /^[0-9a-f]{64}$/i.test(sha)) {
    checks.push({ name: 'x-amz-content-sha256', hasher: createHash('sha256'), encoding: 'hex', errorCode: 'XAmzContentSHA256Mismatch', expected: () => sha.toLowerCase() });
  }
  return checks;
}

/** Content-MD5, checked for shape here (the store compares it): base64 of 16 bytes. */
export function contentMd5Of(headers: Headers): string | undefined {
  const value = one(headers, 'content-md5');
  if (value === undefined) return undefined;
  if (Buffer.from(value, 'base64').length !== 16 || !/^[A-Za-z0-9+/]{22}==$/.test(value)) {
    throw s3Error('InvalidDigest', `The Content-MD5 you specified (${value.slice(0, 40)}) is not valid: it must be the base64 of the 16-byte MD5 of the body.`);
  }
  return value;
}

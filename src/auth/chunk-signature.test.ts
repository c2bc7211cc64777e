import { describe, expect, it } from 'vitest';
import { ChunkSignatureChain } from './chunk-signature.js';
import { parseSignature, sha256Hex, SigV4Error, verifySignature, type SignedRequest } from './sigv4.js';

// AWS's examples: "Signature Calculations for the Authorization Header: Transferring Payload in
// Multiple Chunks" and "…: Including Trailing Headers", PUT /examplebucket/chunkObject.txt at
// 20130524T000000Z, 66560 bytes of 'a' in chunks of 65536 and 1024.
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const NOW = Date.UTC(2013, 4, 24);
const CHUNKS = [Buffer.alloc(65536, 'a'), Buffer.alloc(1024, 'a'), Buffer.alloc(0)];

/** The request's Authorization carries AWS's seed signature: verifying it proves the seed, and gives the chain. */
function seed(seedSignature: string, contentSha: string, signedHeaders: string, extra: string[]): ChunkSignatureChain {
  const req: SignedRequest = {
    method: 'PUT', rawUrl: '/examplebucket/chunkObject.txt',
    rawHeaders: [
      'Host', 's3.amazonaws.com', 'x-amz-date', '20130524T000000Z', 'x-amz-storage-class', 'REDUCED_REDUNDANCY', 'x-amz-content-sha256', contentSha,
      'Content-Encoding', 'aws-chunked', 'x-amz-decoded-content-length', '66560', ...extra,
      'Authorization', `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=${signedHeaders},Signature=${seedSignature}`,
    ],
  };
  const parsed = parseSignature(req, { service: 's3', region: 'us-east-1', nowMs: NOW })!;
  const proof = verifySignature(req, parsed, SECRET, contentSha, 's3');
  expect(proof).toMatchObject({ scope: '20130524/us-east-1/s3/aws4_request', seedSignature });
  return new ChunkSignatureChain(proof.signingKey, parsed.amzDate, proof.scope, proof.seedSignature);
}

const SEED = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';
const TRAILER_SEED = '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e';

const plain = () => seed(SEED, 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class', ['Content-Length', '66824']);
const withTrailer = () => seed(TRAILER_SEED, 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', 'content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer', ['x-amz-trailer', 'x-amz-checksum-crc32c']);

describe('ChunkSignatureChain', () => {
  it("verifies AWS's chunked-upload example: seed, two chunks and the final empty one", () => {
    const chain = plain();
    const signatures = ['ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648', '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497', 'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9'];
    CHUNKS.forEach((c, i) => chain.verifyChunk(signatures[i]!, sha256Hex(c)));
  });

  it("verifies AWS's trailing-header example", () => {
    const chain = withTrailer();
    const signatures = ['b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2', '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7', '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992'];
    CHUNKS.forEach((c, i) => chain.verifyChunk(signatures[i]!, sha256Hex(c)));
    expect(() => chain.verifyTrailer('d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435', 'x-amz-checksum-crc32c:sOO8/Q==\n')).not.toThrow();
  });

  it('refuses a changed chunk, a chunk out of order, a missing signature, a changed trailer', () => {
    const mismatch = (fn: () => void) => {
      try {
        fn();
      } catch (err) {
        return err instanceof SigV4Error ? err.failure : err;
      }
      return 'accepted';
    };
    const first = 'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648';
    expect(mismatch(() => plain().verifyChunk(first, sha256Hex(Buffer.alloc(65536, 'b'))))).toBe('SignatureMismatch');
    expect(mismatch(() => plain().verifyChunk('0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497', sha256Hex(CHUNKS[1]!)))).toBe('SignatureMismatch');
    expect(mismatch(() => plain().verifyChunk(undefined, sha256Hex(CHUNKS[0]!)))).toBe('SignatureMismatch');
    expect(mismatch(() => plain().verifyChunk(first.toUpperCase(), sha256Hex(CHUNKS[0]!)))).toBe('SignatureMismatch');
    const t = withTrailer();
    ['b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2', '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7', '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992'].forEach((s, i) => t.verifyChunk(s, sha256Hex(CHUNKS[i]!)));
    expect(mismatch(() => t.verifyTrailer('d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435', 'x-amz-checksum-crc32c:AAAAAA==\n'))).toBe('SignatureMismatch');
    expect(mismatch(() => t.verifyTrailer(undefined, 'x-amz-checksum-crc32c:sOO8/Q==\n'))).toBe('SignatureMismatch');
  });
});

/**
 * The signature chain of a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` body (aws-chunked):
 * each chunk, the final empty one included, is signed over the previous signature and the
 * chunk's SHA-256, starting from the request's own (seed) signature; the trailer block, when
 * there is one, is signed over the last chunk's signature. A chunk that is dropped, reordered or
 * altered breaks every signature after it.
 *
 * This class checks signatures only; aws-chunked.ts feeds it the chunk hashes as the data streams.
 */
import { createHmac } from 'node:crypto';
import { SigV4Error, sameSignature, sha256Hex } from './sigv4.js';

const EMPTY_SHA256 = sha256Hex('');
const MISMATCH = 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.';

export class ChunkSignatureChain {
  private previous: string;
  private chunks = 0;
  /** "<algorithm>\n<date>\n<scope>\n", the same for every chunk. */
  private readonly chunkPrefix: string;
  private readonly trailerPrefix: string;

  /** From what verifySignature returned, and the request's amzDate. */
  constructor(private readonly signingKey: Buffer, amzDate: string, scope: string, seedSignature: string) {
    this.previous = seedSignature;
    this.chunkPrefix = `AWS4-HMAC-SHA256-PAYLOAD\n${amzDate}\n${scope}\n`;
    this.trailerPrefix = `AWS4-HMAC-SHA256-TRAILER\n${amzDate}\n${scope}\n`;
  }

  /** The next chunk's `chunk-signature` (undefined: it had none) against the SHA-256 of its data. */
  verifyChunk(signature: string | undefined, chunkSha256Hex: string): void {
    this.chunks++;
    this.check(signature, this.chunkPrefix + this.previous + '\n' + EMPTY_SHA256 + '\n' + chunkSha256Hex, `chunk ${this.chunks}`);
  }

  /**
   * `x-amz-trailer-signature` (undefined: absent) against the trailer block, each trailer as
   * `name:value\n` (names lower-case, sorted, the signature line itself left out).
   */
  verifyTrailer(signature: string | undefined, trailerText: string): void {
    this.check(signature, this.trailerPrefix + this.previous + '\n' + sha256Hex(trailerText), 'the trailer');
  }

  private check(signature: string | undefined, stringToSign: string, what: string): void {
    if (signature === undefined) throw new SigV4Error('SignatureMismatch', `${MISMATCH} The aws-chunked body carries no signature for ${what}.`);
    const expected = createHmac('sha256', this.signingKey).update(stringToSign).digest('hex');
    if (!sameSignature(expected, signature)) {
      throw new SigV4Error('SignatureMismatch', `${MISMATCH} (The signature of ${what} of the aws-chunked body differs.)`, { StringToSign: stringToSign, SignatureProvided: signature });
    }
    this.previous = signature;
  }
}

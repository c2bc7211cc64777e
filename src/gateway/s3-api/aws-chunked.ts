/**
 * Decodes `Content-Encoding: aws-chunked` bodies, which the AWS SDKs send for streamed uploads
 * (`x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER` from the JS SDK v3 and newer CLIs,
 * `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` from signing clients):
 *
 *   <hex size>[;chunk-signature=<sig>]\r\n <size bytes>\r\n   … repeated …
 *   0[;chunk-signature=<sig>]\r\n
 *   <trailer name>:<value>\r\n …                              (optional trailers)
 *   \r\n
 *
 * The data bytes pass through as they arrive (nothing is buffered but a framing line); the
 * trailers (a checksum, usually) are kept for whoever checks them once the body has ended.
 *
 * Given a ChunkSignatureChain (the request signed a STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]
 * body), every chunk must carry its chunk-signature: the data is hashed as it streams and the
 * signature checked at the chunk's end, the final 0-size chunk included; trailers, if any, must
 * carry x-amz-trailer-signature and are checked once they have all arrived. Data of a chunk is
 * passed on before its signature is checked (a chunk can be megabytes), so a failed check errors
 * the stream with the SigV4Error as it is: the store never commits a body that did not end well.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { ChunkSignatureChain } from '../../auth/index.js';
import { s3Error } from './s3-error.js';

/** A framing line is a hex size plus a signature extension (~90 bytes), or one trailer. */
const MAX_LINE_BYTES = 4096;
const CRLF = Buffer.from('\r\n');

type State = 'size' | 'data' | 'data-end' | 'trailers' | 'done';

export class AwsChunkedDecoder extends Transform {
  /** Trailer headers, names lower-cased; complete once the stream has ended. */
  readonly trailers = new Map<string, string>();
  private state: State = 'size';
  private line = Buffer.alloc(0);
  private remaining = 0;
  private decoded = 0;
  private readonly decodedLength: number | undefined;
  private readonly chain: ChunkSignatureChain | undefined;
  /** With a chain: the current chunk's signature, and the hash of its data so far. */
  private chunkSignature: string | undefined;
  private chunkHash: Hash | undefined;
  private trailersChecked = false;

  /**
   * `decodedLength`: `x-amz-decoded-content-length`, checked against the data when given.
   * `chain`: check chunk and trailer signatures against it.
   */
  constructor(options: { decodedLength?: number | undefined; chain?: ChunkSignatureChain | undefined } = {}) {
    super();
    this.decodedLength = options.decodedLength;
    this.chain = options.chain;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.consume(chunk);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    // Trailers that end without the last empty line are accepted: every byte of data has arrived.
    if (this.state === 'trailers' && this.line.length === 0) this.state = 'done';
    if (this.state !== 'done') {
      return done(s3Error('IncompleteBody', 'The aws-chunked body ended before its final 0-size chunk. Send the whole body.'));
    }
    try {
      this.checkTrailers();
    } catch (err) {
      return done(err as Error);
    }
    if (this.decodedLength !== undefined && this.decoded !== this.decodedLength) {
      return done(s3Error('IncompleteBody', `The aws-chunked body holds ${this.decoded} bytes of data, but x-amz-decoded-content-length says ${this.decodedLength}. Send the whole body, and its length.`));
    }
    done();
  }

  private consume(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.state === 'data') {
        const take = Math.min(this.remaining, chunk.length - at);
        const data = chunk.subarray(at, at + take);
        this.chunkHash?.update(data);
        this.push(data);
        this.remaining -= take;
        this.decoded += take;
        at += take;
        if (this.remaining === 0) {
          this.state = 'data-end';
          if (this.chain) this.chain.verifyChunk(this.chunkSignature, this.chunkHash!.digest('hex'));
        }
        continue;
      }
      if (this.state === 'done') {
        // Bytes after the final empty line are not part of any upload.
        throw malformed('there are bytes after the end of the body');
      }
      // Every other state reads one CRLF-terminated line.
      const end = chunk.indexOf(0x0a, at);
      const piece = chunk.subarray(at, end === -1 ? chunk.length : end + 1);
      at += piece.length;
      this.line = this.line.length === 0 ? Buffer.from(piece) : Buffer.concat([this.line, piece]);
      if (this.line.length > MAX_LINE_BYTES) throw malformed('a framing line is too long');
      if (end === -1) return;
      if (this.line.length < 2 || !this.line.subarray(-2).equals(CRLF)) throw malformed('a framing line does not end in CRLF');
      const text = this.line.subarray(0, -2).toString('latin1');
      this.line = Buffer.alloc(0);
      this.onLine(text);
    }
  }

  private onLine(text: string): void {
    switch (this.state) {
      case 'size': {
        const semi = text.indexOf(';');
        const hex = (semi === -1 ? text : text.slice(0, semi)).trim();
        if (!CHUNK_SIZE.test(hex)) throw malformed(`"${text.slice(0, 40)}" is not a chunk size`);
        const size = Number.parseInt(hex, 16);
        if (!Number.isSafeInteger(size)) throw malformed('a chunk size is too large');
        this.remaining = size;
        this.state = size === 0 ? 'trailers' : 'data';
        if (this.chain) {
          this.chunkSignature = semi === -1 ? undefined : chunkSignatureOf(text.slice(semi + 1));
          if (size === 0) this.chain.verifyChunk(this.chunkSignature, EMPTY_SHA256);
          else this.chunkHash = createHash('sha256');
        }
        return;
      }
      case 'data-end':
        if (text !== '') throw malformed('a chunk is longer than its size says');
        this.state = 'size';
        return;
      case 'trailers': {
        if (text === '') {
          this.state = 'done';
          this.checkTrailers();
          return;
        }
        const colon = text.indexOf(':');
        if (colon <= 0) throw malformed(`the trailer "${text.slice(0, 40)}" is not "name:value"`);
        this.trailers.set(text.slice(0, colon).trim().toLowerCase(), text.slice(colon + 1).trim());
        return;
      }
      default:
        throw malformed('unexpected framing');
    }
  }

  /** With a chain, trailers are part of what was signed: present means signed. */
  private checkTrailers(): void {
    if (!this.chain || this.trailersChecked || this.trailers.size === 0) return;
    this.trailersChecked = true;
    const names = [...this.trailers.keys()].filter((n) => n !== TRAILER_SIGNATURE).sort();
    let text = '';
    for (const name of names) text += `${name}:${this.trailers.get(name)!}\n`;
    this.chain.verifyTrailer(this.trailers.get(TRAILER_SIGNATURE), text);
  }
}

const CHUNK_SIZE = /^[0-9a-fA-F]{1,16}$/;
const EMPTY_SHA256 = createHash('sha256').digest('hex');
const TRAILER_SIGNATURE = 'x-amz-trailer-signature';

/** `chunk-signature=<hex>` among a size line's extensions. */
function chunkSignatureOf(extensions: string): string | undefined {
  for (const ext of extensions.split(';')) {
    const eq = ext.indexOf('=');
    if (eq !== -1 && ext.slice(0, eq).trim() === 'chunk-signature') return ext.slice(eq + 1).trim();
  }
  return undefined;
}

function malformed(what: string) {
  return s3Error('InvalidRequest', `The aws-chunked body is malformed: ${what}. Send Content-Encoding: aws-chunked only with a body framed as "<hex size>\\r\\n<data>\\r\\n … 0\\r\\n<trailers>\\r\\n".`);
}

/** Whether a request's body is aws-chunked framed. */
export function isAwsChunked(headers: Record<string, string | string[] | undefined>): boolean {
  const encoding = String(headers['content-encoding'] ?? '');
  const sha = String(headers['x-amz-content-sha256'] ?? '');
  return encoding.split(',').some((e) => e.trim().toLowerCase() === 'aws-chunked') || sha.startsWith('STREAMING-');
}

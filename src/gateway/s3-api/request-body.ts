/**
 * Request bodies of the S3 API. Fastify hands them over untouched (see server.ts), and they are
 * read only here:
 * - `100 Continue` is sent only when the body is first read, so a request that is refused first
 *   (no such bucket, no such upload) is answered before the client sends gigabytes.
 * - aws-chunked framing is removed, and the checksums the request declares are checked, as the
 *   bytes stream past; an upload is a stream to the store, never a buffer.
 */
import type { IncomingMessage } from 'node:http';
import { PassThrough, pipeline, Readable, type Duplex } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Checksum } from '../../storage/index.js';
import { AwsChunkedDecoder, isAwsChunked } from './aws-chunked.js';
import { ChecksumVerifier, checksFor } from './checksums.js';
import type { S3Call } from './s3-call.js';
import { s3Error } from './s3-error.js';

const opened = new WeakSet<IncomingMessage>();

function open(request: FastifyRequest, reply: FastifyReply): IncomingMessage {
  const raw = request.raw;
  if (!opened.has(raw)) {
    opened.add(raw);
    if (String(raw.headers.expect ?? '').toLowerCase() === '100-continue') reply.raw.writeContinue();
  }
  return raw;
}

export interface UploadBody {
  stream: Readable;
  /** The flexible checksum of what was received, once `stream` has ended. */
  checksum(): Checksum | undefined;
}

/** The body of `call`'s request, checked as it streams against what its signature and headers promise. */
export function openUploadBody(call: Pick<S3Call, 'request' | 'reply' | 'auth'>): UploadBody {
  const { request, reply } = call;
  const headers = request.headers;
  let decodedLength: number | undefined;
  const declared = headers['x-amz-decoded-content-length'];
  if (declared !== undefined) {
    decodedLength = Number(declared);
    if (!Number.isSafeInteger(decodedLength) || decodedLength < 0) {
      throw s3Error('InvalidArgument', `x-amz-decoded-content-length must be the number of bytes of data in the body, not "${String(declared).slice(0, 40)}".`);
    }
  }
  const decoder = isAwsChunked(headers) ? new AwsChunkedDecoder({ decodedLength, chain: call.auth.proof.chain }) : undefined;
  const checks = checksFor(headers, () => decoder?.trailers);
  const verifier = checks.length > 0 ? new ChecksumVerifier(checks) : undefined;

  function start(): Readable {
    const stages: Duplex[] = [decoder, verifier].filter((s) => s !== undefined);
    // Never the socket's own stream: whoever reads the body may destroy it on error, and the
    // client must still get the error answer (see gateway/discard-body.ts).
    if (stages.length === 0) stages.push(new PassThrough());
    const first = stages[0]!;
    const raw = open(request, reply);
    raw.pipe(first);
    raw.once('error', (err) => first.destroy(err));
    raw.once('close', () => {
      if (!raw.complete) first.destroy(s3Error('IncompleteBody', 'The connection closed before the whole body arrived. Send the request again.'));
    });
    return stages.length === 1 ? first : (pipeline(stages as [Duplex, ...Duplex[]], () => undefined) as unknown as Readable);
  }

  // Opened on the first read, so `100 Continue` goes out only once the store has checked what it
  // can (the upload exists, the key is valid) and really starts to write.
  const stream = Readable.from((async function* () {
    yield* start();
  })(), { objectMode: false });
  return { stream, checksum: () => verifier?.checksum };
}


/** A small request document (XML), whole; past `maxBytes` it is refused. */
export async function readSmallBody(call: Pick<S3Call, 'request' | 'reply' | 'auth'>, maxBytes: number): Promise<string> {
  const { stream } = openUploadBody(call);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw s3Error('MalformedXML', `The request body is longer than ${maxBytes} bytes, more than any valid document for this operation.`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

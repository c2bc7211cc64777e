/**
 * ObjectStore on S3 (AWS, or any S3-compatible server) through @aws-sdk/client-s3.
 *
 * Reads stream the GetObject body as it arrives. Writes of a known size up to one part go up as a
 * single PutObject. Larger streams of a known size (every model response the worker writes) go up
 * as a multipart upload whose parts are cut from the stream while they are sent, one at a time,
 * so memory stays flat whatever the size. Streams of unknown size go through lib-storage's Upload,
 * which buffers up to `PART_BYTES × UPLOAD_QUEUE_SIZE`. All are atomic on S3's side: the object
 * appears whole or not at all.
 *
 * The SDK is imported when the first store is made, so the embedded default never loads it.
 */
import { Readable } from 'node:stream';
import type { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { formatS3Uri, type S3Uri } from '../../domain/index.js';
import { AppError } from '../../errors.js';
import type { ObjectStore, StoredObject } from '../object-store.js';
import { takeBytes } from './take-bytes.js';

export interface S3ObjectStoreOptions {
  /** An S3-compatible server; AWS S3 when absent. */
  endpoint?: string;
  region: string;
  forcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** S3's minimum part size is 5 MiB; 8 MiB matches the AWS CLI's default threshold and part size. */
const PART_BYTES = 8 * 1024 * 1024;
const UPLOAD_QUEUE_SIZE = 2;
const MISSING = new Set(['NoSuchKey', 'NoSuchBucket', 'NotFound']);

export async function createS3ObjectStore(options: S3ObjectStoreOptions): Promise<ObjectStore> {
  const [{ S3Client, GetObjectCommand, PutObjectCommand, CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand, AbortMultipartUploadCommand }, { Upload }] = await Promise.all([
    import('@aws-sdk/client-s3'), import('@aws-sdk/lib-storage'),
  ]);
  const client: S3Client = new S3Client({
    region: options.region,
    ...(options.endpoint !== undefined && {
      endpoint: options.endpoint,
      // S3-compatible servers differ in which flexible checksums (aws-chunked trailers) they
      // understand; sending them only where an operation requires one works with all of them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    }),
    ...(options.forcePathStyle !== undefined && { forcePathStyle: options.forcePathStyle }),
    // A copy: the resolved config is frozen, and the SDK annotates the credentials object it is given.
    ...(options.credentials && { credentials: { ...options.credentials } }),
  });

  function checkKey(uri: S3Uri): void {
    if (uri.key === '') throw new AppError('ObjectKeyInvalid', `${formatS3Uri(uri)} has an empty key`);
  }

  async function putInParts(params: { Bucket: string; Key: string; ContentType?: string }, body: Readable, length: number): Promise<void> {
    const { UploadId } = await client.send(new CreateMultipartUploadCommand(params));
    const target = { Bucket: params.Bucket, Key: params.Key, UploadId };
    try {
      const parts: { ETag: string; PartNumber: number }[] = [];
      for (let offset = 0, PartNumber = 1; offset < length; offset += PART_BYTES, PartNumber++) {
        const size = Math.min(PART_BYTES, length - offset);
        const { ETag } = await client.send(new UploadPartCommand({ ...target, PartNumber, Body: takeBytes(body, size), ContentLength: size }));
        parts.push({ ETag: ETag!, PartNumber });
      }
      await client.send(new CompleteMultipartUploadCommand({ ...target, MultipartUpload: { Parts: parts } }));
    } catch (err) {
      // Parts left behind cost storage until a lifecycle rule removes them; abort is best effort.
      await client.send(new AbortMultipartUploadCommand(target)).catch(() => undefined);
      throw err;
    }
  }

  return {
    async get(uri) {
      checkKey(uri);
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: uri.bucket, Key: uri.key }));
        const body = res.Body;
        if (!(body instanceof Readable)) throw new Error('GetObject returned no readable body');
        return {
          body,
          contentLength: res.ContentLength ?? 0,
          ...(res.ContentType !== undefined && { contentType: res.ContentType }),
        } satisfies StoredObject;
      } catch (err) {
        throw translate(err, uri);
      }
    },

    async put(uri, body, putOptions = {}) {
      checkKey(uri);
      const params = {
        Bucket: uri.bucket, Key: uri.key,
        ...(putOptions.contentType !== undefined && { ContentType: putOptions.contentType }),
      };
      try {
        const length = body instanceof Readable ? putOptions.contentLength : body.byteLength;
        if (length !== undefined && length <= PART_BYTES) {
          await client.send(new PutObjectCommand({ ...params, Body: body, ContentLength: length }));
          return;
        }
        if (length !== undefined && body instanceof Readable) {
          await putInParts(params, body, length);
          return;
        }
        await new Upload({ client, params: { ...params, Body: body }, partSize: PART_BYTES, queueSize: UPLOAD_QUEUE_SIZE, leavePartsOnError: false }).done();
      } catch (err) {
        if (body instanceof Readable && !body.destroyed) body.destroy();
        throw translate(err, uri);
      }
    },
  };
}

function translate(err: unknown, uri: S3Uri): unknown {
  const name = (err as Partial<S3ServiceException>).name ?? '';
  const status = (err as Partial<S3ServiceException>).$metadata?.httpStatusCode;
  if (MISSING.has(name) || status === 404) {
    return new AppError('ObjectNotFound', `The object ${formatS3Uri(uri)} does not exist (${name || 'HTTP 404'})`, { cause: err });
  }
  return err;
}

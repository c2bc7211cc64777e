/** What every S3 operation handler gets, and the checks they share. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { isAppError } from '../../errors.js';
import type { BucketStore, ContentHeaders } from '../../storage/index.js';
import { s3Error, S3Error } from './s3-error.js';
import type { S3Authorization } from './s3-auth.js';
import type { S3Target } from './s3-target.js';

export interface S3ApiDeps {
  store: BucketStore;
  /** Answered by HeadBucket and GetBucketLocation. */
  region: string;
  logger: Logger;
}

export interface S3Call {
  request: FastifyRequest;
  reply: FastifyReply;
  target: S3Target;
  /** Present for bucket and object operations (checked to be a bucket name). */
  bucket: string;
  /** Present for object operations (checked to be at most 1024 bytes). */
  key: string;
  /** The caller, checked for this operation already; operations touching more (each key of DeleteObjects, a copy's source) check those too. */
  auth: S3Authorization;
}

export type S3Operation = (deps: S3ApiDeps, call: S3Call) => Promise<FastifyReply>;

/** S3's bucket naming rule (the part this server enforces), checked before the store sees a name. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const MAX_KEY_BYTES = 1024;

export function checkBucketName(bucket: string): void {
  if (!BUCKET_NAME.test(bucket)) {
    throw s3Error('InvalidBucketName', `The specified bucket "${bucket.slice(0, 100)}" is not valid: a bucket name is 3-63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit.`);
  }
}

export function checkKey(key: string): void {
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw s3Error('KeyTooLongError', `Your key is too long: it is ${Buffer.byteLength(key)} bytes, and a key is at most ${MAX_KEY_BYTES} bytes of UTF-8.`);
  }
}

export function noSuchBucket(bucket: string): S3Error {
  return s3Error('NoSuchBucket', `The specified bucket ${bucket} does not exist. Create it first (aws s3 mb s3://${bucket}) or check its name.`);
}

export async function requireBucket(deps: S3ApiDeps, bucket: string): Promise<void> {
  if (!(await deps.store.bucketExists(bucket))) throw noSuchBucket(bucket);
}

/** The store's "no such object" is S3's NoSuchBucket or NoSuchKey, depending on which is missing. */
export async function explainMissing(deps: S3ApiDeps, err: unknown, bucket: string, key: string): Promise<unknown> {
  if (!isAppError(err, 'ObjectNotFound')) return err;
  if (!(await deps.store.bucketExists(bucket))) return noSuchBucket(bucket);
  return s3Error('NoSuchKey', `The specified key does not exist: there is no object "${key}" in bucket ${bucket}. List the bucket (aws s3 ls s3://${bucket}/) to see what is there.`);
}

/** `x-amz-meta-*` headers, names lower-cased without the prefix. */
export function userMetadataOf(request: FastifyRequest): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (name.startsWith('x-amz-meta-') && value !== undefined) metadata[name.slice('x-amz-meta-'.length)] = Array.isArray(value) ? value.join(',') : value;
  }
  return metadata;
}

const STORED_HEADERS = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'] as const;

/** The headers S3 stores with an object; `aws-chunked` is transfer framing, not the object's encoding. */
export function contentHeadersOf(request: FastifyRequest): ContentHeaders {
  const headers: ContentHeaders = {};
  for (const name of STORED_HEADERS) {
    let value = request.headers[name];
    if (Array.isArray(value)) value = value.join(',');
    if (name === 'content-encoding' && value !== undefined) {
      value = value.split(',').map((e) => e.trim()).filter((e) => e !== '' && e.toLowerCase() !== 'aws-chunked').join(',');
    }
    if (value) headers[name] = value;
  }
  return headers;
}

export function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function quoted(etag: string): string {
  return `"${etag}"`;
}

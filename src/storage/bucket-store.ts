/**
 * BucketStore: the ObjectStore plus what an S3 API over it needs — buckets, metadata, ranges,
 * listing, deletion and multipart uploads. Only the embedded store implements it; the S3 API of
 * the server (gateway/s3-api) is its one user.
 *
 * Guarantees, beyond ObjectStore's:
 * - `put`, `putObject` and `completeUpload` are atomic and durable when they resolve, like ObjectStore.put;
 *   the object's metadata (Content-Type, user metadata, ETag) comes back with it.
 * - The ETag is the MD5 hex of the content for a `put`, and the MD5 of the parts' MD5s plus
 *   `-N` for a multipart upload (S3's rules, so clients that check ETags agree).
 * - `list` returns keys in UTF-8 byte order (S3's order), whatever order the backend keeps.
 * - `delete` is idempotent, and leaves no empty folder behind that would block a later key.
 * - Parts are streamed to disk and concatenated by streaming: no object is held in memory.
 * - Errors are AppErrors: ObjectNotFound (no such object, or no such bucket for an object
 *   operation), BucketNotFound (bucket operations, list, createUpload), BucketExists,
 *   BucketNotEmpty, UploadNotFound, PartInvalid, PartOrderInvalid, PartTooSmall,
 *   RangeNotSatisfiable, DigestMismatch, ObjectKeyInvalid (a key the store cannot hold, including
 *   a key that is a folder of another key: `a` and `a/b` cannot both exist).
 *
 * Deliberately not here: versions, ACLs, tags, lifecycle rules, and checking a bucket exists on
 * `put` (the ObjectStore contract creates it; the S3 API checks first).
 */
import type { Readable } from 'node:stream';
import type { S3Uri } from '../domain/index.js';
import type { ObjectStore, PutOptions, StoredObject } from './object-store.js';

export interface BucketInfo {
  name: string;
  createdAtMs: number;
}

/** The checksum algorithms S3 names in `x-amz-checksum-<algorithm>`. */
export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';

export interface Checksum {
  algorithm: ChecksumAlgorithm;
  /** Base64, as in the header. */
  value: string;
}

/** Headers S3 stores with an object and sends back as they were given. */
export type ContentHeaders = Partial<Record<'cache-control' | 'content-disposition' | 'content-encoding' | 'content-language' | 'expires', string>>;

export interface ObjectInfo {
  /** Size of the whole object. */
  contentLength: number;
  /** `application/octet-stream` when the object was written without one. */
  contentType: string;
  /** Unquoted. */
  etag: string;
  lastModifiedMs: number;
  /** User metadata: `x-amz-meta-NAME` headers, NAME lower-cased, without the prefix. */
  metadata: Readonly<Record<string, string>>;
  headers: ContentHeaders;
  /** Present when the object was written with a verified checksum of its whole content. */
  checksum?: Checksum;
}

/** An HTTP byte range before it meets the object's size: `bytes=a-b`, `bytes=a-`, `bytes=-n`. */
export type ByteRange = { start: number; end?: number } | { suffixLength: number };

export interface BucketObject extends StoredObject {
  info: ObjectInfo;
  /** The inclusive byte positions sent, when a range was asked for. */
  range?: { start: number; end: number };
}

export interface BucketPutOptions extends PutOptions {
  metadata?: Readonly<Record<string, string>>;
  headers?: ContentHeaders;
  /** Base64 MD5 the content must have (Content-MD5); checked before the object is committed. */
  contentMd5?: string;
  /**
   * A checksum the caller verified over the same bytes (while they streamed past, so it is read
   * once the body has ended, before the commit); stored and returned by `head`.
   */
  checksum?: () => Checksum | undefined;
}

export interface ListOptions {
  prefix?: string;
  delimiter?: string;
  /** Only keys (and common prefixes) after this one, in UTF-8 byte order. */
  startAfter?: string;
  /** 0-1000. */
  maxKeys: number;
}

export interface ListedObject {
  key: string;
  size: number;
  etag: string;
  lastModifiedMs: number;
}

export interface ListPage {
  objects: ListedObject[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix in this page: the next page's `startAfter`. */
  last?: string;
}

export interface UploadOptions {
  contentType?: string;
  metadata?: Readonly<Record<string, string>>;
  headers?: ContentHeaders;
}

export interface CompletedPart {
  partNumber: number;
  /** Quoted or not. */
  etag: string;
}

export interface BucketStore extends ObjectStore {
  createBucket(name: string): Promise<void>;
  bucketExists(name: string): Promise<boolean>;
  /** Sorted by name. */
  listBuckets(): Promise<BucketInfo[]>;
  /** Only an empty bucket. */
  deleteBucket(name: string): Promise<void>;

  head(uri: S3Uri): Promise<ObjectInfo>;
  get(uri: S3Uri, options?: { range?: ByteRange }): Promise<BucketObject>;
  /** ObjectStore's `put`, with metadata, returning the ETag. */
  putObject(uri: S3Uri, body: Uint8Array | Readable, options?: BucketPutOptions): Promise<{ etag: string }>;
  delete(uri: S3Uri): Promise<void>;
  list(bucket: string, options: ListOptions): Promise<ListPage>;

  createUpload(uri: S3Uri, options?: UploadOptions): Promise<string>;
  uploadPart(uploadId: string, uri: S3Uri, partNumber: number, body: Readable, options?: { contentMd5?: string }): Promise<{ etag: string }>;
  completeUpload(uploadId: string, uri: S3Uri, parts: readonly CompletedPart[]): Promise<{ etag: string }>;
  abortUpload(uploadId: string, uri: S3Uri): Promise<void>;
}

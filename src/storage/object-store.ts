/**
 * ObjectStore: where inputs are read from and outcomes written to, addressed by s3:// URIs.
 *
 * Guarantees:
 * - `put` is atomic: a reader sees the whole new object or the old state, never part of one.
 * - `put` is durable when it resolves (the outcome is recorded only after that).
 * - `get` and `put` stream: nothing here holds a whole object in memory, whatever its size.
 * - The Content-Type given to `put` comes back from `get`.
 * - A missing object (or bucket) is `AppError('ObjectNotFound')`; a key or bucket the store cannot
 *   hold is `AppError('ObjectKeyInvalid')` — never a path outside the store.
 *
 * Deliberately not here: retries (the worker decides what is worth retrying), listing, deletion
 * and buckets (the embedded store's S3 API has its own, wider port: BucketStore).
 */
import type { Readable } from 'node:stream';
import type { S3Uri } from '../domain/index.js';

export interface StoredObject {
  body: Readable;
  contentLength: number;
  /** As given to `put`; undefined when the object was written without one. */
  contentType?: string;
}

export interface PutOptions {
  contentType?: string;
  /** The body's size when known up front; lets a remote store skip multipart for small objects. */
  contentLength?: number;
}

export interface ObjectStore {
  get(uri: S3Uri): Promise<StoredObject>;
  put(uri: S3Uri, body: Uint8Array | Readable, options?: PutOptions): Promise<void>;
}

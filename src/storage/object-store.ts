/**
 * ObjectStore: where inputs are read from and outcomes written to, addressed by s3:// URIs.
 *
 * Guarantees:
 * - `put` is atomic: a reader sees the whole new object or the old state, never part of one.
 * - `put` is durable when it resolves (the outcome is recorded only after that).
 * - `get` streams; nothing here buffers a whole object.
 * - A missing object is `AppError('ObjectNotFound')`; a key or bucket the store cannot hold is
 *   `AppError('ObjectKeyInvalid')` — never a path outside the store.
 *
 * Deliberately not here (yet): metadata, listing, deletion. They arrive with the S3 API.
 */
import type { Readable } from 'node:stream';
import type { S3Uri } from '../domain/index.js';

export interface StoredObject {
  body: Readable;
  contentLength: number;
}

export interface ObjectStore {
  get(uri: S3Uri): Promise<StoredObject>;
  put(uri: S3Uri, body: Uint8Array | Readable): Promise<void>;
}

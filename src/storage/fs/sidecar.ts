/**
 * An object's metadata, kept in a JSON sidecar beside (not inside) its bucket.
 *
 * A sidecar records the size and modification time of the file it describes, and is believed
 * only while the file still has both: a user may replace or edit a file by hand, and then the
 * old Content-Type and ETag would be wrong. Such a file (and one a user dropped in, which has no
 * sidecar) is described from the file alone: Content-Type `application/octet-stream`, no user
 * metadata, and an ETag made from its size and modification time rather than from its bytes, so
 * HEAD and LIST stay one `stat` however large the file is. That ETag still changes whenever the
 * file does, and ends in `-1`, the shape clients know is not an MD5 of the content (as for a
 * multipart upload), so none of them tries to check the bytes against it.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Checksum, ContentHeaders, ObjectInfo } from '../bucket-store.js';
import { isNodeError } from './durable-files.js';

export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

export interface Sidecar {
  size: number;
  mtimeMs: number;
  etag: string;
  contentType?: string;
  metadata?: Record<string, string>;
  headers?: ContentHeaders;
  checksum?: Checksum;
}

export async function readSidecar(file: string): Promise<Sidecar | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Sidecar;
  } catch (err) {
    // Unreadable or half-written by hand: the object is described as if it had none.
    if (isNodeError(err, 'ENOENT', 'ENOTDIR') || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/** What is known about a file with these size and mtime, given its sidecar if any. */
export function objectInfoOf(stamp: { size: number; mtimeMs: number }, sidecar: Sidecar | undefined): ObjectInfo & { typed: boolean } {
  // To the millisecond: a time set by utimes comes back from stat with a rounding error in the nanoseconds.
  const fresh = sidecar !== undefined && sidecar.size === stamp.size && Math.round(sidecar.mtimeMs) === Math.round(stamp.mtimeMs);
  return {
    contentLength: stamp.size,
    lastModifiedMs: Math.floor(stamp.mtimeMs),
    contentType: (fresh && sidecar.contentType) || DEFAULT_CONTENT_TYPE,
    typed: fresh && sidecar.contentType !== undefined,
    etag: fresh ? sidecar.etag : stampEtag(stamp),
    metadata: (fresh && sidecar.metadata) || {},
    headers: (fresh && sidecar.headers) || {},
    ...(fresh && sidecar.checksum && { checksum: sidecar.checksum }),
  };
}

function stampEtag({ size, mtimeMs }: { size: number; mtimeMs: number }): string {
  return `${createHash('md5').update(`${size}:${mtimeMs}`).digest('hex')}-1`;
}

/**
 * Where the embedded store keeps things under its root, and which names it refuses:
 *
 *   <root>/BUCKET/KEY                      the object's bytes, so users can read and drop files
 *   <root>/.meta/BUCKET/HH/SHA256(KEY).json its sidecar: Content-Type, user metadata, ETag; HH is
 *                                          from the hash of the key's folder, so the sidecars of
 *                                          one folder's objects share a folder (and its fsyncs)
 *   <root>/.uploads/UPLOAD-ID/             a multipart upload's parts
 *   <root>/.tmp/                           files being written, renamed into place when whole
 *
 * Names starting with "." are not bucket names, so nothing here can collide with a bucket.
 * Sidecars are named by the hash of their key rather than `KEY.json` beside a mirrored tree:
 * in a mirror, the key `a` (sidecar `a.json`) and the key `a.json/x` (folder `a.json`) would
 * collide, and a long key segment would overflow the file-name limit once `.json` is added.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { formatS3Uri, type S3Uri } from '../../domain/index.js';
import { AppError } from '../../errors.js';

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
export const MAX_KEY_BYTES = 1024;
/** The usual file-name limit (ext4, xfs, btrfs, APFS). */
const MAX_SEGMENT_BYTES = 255;

export interface FsLayout {
  root: string;
  tmpDir: string;
  metaDir: string;
  uploadsDir: string;
  /** Throws ObjectKeyInvalid for a name that is not an S3 bucket name. */
  bucketDir(bucket: string): string;
  /** The object's file; throws ObjectKeyInvalid for a key that would not stay inside its bucket folder. */
  fileOf(uri: S3Uri): string;
  sidecarOf(uri: S3Uri): string;
}

export function createFsLayout(rootPath: string): FsLayout {
  const root = path.resolve(rootPath);
  const metaDir = path.join(root, '.meta');

  function bucketDir(bucket: string): string {
    const problem = bucketProblem(bucket);
    if (problem) throw new AppError('ObjectKeyInvalid', `The bucket name "${bucket}" cannot be used: ${problem}.`);
    return path.join(root, bucket);
  }

  return {
    root,
    tmpDir: path.join(root, '.tmp'),
    metaDir,
    uploadsDir: path.join(root, '.uploads'),
    bucketDir,
    fileOf(uri) {
      const problem = bucketProblem(uri.bucket) ?? keyProblem(uri.key);
      if (problem) throw new AppError('ObjectKeyInvalid', `${formatS3Uri(uri)} cannot be stored in the embedded object store: ${problem}`);
      const dir = path.join(root, uri.bucket);
      const file = path.resolve(dir, ...uri.key.split('/'));
      // Belt and braces: the checks above already exclude every way out of the bucket.
      if (!file.startsWith(dir + path.sep)) {
        throw new AppError('ObjectKeyInvalid', `${formatS3Uri(uri)} resolves outside the object store`);
      }
      return file;
    },
    sidecarOf({ bucket, key }) {
      const slash = key.lastIndexOf('/');
      const folder = sha256Hex(slash < 0 ? '' : key.slice(0, slash)).slice(0, 2);
      return path.join(metaDir, bucket, folder, `${sha256Hex(key)}.json`);
    },
  };
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function bucketProblem(bucket: string): string | undefined {
  if (!BUCKET.test(bucket)) return 'a bucket name is 3-63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit';
  return undefined;
}

export function keyProblem(key: string): string | undefined {
  if (key === '') return 'the key is empty';
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) return `the key is longer than ${MAX_KEY_BYTES} bytes`;
  if (key.includes('\0')) return 'the key contains a NUL character';
  const segments = key.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) {
    return 'the key has an empty, "." or ".." path segment (a leading, trailing or doubled "/", or a relative step); ' +
      'each "/"-separated part of a key is a folder or file name here';
  }
  if (segments.some((s) => Buffer.byteLength(s) > MAX_SEGMENT_BYTES)) {
    return `a "/"-separated part of the key is longer than ${MAX_SEGMENT_BYTES} bytes, the longest file name the file system allows`;
  }
  return undefined;
}

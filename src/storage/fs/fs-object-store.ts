/**
 * The embedded object store: `s3://BUCKET/KEY` is the file `<root>/BUCKET/KEY`.
 * Writes go to `<root>/.tmp/` first, are fsync'd, then renamed into place (same file system, so
 * the rename is atomic), and the folder is fsync'd so the rename survives a crash.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { coalesced, type Coalesced } from '../../coalesced.js';
import { formatS3Uri, type S3Uri } from '../../domain/index.js';
import { AppError } from '../../errors.js';
import type { ObjectStore, StoredObject } from '../object-store.js';

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const MAX_KEY_BYTES = 1024;

export function createFsObjectStore(options: { root: string }): ObjectStore {
  const root = path.resolve(options.root);
  const tmpDir = path.join(root, '.tmp');
  // Outputs of one endpoint land in one folder: concurrent renames there share a folder fsync.
  const folderSyncs = new Map<string, Coalesced>();
  const syncFolder = (dir: string) => {
    let sync = folderSyncs.get(dir);
    if (!sync) {
      // Bounded: forgetting a folder only costs a little sharing, never correctness.
      if (folderSyncs.size >= 1024) folderSyncs.clear();
      sync = coalesced(() => fsyncDir(dir));
      folderSyncs.set(dir, sync);
    }
    return sync.run();
  };
  let tmpDirReady: Promise<unknown> | undefined;

  function fileOf(uri: S3Uri): string {
    const problem = keyProblem(uri);
    if (problem) throw new AppError('ObjectKeyInvalid', `${formatS3Uri(uri)} cannot be stored in the embedded object store: ${problem}`);
    const file = path.resolve(root, uri.bucket, ...uri.key.split('/'));
    // Belt and braces: the checks above already exclude every way out of the bucket.
    if (!file.startsWith(path.join(root, uri.bucket) + path.sep)) {
      throw new AppError('ObjectKeyInvalid', `${formatS3Uri(uri)} resolves outside the object store`);
    }
    return file;
  }

  return {
    async get(uri) {
      const file = fileOf(uri);
      try {
        const info = await stat(file);
        if (!info.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' });
        return { body: createReadStream(file), contentLength: info.size } satisfies StoredObject;
      } catch (err) {
        if (isNodeError(err, 'ENOENT') || isNodeError(err, 'ENOTDIR')) {
          throw new AppError('ObjectNotFound', `The object ${formatS3Uri(uri)} does not exist`, { cause: err });
        }
        throw err;
      }
    },

    async put(uri, body) {
      const file = fileOf(uri);
      const folder = path.dirname(file);
      await (tmpDirReady ??= mkdir(tmpDir, { recursive: true }));
      const tmp = path.join(tmpDir, randomUUID());
      try {
        const source = body instanceof Readable ? body : Readable.from([body]);
        await pipeline(source, createWriteStream(tmp, { flush: true }));
        await rename(tmp, file).catch(async (err: unknown) => {
          // The folder is made on the first object that needs it, not checked for every object.
          if (!isNodeError(err, 'ENOENT')) throw err;
          await mkdir(folder, { recursive: true });
          await rename(tmp, file);
        });
        await syncFolder(folder);
      } catch (err) {
        await rm(tmp, { force: true });
        if (isNodeError(err, 'EISDIR') || isNodeError(err, 'ENOTDIR') || isNodeError(err, 'EEXIST')) {
          throw new AppError('ObjectKeyInvalid',
            `${formatS3Uri(uri)} cannot be stored in the embedded object store: the key and another key are a file and a folder of the same name`, { cause: err });
        }
        throw err;
      }
    },
  };
}

function keyProblem({ bucket, key }: S3Uri): string | undefined {
  if (!BUCKET.test(bucket)) return 'a bucket name is 3-63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit';
  if (key === '') return 'the key is empty';
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) return `the key is longer than ${MAX_KEY_BYTES} bytes`;
  if (key.includes('\0')) return 'the key contains a NUL character';
  if (key.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    return 'the key has an empty, "." or ".." path segment (a leading, trailing or doubled "/", or a relative step)';
  }
  return undefined;
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isNodeError(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

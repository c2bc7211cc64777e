/**
 * The embedded object store: `s3://BUCKET/KEY` is the file `<root>/BUCKET/KEY` (see fs-layout.ts
 * for everything else under the root). A write streams into a temp file, hashing it for the
 * ETag, fsyncs it, writes the sidecar, then renames the file into place (atomic), and fsyncs
 * both folders, so a `put` that resolved survives a crash.
 *
 * The sidecar is renamed into place before the object, so a reader that sees a new object also
 * sees its metadata. Overwriting an object has an instant in which the old bytes sit beside the
 * new sidecar; the sidecar does not match them (size and mtime) and is ignored, so such a reader
 * gets the old bytes with default metadata, never a mix of old and new bytes.
 */
import { createHash } from 'node:crypto';
import { close, createReadStream, fstat, open as openCallback } from 'node:fs';
import { lstat, mkdir, readdir, rm, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { formatS3Uri, type S3Uri } from '../../domain/index.js';
import { AppError } from '../../errors.js';
import type { BucketObject, BucketPutOptions, BucketStore, ByteRange, ObjectInfo } from '../bucket-store.js';
import { createDurableFiles, fileStamp, isNodeError, type TempFile } from './durable-files.js';
import { createFsLayout } from './fs-layout.js';
import { listFolder } from './fs-list.js';
import { assertNoLinks, linkRefused, READ_NO_FOLLOW } from './no-links.js';
import { createFsMultipart, digestMismatch } from './fs-multipart.js';
import { objectInfoOf, readSidecar, type Sidecar } from './sidecar.js';

const openFd = promisify(openCallback);
const fstatFd = promisify(fstat);
const closeFd = promisify(close);

export function createFsObjectStore(options: { root: string }): BucketStore {
  const layout = createFsLayout(options.root);
  const files = createDurableFiles(layout.tmpDir);

  /** The object's file and sidecar, once neither is nor lies under a symbolic link (no-links.ts). */
  async function pathsOf(uri: S3Uri): Promise<{ file: string; sidecar: string }> {
    const file = layout.fileOf(uri);
    const sidecar = layout.sidecarOf(uri);
    await Promise.all([assertNoLinks(layout.root, file), assertNoLinks(layout.root, sidecar)]);
    return { file, sidecar };
  }

  async function bucketExists(bucket: string): Promise<boolean> {
    // lstat: a link named like a bucket is not a bucket.
    const info = await lstat(layout.bucketDir(bucket)).catch(() => undefined);
    return info?.isDirectory() ?? false;
  }

  async function requireBucket(bucket: string): Promise<string> {
    const dir = layout.bucketDir(bucket);
    if (!(await bucketExists(bucket))) {
      throw new AppError('BucketNotFound', `The bucket ${bucket} does not exist. Create it first (aws s3 mb s3://${bucket}).`);
    }
    return dir;
  }

  /**
   * Refuses a key that is a folder of another key (or has one as a folder) before any byte is
   * written, so a large upload fails at once; `commit` still catches one that appears meanwhile.
   */
  async function checkNoFolderClash(uri: S3Uri): Promise<void> {
    const file = layout.fileOf(uri);
    const [isFolder, parentIsFile] = await Promise.all([
      stat(file).then((info) => info.isDirectory(), () => false),
      // A file where a folder of the key should be: the parent itself, or (ENOTDIR) one above it.
      stat(path.dirname(file)).then((info) => !info.isDirectory(), (err: unknown) => isNodeError(err, 'ENOTDIR')),
    ]);
    if (isFolder || parentIsFile) throw folderClash(uri);
  }

  /** Commits a streamed body, whose size and modification time are known once it is written. */
  async function commit(uri: S3Uri, temp: TempFile, fields: Omit<Sidecar, 'size' | 'mtimeMs'>): Promise<void> {
    const sidecar: Sidecar = { ...(await fileStamp(temp.path)), ...fields };
    await place(uri, temp.path, await files.writeTempSmall(JSON.stringify(sidecar)));
  }

  /**
   * Both renames first (sidecar, then object: readers see the metadata no later than the bytes),
   * then both folders' fsyncs at once. A crash before they return may keep either rename or both;
   * the put had not resolved, so its writer still owns the outcome and writes again.
   */
  async function place(uri: S3Uri, objectTemp: string, sidecarTemp: string): Promise<void> {
    let file: string;
    let sidecarFile: string;
    try {
      ({ file, sidecar: sidecarFile } = await pathsOf(uri));
      await files.renameIntoPlace(sidecarTemp, sidecarFile);
    } catch (err) {
      await files.discard(sidecarTemp);
      throw err;
    }
    try {
      // The object's folders may have been made just now by the sidecar's rename: checked again.
      await assertNoLinks(layout.root, file);
      await files.renameIntoPlace(objectTemp, file);
    } catch (err) {
      if (isNodeError(err, 'EISDIR', 'ENOTDIR', 'EEXIST', 'ENOTEMPTY')) throw folderClash(uri, err);
      throw err;
    }
    await Promise.all([files.syncFolder(path.dirname(sidecarFile)), files.syncFolder(path.dirname(file))]);
  }

  async function writeObject(uri: S3Uri, body: Uint8Array | Readable, putOptions: BucketPutOptions = {}): Promise<{ etag: string }> {
    layout.fileOf(uri); // a key that cannot be a file here is refused before anything is written
    const fields = (etag: string): Omit<Sidecar, 'size' | 'mtimeMs'> => {
      const checksum = putOptions.checksum?.();
      return {
        etag,
        ...(putOptions.contentType !== undefined && { contentType: putOptions.contentType }),
        ...(putOptions.metadata && Object.keys(putOptions.metadata).length > 0 && { metadata: { ...putOptions.metadata } }),
        ...(putOptions.headers && Object.keys(putOptions.headers).length > 0 && { headers: { ...putOptions.headers } }),
        ...(checksum && { checksum }),
      };
    };
    const checkMd5 = (md5: Buffer) => {
      if (putOptions.contentMd5 !== undefined && putOptions.contentMd5 !== md5.toString('base64')) throw digestMismatch(putOptions.contentMd5, md5);
      return md5.toString('hex');
    };
    if (body instanceof Uint8Array) return writeWhole(uri, body, fields(checkMd5(createHash('md5').update(body).digest())));
    const temp = await files.writeTemp(body, { md5: true });
    try {
      const etag = checkMd5(temp.md5!);
      await commit(uri, temp, fields(etag));
      return { etag };
    } catch (err) {
      await files.discard(temp.path);
      throw err;
    }
  }

  /** Bytes in memory: the object and its sidecar are written (and fsync'd) side by side. */
  async function writeWhole(uri: S3Uri, bytes: Uint8Array, described: Omit<Sidecar, 'size' | 'mtimeMs'>): Promise<{ etag: string }> {
    const sidecar: Sidecar = { size: bytes.length, mtimeMs: Date.now(), ...described };
    const [objectTemp, sidecarTemp] = await Promise.allSettled([
      files.writeTempWhole(bytes, sidecar.mtimeMs), files.writeTempSmall(JSON.stringify(sidecar)),
    ]);
    if (objectTemp.status === 'rejected' || sidecarTemp.status === 'rejected') {
      for (const written of [objectTemp, sidecarTemp]) if (written.status === 'fulfilled') await files.discard(written.value);
      throw objectTemp.status === 'rejected' ? objectTemp.reason : (sidecarTemp as PromiseRejectedResult).reason;
    }
    try {
      await place(uri, objectTemp.value, sidecarTemp.value);
    } catch (err) {
      await files.discard(objectTemp.value);
      throw err;
    }
    return { etag: described.etag };
  }

  /**
   * Opens the file first and describes what was opened, so bytes and metadata are of one file.
   * A plain descriptor rather than a FileHandle: a body nobody reads must not trip Node's
   * "FileHandle closed on garbage collection" deprecation.
   */
  async function openObject(uri: S3Uri) {
    const { file, sidecar } = await pathsOf(uri);
    const fd = await openFd(file, READ_NO_FOLLOW).catch((err: unknown) => {
      if (isNodeError(err, 'ELOOP')) throw linkRefused(file);
      throw isNodeError(err, 'ENOENT', 'ENOTDIR') ? notFound(uri, err) : err;
    });
    try {
      const info = await fstatFd(fd);
      if (!info.isFile()) throw notFound(uri);
      return { fd, info: objectInfoOf(info, await readSidecar(sidecar)) };
    } catch (err) {
      await closeFd(fd);
      throw err;
    }
  }

  const store: BucketStore = {
    async get(uri, getOptions = {}) {
      const { fd, info } = await openObject(uri);
      let range: { start: number; end: number } | undefined;
      try {
        range = getOptions.range && resolveRange(getOptions.range, info.contentLength, uri);
      } catch (err) {
        await closeFd(fd);
        throw err;
      }
      const { typed, ...objectInfo } = info;
      return {
        body: createReadStream('', { fd, ...range }),
        contentLength: range ? range.end - range.start + 1 : info.contentLength,
        ...(typed && { contentType: info.contentType }),
        info: objectInfo,
        ...(range && { range }),
      } satisfies BucketObject;
    },

    async head(uri) {
      const { file, sidecar } = await pathsOf(uri);
      const info = await lstat(file).catch((err: unknown) => {
        throw isNodeError(err, 'ENOENT', 'ENOTDIR') ? notFound(uri, err) : err;
      });
      if (!info.isFile()) throw notFound(uri);
      const { typed: _, ...described } = objectInfoOf(info, await readSidecar(sidecar));
      return described satisfies ObjectInfo;
    },

    async put(uri, body, putOptions) {
      // No fail-fast clash check: the worker's bodies are already held whole, and commit refuses a clash anyway.
      await writeObject(uri, body, putOptions);
    },

    async putObject(uri, body, putOptions = {}) {
      await checkNoFolderClash(uri);
      return writeObject(uri, body, putOptions);
    },

    async delete(uri) {
      const { file } = await pathsOf(uri);
      const bucketDir = layout.bucketDir(uri.bucket);
      try {
        await unlink(file);
      } catch (err) {
        // Nothing there, or a folder of other keys (never removed here): deleting is idempotent.
        if (isNodeError(err, 'ENOENT', 'ENOTDIR', 'EISDIR', 'EPERM')) return;
        throw err;
      }
      await unlink(layout.sidecarOf(uri)).catch(() => undefined);
      await files.syncFolder(path.dirname(file));
      // Emptied folders go, so that `a/b` gone lets a later key `a` be a file.
      for (let dir = path.dirname(file); dir !== bucketDir; dir = path.dirname(dir)) {
        try {
          await rmdir(dir);
        } catch {
          break;
        }
      }
    },

    async list(bucket, listOptions) {
      const dir = await requireBucket(bucket);
      return listFolder(dir, listOptions, async ({ key, file }) => {
        // lstat: a link is not an object (the walk does not enter linked folders either).
        const info = await lstat(file).catch(() => undefined);
        if (!info?.isFile()) return undefined;
        const { contentLength, etag, lastModifiedMs } = objectInfoOf(info, await readSidecar(layout.sidecarOf({ bucket, key })));
        return { size: contentLength, etag, lastModifiedMs };
      });
    },

    async createBucket(name) {
      const dir = layout.bucketDir(name);
      await mkdir(layout.root, { recursive: true });
      try {
        await mkdir(dir);
      } catch (err) {
        if (isNodeError(err, 'EEXIST')) {
          throw new AppError('BucketExists', `The bucket ${name} already exists, and it is yours: there is nothing to do (this store has one owner).`);
        }
        throw err;
      }
      await files.syncFolder(layout.root);
    },

    bucketExists,

    async listBuckets() {
      const entries = await readdir(layout.root, { withFileTypes: true }).catch((err: unknown) => {
        if (isNodeError(err, 'ENOENT')) return [];
        throw err;
      });
      const names = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
      const buckets = await Promise.all(names.map(async (name) => {
        try {
          layout.bucketDir(name);
        } catch {
          return undefined; // a folder a user made whose name is not a bucket name
        }
        const info = await stat(path.join(layout.root, name)).catch(() => undefined);
        // The folder's birth time where the file system keeps one, else its last change.
        return info && { name, createdAtMs: Math.floor(info.birthtimeMs || info.mtimeMs) };
      }));
      return buckets.filter((b) => b !== undefined).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },

    async deleteBucket(name) {
      const dir = await requireBucket(name);
      const notEmpty = () => new AppError('BucketNotEmpty', `The bucket ${name} is not empty. Delete its objects first (aws s3 rm s3://${name} --recursive), then the bucket.`);
      // The walk stops at the first object, so a full bucket is refused without reading all of it.
      if ((await store.list(name, { maxKeys: 1 })).objects.length > 0) throw notEmpty();
      // Only empty folders are removed (rmdir refuses the rest), so a key written meanwhile is never lost.
      await removeEmptyFolders(dir);
      try {
        await rmdir(dir);
      } catch (err) {
        if (isNodeError(err, 'ENOTEMPTY', 'EEXIST')) throw notEmpty();
        if (isNodeError(err, 'ENOENT')) return;
        throw err;
      }
      await rm(path.join(layout.metaDir, name), { recursive: true, force: true });
      await files.syncFolder(layout.root);
    },

    ...createFsMultipart({ layout, files, bucketExists, commit, checkKey: checkNoFolderClash }),
  };
  return store;
}

/** Resolves an HTTP byte range against the object's size (RFC 9110 §14.1.2); throws when nothing of it is there. */
export function resolveRange(range: ByteRange, size: number, uri: S3Uri): { start: number; end: number } {
  let start: number;
  let end: number;
  if ('suffixLength' in range) {
    start = Math.max(0, size - range.suffixLength);
    end = size - 1;
    if (range.suffixLength === 0) start = size;
  } else {
    start = range.start;
    end = Math.min(range.end ?? size - 1, size - 1);
  }
  if (start >= size || end < start) {
    throw new AppError('RangeNotSatisfiable', `The requested range is not satisfiable: ${formatS3Uri(uri)} is ${size} bytes long. Ask for a range that starts before byte ${size}.`);
  }
  return { start, end };
}

async function removeEmptyFolders(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const sub = path.join(dir, entry.name);
    await removeEmptyFolders(sub);
    await rmdir(sub).catch(() => undefined);
  }
}

function folderClash(uri: S3Uri, cause?: unknown): AppError {
  return new AppError('ObjectKeyInvalid',
    `${formatS3Uri(uri)} cannot be stored in the embedded object store: the key and another key are a file and a folder of the same name ` +
    '(as "a" and "a/b" would be). Objects are files here, so one of the two must have another name.', { cause });
}

function notFound(uri: S3Uri, cause?: unknown): AppError {
  return new AppError('ObjectNotFound', `The object ${formatS3Uri(uri)} does not exist`, { cause });
}

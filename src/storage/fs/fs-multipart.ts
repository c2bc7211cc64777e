/**
 * Multipart uploads of the embedded store. An upload is the folder `<root>/.uploads/<uploadId>/`
 * holding `upload.json` (bucket, key and the metadata given at creation) and one file per part,
 * named `<partNumber>-<md5 hex>`: a part's ETag is in its name, so writing a part is a single
 * atomic rename and completing never reads a part's bytes to check its ETag. Completing streams
 * the named parts one after the other into a temp file, which is then committed like any put.
 *
 * Uploads that are never completed nor aborted stay until they are (S3 keeps them too, until a
 * lifecycle rule removes them); `rm -r <data-dir>/s3/.uploads/<id>` is safe for one not in use.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { formatS3Uri, type S3Uri } from '../../domain/index.js';
import { AppError } from '../../errors.js';
import type { BucketStore, CompletedPart, ContentHeaders, UploadOptions } from '../bucket-store.js';
import { isNodeError, type DurableFiles, type TempFile } from './durable-files.js';
import type { FsLayout } from './fs-layout.js';
import { assertNoLinks } from './no-links.js';

/** S3's limits: every part but the last is at least 5 MiB; part numbers are 1-10,000. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const MAX_PART_NUMBER = 10_000;
const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface UploadRecord {
  bucket: string;
  key: string;
  contentType?: string;
  metadata?: Record<string, string>;
  headers?: ContentHeaders;
  initiatedMs: number;
}

export interface MultipartDeps {
  layout: FsLayout;
  files: DurableFiles;
  bucketExists(bucket: string): Promise<boolean>;
  /** Throws ObjectKeyInvalid for a key the store cannot hold (checked before any part is sent). */
  checkKey(uri: S3Uri): Promise<void>;
  /** Commits a whole temp file as the object, with its sidecar. */
  commit(uri: S3Uri, temp: TempFile, sidecar: { etag: string; contentType?: string; metadata?: Record<string, string>; headers?: ContentHeaders }): Promise<void>;
}

type Multipart = Pick<BucketStore, 'createUpload' | 'uploadPart' | 'completeUpload' | 'abortUpload'>;

export function createFsMultipart({ layout, files, bucketExists, checkKey, commit }: MultipartDeps): Multipart {
  function uploadDir(uploadId: string): string {
    if (!UPLOAD_ID.test(uploadId)) throw noSuchUpload(uploadId);
    return path.join(layout.uploadsDir, uploadId);
  }

  async function load(uploadId: string, uri: S3Uri): Promise<{ dir: string; record: UploadRecord }> {
    const dir = uploadDir(uploadId);
    await assertNoLinks(layout.root, path.join(dir, 'upload.json'));
    let record: UploadRecord;
    try {
      record = JSON.parse(await readFile(path.join(dir, 'upload.json'), 'utf8')) as UploadRecord;
    } catch (err) {
      if (isNodeError(err, 'ENOENT')) throw noSuchUpload(uploadId);
      throw err;
    }
    if (record.bucket !== uri.bucket || record.key !== uri.key) {
      throw new AppError('UploadNotFound', `The upload ${uploadId} is not an upload of ${formatS3Uri(uri)} (it belongs to s3://${record.bucket}/${record.key}). Use the bucket and key given to CreateMultipartUpload.`);
    }
    return { dir, record };
  }

  return {
    async createUpload(uri, options: UploadOptions = {}) {
      layout.fileOf(uri);
      if (!(await bucketExists(uri.bucket))) {
        throw new AppError('BucketNotFound', `The bucket ${uri.bucket} does not exist. Create it first (aws s3 mb s3://${uri.bucket}).`);
      }
      await checkKey(uri);
      const uploadId = randomUUID();
      const dir = uploadDir(uploadId);
      await assertNoLinks(layout.root, dir);
      await mkdir(dir, { recursive: true });
      const record: UploadRecord = {
        bucket: uri.bucket, key: uri.key, initiatedMs: Date.now(),
        ...(options.contentType !== undefined && { contentType: options.contentType }),
        ...(options.metadata && { metadata: { ...options.metadata } }),
        ...(options.headers && { headers: { ...options.headers } }),
      };
      const temp = await files.writeTempSmall(JSON.stringify(record));
      await files.moveIntoPlace(temp, path.join(dir, 'upload.json'));
      return uploadId;
    },

    async uploadPart(uploadId, uri, partNumber, body: Readable, options = {}) {
      const { dir } = await load(uploadId, uri);
      const temp = await files.writeTemp(body, { md5: true });
      const etag = temp.md5!.toString('hex');
      try {
        if (options.contentMd5 !== undefined && options.contentMd5 !== temp.md5!.toString('base64')) {
          throw digestMismatch(options.contentMd5, temp.md5!);
        }
        await rename(temp.path, path.join(dir, partFile(partNumber, etag)));
      } catch (err) {
        await files.discard(temp.path);
        if (isNodeError(err, 'ENOENT')) throw noSuchUpload(uploadId);
        throw err;
      }
      // A part uploaded again replaces the earlier one, as in S3: completing must name the new ETag.
      const earlier = (await readdir(dir)).filter((f) => f.startsWith(`${partNumber}-`) && f !== partFile(partNumber, etag));
      await Promise.all(earlier.map((f) => unlink(path.join(dir, f)).catch(() => undefined)));
      await files.syncFolder(dir);
      return { etag };
    },

    async completeUpload(uploadId, uri, parts: readonly CompletedPart[]) {
      const { dir, record } = await load(uploadId, uri);
      const chosen: { file: string; md5: Buffer }[] = [];
      parts.forEach((part, i) => {
        const previous = parts[i - 1]?.partNumber ?? 0;
        if (part.partNumber <= previous) {
          throw new AppError('PartOrderInvalid', `The parts must be listed in ascending order of PartNumber, each once; part ${part.partNumber} comes after part ${previous}.`);
        }
      });
      for (const [i, part] of parts.entries()) {
        const etag = part.etag.replace(/^"|"$/g, '').toLowerCase();
        const file = path.join(dir, partFile(part.partNumber, etag));
        const size = /^[0-9a-f]{32}$/.test(etag) ? await stat(file).then((s) => s.size, () => undefined) : undefined;
        if (size === undefined) {
          throw new AppError('PartInvalid', `Part ${part.partNumber} with ETag "${etag}" was not uploaded to ${uploadId} (or was uploaded again since, with another ETag). Use the ETag that UploadPart returned.`);
        }
        if (i < parts.length - 1 && size < MIN_PART_BYTES) {
          throw new AppError('PartTooSmall', `Part ${part.partNumber} is ${size} bytes; every part but the last must be at least ${MIN_PART_BYTES} bytes (5 MiB).`);
        }
        chosen.push({ file, md5: Buffer.from(etag, 'hex') });
      }
      const temp = await files.writeTemp((async function* () {
        for (const part of chosen) yield* createReadStream(part.file);
      })());
      const etag = `${createHash('md5').update(Buffer.concat(chosen.map((p) => p.md5))).digest('hex')}-${chosen.length}`;
      try {
        await commit(uri, temp, {
          etag,
          ...(record.contentType !== undefined && { contentType: record.contentType }),
          ...(record.metadata && { metadata: record.metadata }),
          ...(record.headers && { headers: record.headers }),
        });
      } catch (err) {
        await files.discard(temp.path);
        throw err;
      }
      await rm(dir, { recursive: true, force: true });
      return { etag };
    },

    async abortUpload(uploadId, uri) {
      const { dir } = await load(uploadId, uri);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function partFile(partNumber: number, etag: string): string {
  return `${partNumber}-${etag}`;
}

function noSuchUpload(uploadId: string): AppError {
  return new AppError('UploadNotFound', `The multipart upload ${uploadId} does not exist: it was completed or aborted, or never created. Start a new one with CreateMultipartUpload.`);
}

export function digestMismatch(expectedBase64: string, actual: Buffer): AppError {
  return new AppError('DigestMismatch', `The Content-MD5 you sent (${expectedBase64}) does not match the MD5 of the body received (${actual.toString('base64')}); nothing was stored. Send the body again.`);
}

/**
 * The embedded store's one way to write: stream into a temp file (hashing on the way), fsync it,
 * rename it into place (same file system, so atomic), and fsync the folder so the rename
 * survives a crash. Folder fsyncs are coalesced: objects renamed into one folder at about the
 * same time (the outputs of one endpoint) share one.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { lstat, mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { coalesced, type Coalesced } from '../../coalesced.js';
import { AppError } from '../../errors.js';

export interface TempFile {
  path: string;
  size: number;
  /** When the content was hashed. */
  md5?: Buffer;
}

export interface DurableFiles {
  /** Streams `body` into a new temp file, fsync'd; removes it again if anything fails. */
  writeTemp(body: Uint8Array | Readable | AsyncIterable<Uint8Array>, options?: { md5?: boolean }): Promise<TempFile>;
  /**
   * Bytes already in memory, as a temp file whose modification time is set to `mtimeMs` before the
   * fsync, so a sidecar naming that time can be written at the same time instead of after it.
   */
  writeTempWhole(bytes: Uint8Array, mtimeMs: number): Promise<string>;
  /** A small file written whole (a sidecar), as a temp file. */
  writeTempSmall(content: string): Promise<string>;
  /**
   * Renames a temp file to `target`, making missing folders (durably) on the way. Errors are the
   * file system's (EISDIR, ENOTDIR, EEXIST when a key and a folder collide); the caller maps them.
   */
  moveIntoPlace(temp: string, target: string): Promise<void>;
  /** `moveIntoPlace` without the folder's fsync: the caller syncs `path.dirname(target)` (with others) before it reports success. */
  renameIntoPlace(temp: string, target: string): Promise<void>;
  /** fsync a folder, shared with whoever else needs the same folder synced right now. */
  syncFolder(dir: string): Promise<void>;
  discard(temp: string): Promise<void>;
}

export function createDurableFiles(tmpDir: string): DurableFiles {
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
  const newTemp = async () => {
    // A failed mkdir (a full disk) is not kept: the next write tries again.
    await (tmpDirReady ??= mkdir(tmpDir, { recursive: true }).then(async () => {
      // Temp files are never written through a link (no-links.ts).
      if ((await lstat(tmpDir)).isSymbolicLink()) throw new AppError('ObjectKeyInvalid', `${tmpDir} is a symbolic link; the embedded object store does not follow links. Make it a folder.`);
    }).catch((err: unknown) => {
      tmpDirReady = undefined;
      throw err;
    }));
    return path.join(tmpDir, randomUUID());
  };

  /** mkdir -p, then fsync the parent of every folder it made, so the folders survive a crash too. */
  async function makeFolder(dir: string): Promise<void> {
    const first = await mkdir(dir, { recursive: true });
    if (first === undefined) return;
    const made: string[] = [];
    for (let d = dir; d.length >= first.length; d = path.dirname(d)) made.push(path.dirname(d));
    await Promise.all(made.map(syncFolder));
  }

  return {
    async writeTemp(body, options = {}) {
      const tmp = await newTemp();
      const hash = options.md5 ? createHash('md5') : undefined;
      let size = 0;
      try {
        const source = body instanceof Uint8Array ? Readable.from([body]) : body;
        await pipeline(source, async function* (chunks: AsyncIterable<Uint8Array>) {
          for await (const chunk of chunks) {
            size += chunk.length;
            hash?.update(chunk);
            yield chunk;
          }
        }, createWriteStream(tmp, { flush: true }));
        return { path: tmp, size, ...(hash && { md5: hash.digest() }) };
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
    },

    async writeTempWhole(bytes, mtimeMs) {
      const tmp = await newTemp();
      try {
        const handle = await open(tmp, 'wx');
        try {
          await handle.writeFile(bytes);
          const mtime = new Date(mtimeMs);
          await handle.utimes(mtime, mtime);
          await handle.sync();
        } finally {
          await handle.close();
        }
        return tmp;
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
    },

    async writeTempSmall(content) {
      const tmp = await newTemp();
      try {
        await writeFile(tmp, content, { flush: true });
        return tmp;
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
    },

    async moveIntoPlace(temp, target) {
      await this.renameIntoPlace(temp, target);
      await syncFolder(path.dirname(target));
    },

    async renameIntoPlace(temp, target) {
      const folder = path.dirname(target);
      // A folder is made on the first file that needs it, not checked for every file. A delete
      // may remove a folder it just emptied between our mkdir and rename: then try again.
      for (let attempt = 1; ; attempt++) {
        try {
          await rename(temp, target);
          break;
        } catch (err) {
          if (!isNodeError(err, 'ENOENT') || attempt === 3) throw err;
          await makeFolder(folder);
        }
      }
    },

    syncFolder,
    discard: (temp) => rm(temp, { force: true }),
  };
}

/** The size and modification time the file had when closed: a sidecar records both to know it still describes the file. */
export async function fileStamp(file: string): Promise<{ size: number; mtimeMs: number }> {
  const info = await stat(file);
  return { size: info.size, mtimeMs: info.mtimeMs };
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function isNodeError(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes((err as { code?: unknown }).code as string);
}

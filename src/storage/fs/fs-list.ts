/**
 * Listing a bucket folder as S3 lists a bucket: keys in UTF-8 byte order, filtered by prefix,
 * after a start key, rolled up into common prefixes at a delimiter, one page at a time.
 *
 * The folder tree is walked in key order: within a folder, a subfolder `d` sorts as `d/` (every
 * key in it starts so), which makes a depth-first walk yield keys exactly in byte order. Only
 * subtrees that can hold a wanted key are read: a prefix or start key prunes whole folders, and
 * so does a common prefix once it has been returned. A folder with no file under it yields no
 * key and so no common prefix, as in S3, where prefixes exist only through keys.
 */
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { ListOptions, ListPage } from '../bucket-store.js';
import { isNodeError } from './durable-files.js';

export interface WalkedFile {
  key: string;
  file: string;
}

export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * Lists one page. `describe` gives an object's size, ETag and mtime (from its sidecar);
 * it may return undefined for a file that vanished meanwhile, which is then left out.
 */
export async function listFolder(
  bucketDir: string,
  options: ListOptions,
  describe: (walked: WalkedFile) => Promise<{ size: number; etag: string; lastModifiedMs: number } | undefined>,
): Promise<ListPage> {
  const prefix = options.prefix ?? '';
  const delimiter = options.delimiter || undefined;
  const after = options.startAfter ?? '';
  const page: ListPage = { objects: [], commonPrefixes: [], isTruncated: false };
  if (options.maxKeys <= 0) return page;

  const walk = createWalk(bucketDir, prefix, after);
  // Resuming after a common prefix: every key under it rolls up into it again, so skip them all.
  const resumed = delimiter && after.startsWith(prefix) ? commonPrefixOf(after, prefix, delimiter) : undefined;
  if (resumed) walk.skip = resumed;

  let count = 0;
  for await (const walked of walk.files()) {
    const commonPrefix = delimiter ? commonPrefixOf(walked.key, prefix, delimiter) : undefined;
    if (commonPrefix !== undefined) {
      walk.skip = commonPrefix;
      if (compareKeys(commonPrefix, after) <= 0) continue;
    }
    if (count === options.maxKeys) {
      page.isTruncated = true;
      break;
    }
    if (commonPrefix !== undefined) {
      page.commonPrefixes.push(commonPrefix);
      page.last = commonPrefix;
      count++;
      continue;
    }
    const described = await describe(walked);
    if (!described) continue;
    page.objects.push({ key: walked.key, ...described });
    page.last = walked.key;
    count++;
  }
  return page;
}

function commonPrefixOf(key: string, prefix: string, delimiter: string): string | undefined {
  const at = key.indexOf(delimiter, prefix.length);
  return at === -1 ? undefined : key.slice(0, at + delimiter.length);
}

interface Walk {
  /** Keys starting with this are not wanted any more (their common prefix was returned). */
  skip: string | undefined;
  files(): AsyncGenerator<WalkedFile>;
}

function createWalk(bucketDir: string, prefix: string, after: string): Walk {
  const walk: Walk = {
    skip: undefined,
    async *files() {
      yield* folder(bucketDir, '');
    },
  };
  const skipped = (key: string) => walk.skip !== undefined && key.startsWith(walk.skip);

  async function* folder(dir: string, keyPrefix: string): AsyncGenerator<WalkedFile> {
    const entries = await sortedEntries(dir, keyPrefix);
    for (const entry of entries) {
      if (entry.isFolder) {
        // Every key in here starts with `entry.key` (which ends in "/").
        const p = entry.key;
        if (!(p.startsWith(prefix) || prefix.startsWith(p))) continue;
        if (!after.startsWith(p) && compareKeys(p, after) < 0) continue;
        if (skipped(p)) continue;
        yield* folder(path.join(dir, entry.name), p);
      } else {
        if (!entry.key.startsWith(prefix) || compareKeys(entry.key, after) <= 0 || skipped(entry.key)) continue;
        yield { key: entry.key, file: path.join(dir, entry.name) };
      }
    }
  }
  return walk;
}

async function sortedEntries(dir: string, keyPrefix: string): Promise<{ name: string; key: string; isFolder: boolean }[]> {
  let dirents: Dirent[];
  try {
    dirents = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    // Removed while we walked (a delete pruning an emptied folder): nothing left to list.
    if (isNodeError(err, 'ENOENT', 'ENOTDIR')) return [];
    throw err;
  }
  const entries: { name: string; key: string; isFolder: boolean; sortKey: Buffer }[] = [];
  for (const d of dirents) {
    // A symbolic link is neither: the store never follows one (no-links.ts), so it does not list one.
    const isFolder = d.isDirectory();
    const isFile = d.isFile();
    if (!isFolder && !isFile) continue;
    const key = keyPrefix + d.name + (isFolder ? '/' : '');
    entries.push({ name: d.name, key, isFolder, sortKey: Buffer.from(key) });
  }
  entries.sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));
  return entries;
}

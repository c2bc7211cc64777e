/**
 * The embedded store never follows a symbolic link below its root: a link someone placed in
 * `<data-dir>/s3` (to `/etc`, to a home folder) must not let an S3 call read, create or delete a
 * file outside the data dir. Every path the store touches is checked component by component from
 * the root (lstat, which does not follow), and files are opened with O_NOFOLLOW, so the last
 * component cannot be swapped for a link between the check and the open. The root itself may be
 * a link: that is the operator's choice of where the data dir lives.
 */
import { constants } from 'node:fs';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../../errors.js';
import { isNodeError } from './durable-files.js';

/** Open flags for reading a file without following a link in its last component (0 where the platform has none). */
export const READ_NO_FOLLOW = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0);

/**
 * Throws `LinkRefused` (an AppError, ObjectKeyInvalid) when `target` or a folder between `root`
 * and it is a symbolic link. Components that do not exist yet are fine (they will be made as
 * folders, which mkdir does not make through a link that is not there).
 */
export async function assertNoLinks(root: string, target: string): Promise<void> {
  const relative = path.relative(root, target);
  if (relative === '') return;
  if (relative.startsWith('..') || path.isAbsolute(relative)) throw linkRefused(target);
  const parts = relative.split(path.sep);
  const checks: Promise<boolean>[] = [];
  let at = root;
  for (const part of parts) {
    at = path.join(at, part);
    const here = at;
    checks.push(lstat(here).then((info) => info.isSymbolicLink(), (err: unknown) => {
      if (isNodeError(err, 'ENOENT', 'ENOTDIR')) return false;
      throw err;
    }));
  }
  if ((await Promise.all(checks)).some(Boolean)) throw linkRefused(target);
}

export function linkRefused(target: string): AppError {
  return new AppError('ObjectKeyInvalid',
    `The embedded object store does not follow symbolic links, and ${path.basename(target)} is one or lies in a folder that is one; nothing was read, written or deleted.`);
}


/**
 * One process per SQLite queue: the queue reclaims every lease it finds at start, which is only
 * right when no other live process holds them. A pid file makes a second server on the same data
 * dir fail at start with a clear message instead of corrupting the first one's work.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { AppError } from '../../errors.js';

/** Lock files this process holds: a lock naming our own pid is ours only if it is in here. */
const heldHere = new Set<string>();

export function acquireLockFile(file: string): () => void {
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      heldHere.add(file);
      return () => {
        heldHere.delete(file);
        rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(file, 'utf8').trim());
      const held = pid === process.pid ? heldHere.has(file) : Number.isInteger(pid) && pid > 0 && isAlive(pid);
      if (held) {
        throw new AppError('DataDirLocked',
          `Another asyncinfer process (pid ${pid}) is using ${file}. Stop it, or give this one its own --data-dir.`);
      }
      // A stale lock from a process that died (kill -9), perhaps one that had our pid: take it over.
      rmSync(file, { force: true });
    }
  }
  throw new AppError('DataDirLocked', `Could not take the lock ${file}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

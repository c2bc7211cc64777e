/**
 * Instances run in their own process groups, recorded as files in `<dataDir>/run/`. If the server
 * is killed with SIGKILL its instances outlive it; the next start kills what the files name.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface InstanceRegistry {
  add(pgid: number): void;
  remove(pgid: number): void;
}

export function createInstanceRegistry(runDir: string): InstanceRegistry & { reapOrphans(): number } {
  mkdirSync(runDir, { recursive: true });
  const fileOf = (pgid: number) => path.join(runDir, `instance-${pgid}.pid`);
  return {
    add: (pgid) => writeFileSync(fileOf(pgid), String(pgid)),
    remove: (pgid) => rmSync(fileOf(pgid), { force: true }),
    reapOrphans() {
      let killed = 0;
      for (const name of readdirSync(runDir)) {
        const pgid = Number(/^instance-(\d+)\.pid$/.exec(name)?.[1]);
        if (!pgid) continue;
        try {
          process.kill(-pgid, 'SIGKILL');
          killed++;
        } catch {
          // Already gone.
        }
        rmSync(path.join(runDir, name), { force: true });
      }
      return killed;
    },
  };
}

/**
 * ModelDataUrl: a tar.gz of model artifacts, unpacked once into `<dir>/<hash of the URL>` and
 * handed to instances in SM_MODEL_DIR (SageMaker's /opt/ml/model). The system `tar` unpacks it;
 * GNU tar drops leading slashes and refuses `..` members, so nothing lands outside the folder.
 * A URL already unpacked is reused, as SageMaker downloads model data once per deployment.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export async function unpackModelData(options: { url: string; dir: string; open: (url: string) => Promise<Readable> }): Promise<string> {
  const target = path.join(options.dir, createHash('sha256').update(options.url).digest('hex').slice(0, 16));
  if (existsSync(target)) return target;
  const partial = `${target}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  try {
    const source = await options.open(options.url);
    const tar = spawn('tar', ['-xzf', '-', '-C', partial, '--no-same-owner'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    tar.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const exited = new Promise<number | null>((resolve, reject) => {
      tar.once('error', reject);
      tar.once('close', resolve);
    });
    await pipeline(source, tar.stdin).catch((err: unknown) => {
      // tar closing its input early (a bad archive) shows up here; its exit status says more.
      if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
    });
    const code = await exited;
    if (code !== 0) throw new Error(`tar could not unpack it as a .tar.gz (exit ${code}): ${stderr.trim().split('\n').slice(-2).join(' ')}`);
    await rename(partial, target);
    return target;
  } catch (err) {
    await rm(partial, { recursive: true, force: true });
    throw err;
  }
}

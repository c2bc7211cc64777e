/**
 * ModelDataUrl: a tar.gz of model artifacts, unpacked once into `<dir>/<hash of the URL>` and
 * handed to instances in SM_MODEL_DIR (SageMaker's /opt/ml/model). We gunzip it here, counting
 * bytes, and the system `tar` unpacks the archive; GNU tar drops leading slashes and refuses `..`
 * members, so nothing lands outside the folder. The whole download and unpack must end within
 * `timeoutMs` (ModelDataDownloadTimeoutInSeconds), and the unpacked archive may not exceed
 * `maxBytes` (outbound.maxModelDataBytes): a small .gz that unpacks huge is cut off and removed.
 * A URL already unpacked is reused, as SageMaker downloads model data once per deployment.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { byteCap } from '../outbound/index.js';

/** Defaults when the caller gives none: 10 GiB unpacked, and SageMaker's largest download timeout (3600 s). */
export const DEFAULT_MAX_MODEL_DATA_BYTES = 10 * 1024 ** 3;
export const DEFAULT_MODEL_DATA_TIMEOUT_MS = 3_600_000;

export async function unpackModelData(options: {
  url: string; dir: string; open: (url: string, signal: AbortSignal) => Promise<Readable>; maxBytes?: number; timeoutMs?: number;
}): Promise<string> {
  const target = path.join(options.dir, createHash('sha256').update(options.url).digest('hex').slice(0, 16));
  if (existsSync(target)) return target;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_MODEL_DATA_BYTES;
  const timeoutMs = options.timeoutMs ?? DEFAULT_MODEL_DATA_TIMEOUT_MS;
  const partial = `${target}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  const signal = AbortSignal.timeout(timeoutMs);
  let tar: ReturnType<typeof spawn> | undefined;
  try {
    const source = await options.open(options.url, signal);
    const proc = spawn('tar', ['-xf', '-', '-C', partial, '--no-same-owner'], { stdio: ['pipe', 'ignore', 'pipe'] });
    tar = proc;
    let stderr = '';
    proc.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
    const exited = new Promise<number | null>((resolve, reject) => {
      proc.once('error', reject);
      proc.once('close', resolve);
    });
    // The compressed download and the unpacked archive are both capped: the archive's size bounds what tar writes.
    await pipeline(source, byteCap(maxBytes, 'the model data'), createGunzip(), byteCap(maxBytes, 'the unpacked model data'), proc.stdin!, { signal }).catch((err: unknown) => {
      if (signal.aborted) throw new Error(`the download and unpacking took longer than ${Math.round(timeoutMs / 1000)} seconds (ModelDataDownloadTimeoutInSeconds)`);
      // tar closing its input early (a bad archive) shows up here; its exit status says more.
      if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
    });
    const code = await exited;
    if (code !== 0) throw new Error(`tar could not unpack it as a .tar.gz (exit ${code}): ${stderr.trim().split('\n').slice(-2).join(' ')}`);
    await rename(partial, target);
    return target;
  } catch (err) {
    if (tar && tar.exitCode === null) tar.kill('SIGKILL');
    await rm(partial, { recursive: true, force: true });
    throw err;
  }
}

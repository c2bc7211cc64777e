/**
 * The data dir's disk fills up: new InvokeEndpointAsync requests get a clear 503 ServiceUnavailable
 * (never a 500, never a 202 for a request that was not stored), invocations accepted before are
 * kept, and once space is freed the server takes requests again and every 202 ends completed with
 * its output object.
 *
 * The data dir is a small file system of its own: a 40 MB tmpfs, or (where tmpfs cannot be
 * mounted) a loop-mounted ext4 image. Mounting needs root; without it the tests are skipped and
 * say why.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { InvokeEndpointAsyncCommand, ServiceUnavailable, ValidationError, type InvokeEndpointAsyncCommandInput } from '@aws-sdk/client-sagemaker-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlEndpoint, invocationRows, startServer, tempDir, waitFor, waitForObject, type ServerProcess } from './support/server.js';

const root = tempDir('asyncinfer-disk-full-');
/** The mount point is the data dir itself, so startServer's log and config (beside it) stay off the small disk. */
const dataDir = path.join(root, 'data');
const mount = mountSmallFileSystem(dataDir);

function mountSmallFileSystem(dir: string): { ok: true; kind: string } | { ok: false; reason: string } {
  mkdirSync(dir, { recursive: true });
  const quiet = { stdio: 'pipe' } as const;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', dir], quiet);
    return { ok: true, kind: 'tmpfs' };
  } catch (tmpfsErr) {
    const image = path.join(root, 'disk.img');
    try {
      execFileSync('truncate', ['-s', '40M', image], quiet);
      // -m 0: no blocks reserved for root (we are root, and would otherwise write past "full").
      execFileSync('mkfs.ext4', ['-q', '-F', '-m', '0', image], quiet);
      execFileSync('mount', ['-o', 'loop', image, dir], quiet);
      return { ok: true, kind: 'ext4 on a loop device' };
    } catch (loopErr) {
      // Vitest runs no hooks for a file whose tests are all skipped: clean up here.
      rmSync(root, { recursive: true, force: true });
      const why = (err: unknown) => ((err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message).split('\n')[0];
      return { ok: false, reason: `cannot mount a small file system for the data dir (needs root): tmpfs: ${why(tmpfsErr)}; loop ext4: ${why(loopErr)}` };
    }
  }
}

let server: ServerProcess;
const fillerFile = path.join(dataDir, 'filler');

/**
 * Writes a filler file until the file system answers ENOSPC: in 1 MB steps, then 4 KB, then 512 B
 * ones (a small ext4 has 1 KB blocks: 4 KB steps alone would leave room for a small object).
 */
function fillDisk(): number {
  const fd = openSync(fillerFile, 'w');
  let written = 0;
  try {
    for (const chunk of [Buffer.alloc(1 << 20, 1), Buffer.alloc(4096, 1), Buffer.alloc(512, 1)]) {
      for (;;) {
        try {
          written += writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

function freeDisk(): void {
  unlinkSync(fillerFile);
}

async function invoke(input: Partial<InvokeEndpointAsyncCommandInput> = {}) {
  return server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'ep', Body: Buffer.from('{"x":1}'), ...input }));
}

beforeAll(async () => {
  if (!mount.ok) return;
  server = await startServer({ dataDir, config: { endpoints: [controlEndpoint('ep')] } });
});

afterAll(async () => {
  try {
    if (mount.ok) rmSync(fillerFile, { force: true });
    if (server) expect(await server.stop()).toBe(0);
  } finally {
    if (mount.ok) execFileSync('umount', ['-l', dataDir]);
    rmSync(root, { recursive: true, force: true });
  }
});

describe.skipIf(!mount.ok)(`the data dir's disk is full (${mount.ok ? mount.kind : `skipped: ${mount.reason}`})`, () => {
  it('refuses new requests with 503 ServiceUnavailable, keeps what it accepted, and resumes once space is freed', async () => {
    // Accepted before: two that finish now, four that are still running on the model (its four
    // slots) and two that are still queued behind them while the disk is full.
    const before: string[] = [];
    for (let i = 0; i < 2; i++) before.push((await invoke()).OutputLocation!);
    for (const location of before) await waitForObject(dataDir, location);
    for (let i = 0; i < 4; i++) before.push((await invoke({ CustomAttributes: 'sleep_ms=8000' })).OutputLocation!);
    for (let i = 0; i < 2; i++) before.push((await invoke()).OutputLocation!);
    const storedBefore = invocationRows(dataDir).length;
    expect(storedBefore).toBe(8);

    expect(fillDisk()).toBeGreaterThan(10 * 1024 * 1024);
    try {
      for (const body of [Buffer.from('{"x":2}'), Buffer.alloc(100_000, 7)]) {
        for (let i = 0; i < 3; i++) {
          const err = await invoke({ Body: body }).then(() => undefined, (e: unknown) => e);
          expect(err).toBeInstanceOf(ServiceUnavailable);
          const e = err as ServiceUnavailable;
          expect(e.$metadata.httpStatusCode).toBe(503);
          expect(e.$fault).toBe('server');
          expect(e.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
          // The message says what happened and what to do.
          expect(e.message).toMatch(/not accepted.*disk is full.*Retry later/);
        }
      }
      // Nothing of those was stored, and the ones accepted before are all still there.
      expect(invocationRows(dataDir)).toHaveLength(storedBefore);
      // Requests that need no disk are still answered as usual.
      const bad = await invoke({ RequestTTLSeconds: 1 }).then(() => undefined, (e: unknown) => e);
      expect(bad).toBeInstanceOf(ValidationError);
      // And none of it was an InternalFailure: every failed request was a ServiceUnavailable.
      expect(server.logs.filter((l) => l.msg === 'request failed' && (l.err as { code?: string }).code !== 'ServiceUnavailable')).toEqual([]);
      expect(server.child.exitCode).toBeNull();
    } finally {
      freeDisk();
    }

    // Space again: requests are accepted at once.
    const after: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await invoke({ Body: Buffer.from(`{"after":${i}}`) });
      expect(res.$metadata.httpStatusCode).toBe(202);
      after.push(res.OutputLocation!);
    }

    for (const location of [...before, ...after]) await waitForObject(dataDir, location, 30_000);
    await waitFor(() => invocationRows(dataDir).every((r) => r.state === 'completed'), 10_000, 'every invocation completed');
    // Exactly the 202s were stored, each ran once.
    const rows = invocationRows(dataDir);
    expect(rows).toHaveLength(before.length + after.length);
    expect(rows.every((r) => r.attempts === 1)).toBe(true);
  }, 45_000);

  it('retries an output write that meets the full disk, and writes it once space is freed', async () => {
    // Alone on the model, so its write is the one that meets the full disk; and not the store's
    // first write (that one also makes the store's folders: see the second todo below).
    await waitForObject(dataDir, (await invoke()).OutputLocation!);
    await waitFor(() => invocationRows(dataDir).every((r) => r.state === 'completed'), 20_000, 'the earlier invocations to finish');
    const res = await invoke({ CustomAttributes: 'sleep_ms=300' });
    const id = /([0-9a-f-]{36})\.out$/.exec(res.OutputLocation!)![1];
    fillDisk();
    try {
      // The model answers; the outcome's first write (the claim on its object in the queue, then the
      // object itself) fails for lack of space and is retried in place, not by running the model again.
      await waitFor(() => server.logs.some((l) => l.id === id
        && ((l.msg === 'writing the outcome object failed; retrying' && String((l.err as { message?: string } | undefined)?.message).includes('ENOSPC'))
          || (l.msg === 'recording the outcome claim failed; retrying' && /disk is full|ENOSPC/.test(String((l.err as { message?: string } | undefined)?.message))))), 10_000, 'the outcome write to fail for lack of space');
    } finally {
      freeDisk();
    }
    const output = JSON.parse((await waitForObject(dataDir, res.OutputLocation!, 10_000)).toString()) as { bodyBase64: string };
    expect(Buffer.from(output.bodyBase64, 'base64').toString()).toBe('{"x":1}');
    await waitFor(() => invocationRows(dataDir).find((r) => r.id === id)?.state === 'completed', 5000, 'the invocation to be completed');
    expect(invocationRows(dataDir).find((r) => r.id === id)).toMatchObject({ state: 'completed', attempts: 1 });
  });
});

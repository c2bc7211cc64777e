/**
 * Starts the real server as a user would (`node dist/src/cli/main.js serve`), on a free port, with
 * its own data dir, and hands back what tests need: its URL, its logs, SDK clients, and the files
 * behind s3:// URIs.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import Database from 'better-sqlite3';
import { TEST_CREDENTIALS, TEST_KEY_ENV } from './signing.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = path.join(ROOT, 'dist/src/cli/main.js');
export const CONTROL_MODEL = path.join(ROOT, 'test/fixtures/control-model.mjs');
export const SENTIMENT_MODEL = path.join(ROOT, 'dist/examples/models/sentiment/server.js');
export const IRIS_MODEL = path.join(ROOT, 'examples/models/iris/serve.py');

export interface LogLine {
  msg?: string;
  level?: number;
  [key: string]: unknown;
}

export interface ServerProcess {
  url: string;
  /** The embedded store's S3 API (absent when storage is S3 or the API is off). */
  s3Url?: string;
  dataDir: string;
  child: ChildProcess;
  logs: LogLine[];
  client: SageMakerRuntimeClient;
  /** SIGTERM (or another signal) and wait for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export function tempDir(prefix = 'asyncinfer-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** An endpoint on the control model, with outputs and failures in bucket `bucket`. */
export function controlEndpoint(name: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    model: { command: [process.execPath, CONTROL_MODEL] },
    instances: { initial: 1 },
    asyncInferenceConfig: {
      OutputConfig: { S3OutputPath: `s3://bucket/${name}/out`, S3FailurePath: `s3://bucket/${name}/fail` },
      ClientConfig: { MaxConcurrentInvocationsPerInstance: 4 },
    },
    ...overrides,
  };
}

/** One endpoint `ep` with two instances taking four invocations each: the crash tests' setup. */
export const TWO_INSTANCE_CONFIG = {
  endpoints: [controlEndpoint('ep', {
    instances: { initial: 2 },
    asyncInferenceConfig: {
      OutputConfig: { S3OutputPath: 's3://bucket/ep/out', S3FailurePath: 's3://bucket/ep/fail' },
      ClientConfig: { MaxConcurrentInvocationsPerInstance: 4 },
    },
  })],
};

export async function startServer(options: { config?: Record<string, unknown>; dataDir?: string; args?: string[]; env?: NodeJS.ProcessEnv; waitForReady?: boolean } = {}): Promise<ServerProcess> {
  const dataDir = options.dataDir ?? tempDir();
  const args = [CLI, 'serve', '--port', '0', '--s3-port', '0', '--data-dir', dataDir, ...(options.args ?? [])];
  if (options.config) {
    const file = path.join(dataDir, '..', `${path.basename(dataDir)}-config.json`);
    writeFileSync(file, JSON.stringify(options.config));
    args.push('--config', file);
  }
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT, env: { ...process.env, ...TEST_KEY_ENV, ...options.env } });
  const logs: LogLine[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => {
    stderr.push(l);
    appendFileSync(`${dataDir}.log`, `[stderr] ${l}\n`);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let s3Url: string | undefined;
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      // Kept beside the data dir, for reading after a failure.
      appendFileSync(`${dataDir}.log`, `${line}\n`);
      try {
        const entry = JSON.parse(line) as LogLine;
        logs.push(entry);
        if (entry.msg === 'asyncinfer listening') {
          s3Url = entry.s3Url as string | undefined;
          resolve(entry.url as string);
        }
      } catch {
        logs.push({ msg: line });
      }
    });
    void exited.then((code) => reject(new Error(`server exited with ${code} before listening: ${stderr.join('\n')}`)));
  });
  const client = new SageMakerRuntimeClient({
    endpoint: url, region: 'us-east-1', maxAttempts: 1,
    credentials: TEST_CREDENTIALS,
  });
  const server: ServerProcess = {
    url, ...(s3Url !== undefined && { s3Url }), dataDir, child, logs, client, exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  if (options.waitForReady !== false) await waitFor(() => logs.some((l) => l.msg === 'model instance ready' || l.msg === 'model URL ready'), 20_000, 'a model instance to be ready');
  return server;
}

/** The file behind an s3:// URI in a server's embedded object store. */
export function objectFile(dataDir: string, uri: string): string {
  const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (!m) throw new Error(`not an s3 URI: ${uri}`);
  return path.join(dataDir, 's3', m[1]!, m[2]!);
}

export async function waitForObject(dataDir: string, uri: string, timeoutMs = 15_000): Promise<Buffer> {
  const file = objectFile(dataDir, uri);
  await waitFor(() => existsSync(file), timeoutMs, `object ${uri}`);
  return readFileSync(file);
}

/** Polls a condition with a deadline (no fixed sleeps). */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Rows of the server's queue, read directly (WAL lets a reader in beside the server). */
export function invocationRows(dataDir: string): { id: string; inference_id: string; state: string; attempts: number; failure_reason: string | null }[] {
  const db = new Database(path.join(dataDir, 'queue.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT id, inference_id, state, attempts, failure_reason FROM invocations ORDER BY seq').all() as never;
  } finally {
    db.close();
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs a command to completion: its exit code and output, whether it succeeded or not. */
export function runCommand(command: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { env: env ?? process.env }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

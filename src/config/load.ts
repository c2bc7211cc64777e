/**
 * Resolves the configuration once, at start: defaults < file < environment < flags. Every problem
 * is reported at once with its path; nothing reads process.env after this.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { AppError } from '../errors.js';
import type { PolicyDocument } from '../auth/policy.js';
import { ConfigSchema, SECRET_RULE, type Config, type ConfigInput } from './schema.js';

export interface ConfigSources {
  /** JSON or YAML file; without one the demo endpoint is served. */
  file?: string;
  env?: Record<string, string | undefined>;
  flags?: { host?: string; port?: number; s3Port?: number; dataDir?: string; logLevel?: string; role?: string; redisUrl?: string; tlsCert?: string; tlsKey?: string };
}

/** An access key of the config with its secret read (from the file, the environment or inline). */
export interface ConfiguredKey {
  accessKeyId: string;
  secretAccessKey: string;
  policy?: PolicyDocument;
  description?: string;
}

export interface ResolvedConfig extends Omit<Config, 'auth'> {
  auth: Omit<Config['auth'], 'keys'> & { keys: readonly ConfiguredKey[] };
  /** Absolute. */
  dataDir: string;
  /** Relative model commands and paths in the file are resolved from here (the file's folder). */
  baseDir: string;
  /** True when no file was given and the demo endpoint is served. */
  demo: boolean;
}

const ENV = {
  ASYNCINFER_ROLE: 'role', ASYNCINFER_HOST: 'host', ASYNCINFER_PORT: 'port', ASYNCINFER_S3_PORT: 's3Port', ASYNCINFER_DATA_DIR: 'dataDir', ASYNCINFER_LOG_LEVEL: 'logLevel',
  ASYNCINFER_REDIS_URL: 'redisUrl', ASYNCINFER_TLS_CERT: 'tlsCert', ASYNCINFER_TLS_KEY: 'tlsKey',
} as const;
const NUMERIC = new Set<string>(['port', 's3Port']);

export function loadConfig(sources: ConfigSources = {}): ResolvedConfig {
  const env = sources.env ?? {};
  const file = sources.file ?? env.ASYNCINFER_CONFIG;
  const fromFile = file === undefined ? demoConfig() : readConfigFile(file);
  const fromEnv: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV)) {
    const value = env[name];
    if (value !== undefined && value !== '') fromEnv[key] = NUMERIC.has(key) ? Number(value) : value;
  }
  const flags = Object.fromEntries(Object.entries(sources.flags ?? {}).filter(([, v]) => v !== undefined));
  const { s3Port, redisUrl, tlsCert, tlsKey, ...merged } = { ...(fromFile as Record<string, unknown>), ...fromEnv, ...flags };
  // --s3-port, --tls-cert/--tls-key and ASYNCINFER_REDIS_URL set nested keys.
  if (s3Port !== undefined) merged.s3Api = { ...(merged.s3Api as object | undefined), port: s3Port };
  if (redisUrl !== undefined) merged.queue = { ...(merged.queue as object | undefined), type: 'redis', url: redisUrl };
  if (tlsCert !== undefined || tlsKey !== undefined) merged.tls = { ...(merged.tls as object | undefined), ...(tlsCert !== undefined && { cert: tlsCert }), ...(tlsKey !== undefined && { key: tlsKey }) };
  // A root key from the environment (like MINIO_ROOT_USER): handy in containers, never in a file.
  if (env.ASYNCINFER_ACCESS_KEY_ID || env.ASYNCINFER_SECRET_ACCESS_KEY) {
    const auth = (merged.auth ?? {}) as { keys?: unknown[] };
    merged.auth = { ...auth, keys: [...(auth.keys ?? []), { accessKeyId: env.ASYNCINFER_ACCESS_KEY_ID ?? '', secretAccessKeyEnv: 'ASYNCINFER_SECRET_ACCESS_KEY', description: 'from ASYNCINFER_ACCESS_KEY_ID' }] };
  }

  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) {
    throw new AppError('ConfigInvalid', formatIssues(file ?? 'the built-in demo config', parsed.error.issues));
  }
  const baseDir = file === undefined ? process.cwd() : path.dirname(path.resolve(file));
  const keys = resolveSecrets(parsed.data.auth.keys, env, baseDir);
  return deepFreeze({
    ...parsed.data,
    auth: { ...parsed.data.auth, keys },
    dataDir: path.resolve(parsed.data.dataDir),
    baseDir,
    demo: file === undefined,
  });
}

/** Reads each key's secret from where the config says it is; every problem is reported at once. */
function resolveSecrets(keys: Config['auth']['keys'], env: Record<string, string | undefined>, baseDir: string): ConfiguredKey[] {
  const problems: string[] = [];
  const resolved = keys.map((key, i): ConfiguredKey => {
    let secret = key.secretAccessKey;
    if (key.secretAccessKeyEnv !== undefined) {
      secret = env[key.secretAccessKeyEnv];
      if (secret === undefined || secret === '') problems.push(`auth.keys[${i}].secretAccessKeyEnv: the environment variable ${key.secretAccessKeyEnv} is not set`);
    }
    if (key.secretAccessKeyFile !== undefined) {
      const file = path.resolve(baseDir, key.secretAccessKeyFile);
      try {
        secret = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        problems.push(`auth.keys[${i}].secretAccessKeyFile: cannot read ${file}: ${(err as Error).message}`);
      }
    }
    secret ??= '';
    if (problems.length === 0 && (secret.length < SECRET_RULE.min || secret.length > SECRET_RULE.max)) {
      problems.push(`auth.keys[${i}] (${key.accessKeyId}): ${SECRET_RULE.message}; this one has ${secret.length}`);
    }
    return { accessKeyId: key.accessKeyId, secretAccessKey: secret, ...(key.policy && { policy: key.policy }), ...(key.description !== undefined && { description: key.description }) };
  });
  if (problems.length > 0) {
    throw new AppError('ConfigInvalid', `Invalid access keys (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
  return resolved;
}

function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AppError('ConfigInvalid', `Cannot read the config file ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    // YAML 1.2 is a superset of JSON, so one parser reads both.
    const value: unknown = parseYaml(text);
    return value ?? {};
  } catch (err) {
    throw new AppError('ConfigInvalid', `The config file ${file} is neither valid JSON nor valid YAML: ${(err as Error).message}`, { cause: err });
  }
}

function formatIssues(source: string, issues: z.core.$ZodIssue[]): string {
  const lines = issues.map((issue) => `  - ${formatPath(issue.path)}: ${issue.message}`);
  return `Invalid configuration in ${source} (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

function formatPath(segments: PropertyKey[]): string {
  if (segments.length === 0) return '(top level)';
  return segments.map((s, i) => (typeof s === 'number' ? `[${s}]` : `${i === 0 ? '' : '.'}${String(s)}`)).join('');
}

/** The endpoint served when no config file is given, so `npx asyncinfer serve` works with no setup. */
export function demoConfig(): ConfigInput {
  const model = fileURLToPath(new URL('../../examples/models/sentiment/server.js', import.meta.url));
  return {
    endpoints: [{
      name: 'demo',
      model: { command: [process.execPath, model] },
      instances: { initial: 1 },
      asyncInferenceConfig: {
        OutputConfig: { S3OutputPath: 's3://asyncinfer-demo/output', S3FailurePath: 's3://asyncinfer-demo/failures' },
        ClientConfig: { MaxConcurrentInvocationsPerInstance: 4 },
      },
    }],
  };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * How asyncinfer talks to Redis: one set of connection options for every Redis adapter (queue,
 * outbox, catalog), Lua scripts run by SHA, and the translation of "Redis is not there" into
 * `AppError('ServiceUnavailable')`.
 *
 * Fail fast, recover in the background: commands are never parked in ioredis's offline queue
 * (`enableOfflineQueue: false`), so while Redis is unreachable every call rejects at once instead
 * of holding an HTTP request open; a command already sent when the connection drops is retried on
 * at most one reconnect. Meanwhile ioredis keeps reconnecting (the retry strategy never gives up),
 * so the same client object works again as soon as Redis is back.
 *
 * ioredis is imported lazily, on the first connect: the embedded default never loads it.
 * The URL's password never appears in a message or a log line (`redactRedisUrl`).
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Redis, RedisOptions } from 'ioredis';
import { AppError } from '../../errors.js';

export type { Redis } from 'ioredis';
export type RedisArg = string | Buffer | number;

/** A Lua script, run with EVALSHA and loaded with EVAL when the server does not know it yet. */
export interface LuaScript {
  name: string;
  lua: string;
  sha: string;
}

export function luaScript(name: string, lua: string): LuaScript {
  return { name, lua, sha: createHash('sha1').update(lua).digest('hex') };
}

const CONNECTION_OPTIONS: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2000,
  // A hung server (not a closed one) must not hold requests for longer than this.
  commandTimeout: 5000,
  // Never gives up: back off to one attempt every 2 s.
  retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
  autoResubscribe: true,
};

export interface RedisConnectOptions {
  url: string;
  /**
   * A Redis Cluster: `url` names one node; the client learns the others and routes each call to
   * the node that owns its slot (all of a deployment's keys share one hash tag, so one slot).
   */
  cluster?: boolean | undefined;
  /** For log lines: 'queue', 'queue-subscriber', 'catalog'. */
  role: string;
  logger?: Logger | undefined;
}

/** Connects and waits until the server is ready; rejects (without leaving a reconnect loop behind) when it is not reachable. */
export async function connectRedis(options: RedisConnectOptions): Promise<Redis> {
  const ioredis = await import('ioredis');
  const connectionName = `asyncinfer-${options.role}`;
  const client = options.cluster
    ? clusterClient(ioredis.Cluster, options.url, connectionName)
    : new ioredis.Redis(options.url, { ...CONNECTION_OPTIONS, connectionName });
  watchConnection(client, options);
  // connect() rejects with a bare "Connection is closed"; the 'error' event before it says why.
  let cause: unknown;
  const remember = (err: unknown) => { cause ??= err; };
  client.on('error', remember);
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw cause ?? err;
  } finally {
    client.off('error', remember);
  }
  return client;
}

/**
 * A Cluster client with the same fail-fast, reconnect-forever behaviour. It has the commands the
 * adapters use under the same names, so they see it as a Redis.
 */
function clusterClient(Cluster: typeof import('ioredis').Cluster, url: string, connectionName: string): Redis {
  const u = new URL(url);
  const { lazyConnect, enableOfflineQueue, retryStrategy, ...nodeOptions } = CONNECTION_OPTIONS;
  return new Cluster([{ host: u.hostname, port: Number(u.port || 6379) }], {
    lazyConnect, enableOfflineQueue, clusterRetryStrategy: retryStrategy,
    redisOptions: {
      ...nodeOptions, connectionName,
      ...(u.username && { username: decodeURIComponent(u.username) }),
      ...(u.password && { password: decodeURIComponent(u.password) }),
      ...(u.protocol === 'rediss:' && { tls: {} }),
    },
  }) as unknown as Redis;
}

/** Logs losing and regaining the connection once each (not every retry), and keeps ioredis from printing errors itself. */
function watchConnection(client: Redis, options: RedisConnectOptions): void {
  const where = redactRedisUrl(options.url);
  let lost = false;
  client.on('error', (err: Error) => {
    if (lost) return;
    lost = true;
    options.logger?.warn({ redis: where, role: options.role, err: err.message }, 'Redis connection lost; reconnecting in the background');
  });
  client.on('ready', () => {
    if (!lost) return;
    lost = false;
    options.logger?.info({ redis: where, role: options.role }, 'Redis connection restored');
  });
  client.on('close', () => { lost = true; });
}

/** Closes gracefully (pending replies first), or at once when the connection is down. */
export async function closeRedis(client: Redis | undefined): Promise<void> {
  if (!client) return;
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // fall through: the connection went away under us
    }
  }
  client.disconnect();
}

/** Runs a script by SHA; on NOSCRIPT (new server, restart, SCRIPT FLUSH) sends its text, which also caches it. */
export async function runScript(client: Redis, script: LuaScript, keys: readonly string[], args: readonly RedisArg[]): Promise<unknown> {
  try {
    return await client.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!isNoScript(err)) throw err;
    return client.eval(script.lua, keys.length, ...keys, ...args);
  }
}

/** Like `runScript`, with bulk strings as Buffers (binary-safe bodies). */
export async function runScriptBuffer(client: Redis, script: LuaScript, keys: readonly string[], args: readonly RedisArg[]): Promise<unknown> {
  try {
    return await client.callBuffer('EVALSHA', [script.sha, keys.length, ...keys, ...args]);
  } catch (err) {
    if (!isNoScript(err)) throw err;
    return client.callBuffer('EVAL', [script.lua, keys.length, ...keys, ...args]);
  }
}

/** Loads scripts at start, so a syntax error shows at once and the first calls need no retry. */
export async function loadScripts(client: Redis, scripts: readonly LuaScript[]): Promise<void> {
  await Promise.all(scripts.map(async (s) => {
    const sha = await client.script('LOAD', s.lua) as string;
    if (sha !== s.sha) throw new Error(`Redis returned SHA ${sha} for script ${s.name}, expected ${s.sha}`);
  }));
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

/** Error replies that mean "cannot serve now" rather than "the request is wrong". */
const UNAVAILABLE_REPLIES = /^(OOM|BUSY|LOADING|MASTERDOWN|READONLY|TRYAGAIN|CLUSTERDOWN|NOREPLICAS|MISCONF)\b/;

/**
 * Connection failures, timeouts and "cannot serve now" replies become `ServiceUnavailable` (the
 * caller may retry); any other error reply is a bug and is rethrown untouched.
 */
export function toUnavailable(err: unknown, what: string): unknown {
  if (err instanceof AppError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const isReply = err instanceof Error && err.name === 'ReplyError';
  if (isReply && !UNAVAILABLE_REPLIES.test(message)) return err;
  return new AppError('ServiceUnavailable', `${what} (${message}). Retry later.`, { cause: err });
}

/** The URL without its password, for messages and logs. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

/** A prefix becomes a hash tag, so it must not contain braces itself. */
export function checkPrefix(prefix: string): string {
  if (prefix === '' || /[{}\s]/.test(prefix)) {
    throw new AppError('ConfigInvalid', `The Redis key prefix "${prefix}" must be non-empty, without braces or spaces`);
  }
  return prefix;
}

/**
 * The distributed Catalog on Redis: each resource a hash, each kind an index sorted by creation
 * (keys and scripts in catalog-scripts.ts). Writes resolve when Redis acknowledged them (durable
 * with AOF `appendfsync always`); `create` checks and writes in one script, so of two clients
 * creating one name exactly one wins.
 *
 * Keys carry the deployment's hash tag (`{prefix}`, default `asyncinfer`, the queue's), so the
 * catalog lives in the queue's Redis Cluster slot. Connection handling — fail fast with
 * `ServiceUnavailable`, reconnect in the background, no password in messages — is the queue's
 * (redis-connection.ts).
 */
import type { Logger } from 'pino';
import {
  checkPrefix, closeRedis, connectRedis, loadScripts, redactRedisUrl, runScript, toUnavailable,
  type LuaScript, type Redis, type RedisArg,
} from '../../queue/index.js';
import type { Catalog, Resource } from '../catalog.js';
import { CATALOG_SCRIPTS, CREATE, DELETE, LIST, UPDATE } from './catalog-scripts.js';

export interface RedisCatalogOptions {
  url: string;
  /** `url` is one node of a Redis Cluster (see connectRedis). */
  cluster?: boolean;
  /** Key prefix and hash tag of this deployment; default `asyncinfer`. */
  prefix?: string;
  now?: () => number;
  logger?: Logger;
}

export function createRedisCatalog(options: RedisCatalogOptions): Catalog {
  const now = options.now ?? Date.now;
  const prefix = checkPrefix(options.prefix ?? 'asyncinfer');
  const base = `{${prefix}}:`;
  const where = `Redis at ${redactRedisUrl(options.url)}`;
  let client: Redis | undefined;

  const unavailable = (err: unknown) => toUnavailable(err, `The catalog store (${where}) is unreachable`);
  const open = (): Redis => {
    if (!client) throw new Error('The catalog is not started');
    return client;
  };
  const run = async (script: LuaScript, args: readonly RedisArg[]): Promise<unknown> => {
    try {
      return await runScript(open(), script, [base], args);
    } catch (err) {
      throw unavailable(err);
    }
  };
  const toResource = (name: string, createdAtMs: string, updatedAtMs: string, doc: string): Resource => ({
    name, createdAtMs: Number(createdAtMs), updatedAtMs: Number(updatedAtMs), doc: JSON.parse(doc) as Record<string, unknown>,
  });

  return {
    async start() {
      try {
        client = await connectRedis({ url: options.url, cluster: options.cluster, role: 'catalog', logger: options.logger });
        await loadScripts(client, CATALOG_SCRIPTS);
      } catch (err) {
        await closeRedis(client);
        client = undefined;
        throw unavailable(err);
      }
    },
    async stop() {
      const c = client;
      client = undefined;
      await closeRedis(c);
    },
    async create(kind, name, doc) {
      const t = now();
      const created = await run(CREATE, [kind, name, String(t), JSON.stringify(doc)]) === 1;
      return created ? { name, createdAtMs: t, updatedAtMs: t, doc: doc as Record<string, unknown> } : undefined;
    },
    async get(kind, name) {
      let v: (string | null)[];
      try {
        v = await open().hmget(`${base}catalog:${kind}:${name}`, 'createdAtMs', 'updatedAtMs', 'doc');
      } catch (err) {
        throw unavailable(err);
      }
      const [createdAtMs, updatedAtMs, doc] = v;
      return createdAtMs && updatedAtMs && doc ? toResource(name, createdAtMs, updatedAtMs, doc) : undefined;
    },
    async update(kind, name, doc) {
      return await run(UPDATE, [kind, name, String(now()), JSON.stringify(doc)]) === 1;
    },
    async delete(kind, name) {
      return await run(DELETE, [kind, name]) === 1;
    },
    async list(kind) {
      const flat = await run(LIST, [kind]) as string[];
      const resources: Resource[] = [];
      for (let i = 0; i + 3 < flat.length; i += 4) resources.push(toResource(flat[i]!, flat[i + 1]!, flat[i + 2]!, flat[i + 3]!));
      return resources;
    },
  };
}

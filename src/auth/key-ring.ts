/**
 * The keys this process accepts: those of the config (and ASYNCINFER_ACCESS_KEY_ID), plus those in
 * the catalog, re-read every `refreshIntervalMs` so that `asyncinfer keys create|disable|delete`
 * takes effect without a restart. A config key wins over a catalog key with the same id.
 *
 * `find` is on the hot path: it is a Map lookup, with every policy compiled once per refresh.
 * A catalog that cannot be read keeps the keys last read (and logs once); it never empties the ring.
 */
import type { Logger } from 'pino';
import type { Resource } from '../catalog/index.js';
import type { StoredKey } from './access-keys.js';
import { compilePolicy, type CompiledPolicy, type PolicyDocument } from './policy.js';

export interface AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
  active: boolean;
  /** Undefined: the key may do everything. */
  policy?: CompiledPolicy;
}

export interface KeyRing {
  start(): Promise<void>;
  stop(): Promise<void>;
  find(accessKeyId: string): AccessKey | undefined;
  /** How many keys there are (active or not). */
  size(): number;
  /** Reads the catalog again now. */
  refresh(): Promise<void>;
}

export interface KeyRingOptions {
  configured: readonly { accessKeyId: string; secretAccessKey: string; policy?: PolicyDocument }[];
  /** Keys made with `asyncinfer keys`; absent: the config's only. */
  catalog?: { list(kind: 'access-key'): Promise<Resource[]> };
  refreshIntervalMs?: number;
  logger: Logger;
}

export function createKeyRing(options: KeyRingOptions): KeyRing {
  const { logger } = options;
  const fromConfig = new Map(options.configured.map((k) => [k.accessKeyId, {
    accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey, active: true, ...(k.policy && { policy: compilePolicy(k.policy) }),
  } satisfies AccessKey]));
  let fromCatalog = new Map<string, AccessKey>();
  /** Catalog documents already compiled, by id, so an unchanged key is not compiled again each refresh. */
  let seen = new Map<string, { updatedAtMs: number; key: AccessKey }>();
  let timer: NodeJS.Timeout | undefined;
  let refreshing: Promise<void> = Promise.resolve();
  let failing = false;

  async function read(): Promise<void> {
    if (!options.catalog) return;
    let resources: Resource[];
    try {
      resources = await options.catalog.list('access-key');
    } catch (err) {
      if (!failing) logger.warn({ err }, 'could not read the access keys from the catalog; keeping the ones read before');
      failing = true;
      return;
    }
    failing = false;
    const next = new Map<string, AccessKey>();
    const nextSeen = new Map<string, { updatedAtMs: number; key: AccessKey }>();
    for (const r of resources) {
      const known = seen.get(r.name);
      let key = known?.updatedAtMs === r.updatedAtMs ? known.key : undefined;
      if (!key) {
        const doc = r.doc as unknown as StoredKey;
        try {
          key = { accessKeyId: r.name, secretAccessKey: doc.SecretAccessKey, active: doc.Status === 'Active', ...(doc.Policy && { policy: compilePolicy(doc.Policy) }) };
        } catch (err) {
          // Refused when it was made; a document edited by hand must not open anything.
          logger.error({ err, accessKeyId: r.name }, 'access key in the catalog has a policy that cannot be read; the key is refused');
          continue;
        }
      }
      next.set(r.name, key);
      nextSeen.set(r.name, { updatedAtMs: r.updatedAtMs, key });
    }
    fromCatalog = next;
    seen = nextSeen;
  }

  return {
    async start() {
      await read();
      if (options.catalog) {
        timer = setInterval(() => { refreshing = refreshing.then(read); }, options.refreshIntervalMs ?? 1000);
        timer.unref();
      }
    },
    async stop() {
      clearInterval(timer);
      await refreshing;
    },
    find: (id) => fromConfig.get(id) ?? fromCatalog.get(id),
    size: () => fromConfig.size + [...fromCatalog.keys()].filter((id) => !fromConfig.has(id)).length,
    refresh() {
      refreshing = refreshing.then(read);
      return refreshing;
    },
  };
}

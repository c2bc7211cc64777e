/**
 * Access control as the server starts it: the key ring (config keys + catalog keys, re-read every
 * second), a root key made on the first start when there is none, and the authenticator every
 * surface uses. Also says, at every start, what an operator must not miss (auth off, no TLS).
 */
import { chmod } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Catalog } from '../catalog/index.js';
import type { ConfiguredKey } from '../config/index.js';
import { createAuthenticator, type Authenticator } from './authenticator.js';
import { createKeyRing, type KeyRing } from './key-ring.js';
import { ensureRootKey, type MadeRootKey } from './root-key.js';

export interface AccessControl {
  keyRing: KeyRing;
  authenticator: Authenticator;
  /** The root key this start made (no key anywhere before it). */
  madeRootKey?: MadeRootKey;
}

export async function startAccessControl(p: {
  auth: { mode: 'sigv4' | 'off'; keys: readonly ConfiguredKey[] };
  region: string; dataDir: string; catalog: Catalog; logger: Logger; refreshIntervalMs?: number;
}): Promise<AccessControl> {
  const { logger } = p;
  // Keys (catalog.db, credentials), the queue and outputs live here: owner-only.
  await chmod(p.dataDir, 0o700).catch((err: unknown) => logger.warn({ err, dataDir: p.dataDir }, 'could not make the data dir owner-only'));
  let madeRootKey: MadeRootKey | undefined;
  if (p.auth.mode === 'off') {
    logger.warn('auth.mode is "off": every request is served unauthenticated. Use this only for throw-away local work; remove it to require signed requests.');
  } else {
    madeRootKey = await ensureRootKey({ catalog: p.catalog, dataDir: p.dataDir, configuredKeys: p.auth.keys.length, logger });
  }
  const keyRing = createKeyRing({ configured: p.auth.keys, catalog: p.catalog, logger, ...(p.refreshIntervalMs !== undefined && { refreshIntervalMs: p.refreshIntervalMs }) });
  await keyRing.start();
  return { keyRing, authenticator: createAuthenticator({ mode: p.auth.mode, keys: keyRing, region: p.region }), ...(madeRootKey && { madeRootKey }) };
}

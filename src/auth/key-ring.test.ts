import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createSqliteCatalog, type Catalog } from '../catalog/index.js';
import type { StoredKey } from './access-keys.js';
import { createKeyRing } from './key-ring.js';
import { evaluatePolicy, type PolicyDocument } from './policy.js';

const logger = pino({ level: 'silent' });
const stored = (secret: string, extra: Partial<StoredKey> = {}): StoredKey => ({ SecretAccessKey: secret, Status: 'Active', CreateDate: new Date().toISOString(), ...extra });
const INVOKE_ONLY: PolicyDocument = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sagemaker:InvokeEndpointAsync', Resource: '*' }] };

let catalog: Catalog;
afterEach(async () => catalog?.stop());

async function sqliteCatalog(): Promise<Catalog> {
  catalog = createSqliteCatalog({ dir: mkdtempSync(path.join(tmpdir(), 'asyncinfer-keyring-')) });
  await catalog.start();
  return catalog;
}

describe('createKeyRing', () => {
  it('finds config keys and catalog keys, with their policies; a config key wins over a catalog key with its id', async () => {
    const c = await sqliteCatalog();
    await c.create('access-key', 'CATALOGKEY', stored('catalog-secret-0123456789', { Policy: INVOKE_ONLY }));
    await c.create('access-key', 'SHARED', stored('catalog-version-0123456789'));
    const ring = createKeyRing({ configured: [{ accessKeyId: 'CONFIGKEY', secretAccessKey: 'config-secret-0123456789' }, { accessKeyId: 'SHARED', secretAccessKey: 'config-version-0123456789' }], catalog: c, logger });
    await ring.start();
    try {
      expect(ring.find('CONFIGKEY')).toMatchObject({ secretAccessKey: 'config-secret-0123456789', active: true });
      expect(ring.find('CONFIGKEY')?.policy).toBeUndefined();
      const fromCatalog = ring.find('CATALOGKEY')!;
      expect(evaluatePolicy(fromCatalog.policy, 'sagemaker:InvokeEndpointAsync', 'arn:aws:sagemaker:us-east-1:1:endpoint/x')).toBe('allow');
      expect(evaluatePolicy(fromCatalog.policy, 'sagemaker:CreateModel', '*')).toBe('implicit-deny');
      expect(ring.find('SHARED')?.secretAccessKey).toBe('config-version-0123456789');
      expect(ring.find('NOSUCHKEY')).toBeUndefined();
      expect(ring.size()).toBe(3);
    } finally {
      await ring.stop();
    }
  });

  it('follows the catalog: a new key, a disabled key and a deleted key show on the next refresh', async () => {
    const c = await sqliteCatalog();
    const ring = createKeyRing({ configured: [], catalog: c, logger, refreshIntervalMs: 60_000 });
    await ring.start();
    try {
      expect(ring.find('LATER')).toBeUndefined();
      await c.create('access-key', 'LATER', stored('later-secret-0123456789'));
      await ring.refresh();
      expect(ring.find('LATER')?.active).toBe(true);
      await c.update('access-key', 'LATER', stored('later-secret-0123456789', { Status: 'Inactive' }));
      await ring.refresh();
      expect(ring.find('LATER')?.active).toBe(false);
      await c.delete('access-key', 'LATER');
      await ring.refresh();
      expect(ring.find('LATER')).toBeUndefined();
    } finally {
      await ring.stop();
    }
  });

  it('keeps the keys it has when the catalog cannot be read, and refuses a stored key whose policy cannot be read', async () => {
    const c = await sqliteCatalog();
    await c.create('access-key', 'GOOD', stored('good-secret-0123456789'));
    await c.create('access-key', 'EDITED', stored('edited-secret-0123456789', { Policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ec2:*', Resource: '*' }] } as never }));
    let broken = false;
    const flaky = { list: async (kind: 'access-key') => { if (broken) throw new Error('catalog down'); return c.list(kind); } };
    const ring = createKeyRing({ configured: [], catalog: flaky, logger, refreshIntervalMs: 60_000 });
    await ring.start();
    try {
      expect(ring.find('GOOD')).toBeDefined();
      expect(ring.find('EDITED')).toBeUndefined();
      broken = true;
      await ring.refresh();
      expect(ring.find('GOOD')).toBeDefined();
    } finally {
      await ring.stop();
    }
  });
});

import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { isAppError } from '../../errors.js';
import { objectStoreConformance } from '../conformance.js';
import { createFsObjectStore } from './fs-object-store.js';

objectStoreConformance('fs', async () => ({
  store: createFsObjectStore({ root: mkdtempSync(path.join(tmpdir(), 'asyncinfer-fs-')) }),
  bucket: 'test-bucket',
}));

it('maps s3://B/K to <root>/B/K and leaves no temp files', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'asyncinfer-fs-'));
  const store = createFsObjectStore({ root });
  await store.put({ bucket: 'b-1', key: 'x/y.out' }, Buffer.from('hi'));
  expect(readdirSync(path.join(root, 'b-1', 'x'))).toEqual(['y.out']);
  expect(readdirSync(path.join(root, '.tmp'))).toEqual([]);
});

it.each(['..', 'UPPER', 'a', '.tmp', 'b/c'])('refuses the bucket %j', async (bucket) => {
  const store = createFsObjectStore({ root: mkdtempSync(path.join(tmpdir(), 'asyncinfer-fs-')) });
  const err = await store.get({ bucket, key: 'k' }).catch((e: unknown) => e);
  expect(isAppError(err, 'ObjectKeyInvalid')).toBe(true);
});

it.each(['../escape', 'a/../../b', '/abs', 'a//b', 'a/./b', 'trailing/'])('refuses the key %j, which would leave the bucket folder or collide', async (key) => {
  const store = createFsObjectStore({ root: mkdtempSync(path.join(tmpdir(), 'asyncinfer-fs-')) });
  const err = await store.put({ bucket: 'b-1', key }, Buffer.from('x')).catch((e: unknown) => e);
  expect(isAppError(err, 'ObjectKeyInvalid')).toBe(true);
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { createDurableFiles } from './durable-files.js';

it('writes again once its temp folder can be made, after a first write that could not make it (a full disk)', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'asyncinfer-durable-'));
  // A file where the temp folder's parent should be: mkdir fails, as it does on a full disk.
  writeFileSync(path.join(root, 'store'), 'in the way');
  const files = createDurableFiles(path.join(root, 'store', '.tmp'));
  await expect(files.writeTempSmall('first')).rejects.toThrow();
  rmSync(path.join(root, 'store'));
  const temp = await files.writeTempSmall('second');
  expect(await readFile(temp, 'utf8')).toBe('second');
});

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { catalogConformance } from '../conformance.js';
import { createSqliteCatalog } from './sqlite-catalog.js';

catalogConformance('sqlite', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'asyncinfer-catalog-'));
  return {
    async open() {
      const c = createSqliteCatalog({ dir });
      await c.start();
      return c;
    },
  };
});

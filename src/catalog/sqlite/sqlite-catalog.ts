/** The embedded Catalog: one SQLite table in `<data-dir>/catalog.db`; writes are rare, so every one is fsync'd. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Catalog, Resource, ResourceKind } from '../catalog.js';

interface Row { name: string; created_at: number; updated_at: number; doc: string }

export function createSqliteCatalog(options: { dir: string; now?: () => number }): Catalog {
  const now = options.now ?? Date.now;
  let db: Database.Database | undefined;
  const open = () => {
    if (!db) throw new Error('The catalog is not started');
    return db;
  };
  const toResource = (row: Row): Resource => ({
    name: row.name, createdAtMs: row.created_at, updatedAtMs: row.updated_at, doc: JSON.parse(row.doc) as Record<string, unknown>,
  });

  return {
    async start() {
      mkdirSync(options.dir, { recursive: true });
      db = new Database(path.join(options.dir, 'catalog.db'));
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.exec(`CREATE TABLE IF NOT EXISTS resources (
        kind TEXT NOT NULL, name TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (kind, name))`);
    },
    async stop() {
      db?.close();
      db = undefined;
    },
    async create(kind, name, doc) {
      const t = now();
      const info = open().prepare('INSERT OR IGNORE INTO resources (kind, name, created_at, updated_at, doc) VALUES (?, ?, ?, ?, ?)')
        .run(kind, name, t, t, JSON.stringify(doc));
      return info.changes === 1 ? { name, createdAtMs: t, updatedAtMs: t, doc: doc as Record<string, unknown> } : undefined;
    },
    async get(kind, name) {
      const row = open().prepare('SELECT name, created_at, updated_at, doc FROM resources WHERE kind = ? AND name = ?').get(kind, name) as Row | undefined;
      return row ? toResource(row) : undefined;
    },
    async update(kind, name, doc) {
      return open().prepare('UPDATE resources SET doc = ?, updated_at = ? WHERE kind = ? AND name = ?')
        .run(JSON.stringify(doc), now(), kind, name).changes === 1;
    },
    async delete(kind, name) {
      return open().prepare('DELETE FROM resources WHERE kind = ? AND name = ?').run(kind, name).changes === 1;
    },
    async list(kind: ResourceKind) {
      return (open().prepare('SELECT name, created_at, updated_at, doc FROM resources WHERE kind = ? ORDER BY created_at, name').all(kind) as Row[]).map(toResource);
    },
  };
}

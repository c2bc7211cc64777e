/** The Catalog contract as tests, for every adapter. `open` reopens the same store. */
import { describe, expect, it } from 'vitest';
import type { Catalog } from './catalog.js';

export function catalogConformance(name: string, makeHarness: () => Promise<{ open(): Promise<Catalog> }>): void {
  describe(`Catalog conformance: ${name}`, () => {
    it('creates once, reads, updates, lists and deletes by kind', async () => {
      const c = await (await makeHarness()).open();
      expect(await c.create('model', 'm1', { ModelName: 'm1', x: 1 })).toMatchObject({ name: 'm1', doc: { x: 1 } });
      expect(await c.create('model', 'm1', { x: 2 })).toBeUndefined();
      expect(await c.create('endpoint', 'm1', { y: 1 })).toBeDefined();
      expect((await c.get('model', 'm1'))?.doc).toEqual({ ModelName: 'm1', x: 1 });
      expect(await c.update('model', 'm1', { ModelName: 'm1', x: 3 })).toBe(true);
      expect(await c.update('model', 'nope', {})).toBe(false);
      expect((await c.get('model', 'm1'))?.doc.x).toBe(3);
      await c.create('model', 'm2', {});
      expect((await c.list('model')).map((r) => r.name)).toEqual(['m1', 'm2']);
      expect(await c.delete('model', 'm1')).toBe(true);
      expect(await c.delete('model', 'm1')).toBe(false);
      expect(await c.get('model', 'm1')).toBeUndefined();
      expect((await c.list('endpoint')).map((r) => r.name)).toEqual(['m1']);
      await c.stop();
    });

    it('keeps everything across a restart', async () => {
      const h = await makeHarness();
      const c1 = await h.open();
      await c1.create('endpoint-config', 'cfg', { ProductionVariants: [{ VariantName: 'v' }] });
      await c1.stop();
      const c2 = await h.open();
      expect((await c2.get('endpoint-config', 'cfg'))?.doc).toEqual({ ProductionVariants: [{ VariantName: 'v' }] });
      await c2.stop();
    });
  });
}

/**
 * The ObjectStore contract as tests; every adapter runs this suite against a real backend.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { isAppError } from '../errors.js';
import type { ObjectStore } from './object-store.js';

export function objectStoreConformance(name: string, makeStore: () => Promise<{ store: ObjectStore; bucket: string }>): void {
  describe(`ObjectStore conformance: ${name}`, () => {
    it('reads back what it wrote, bytes and length', async () => {
      const { store, bucket } = await makeStore();
      const bytes = Buffer.from([0, 1, 2, 255, 254]);
      await store.put({ bucket, key: 'a/b/c.bin' }, bytes);
      const got = await store.get({ bucket, key: 'a/b/c.bin' });
      expect(got.contentLength).toBe(5);
      const chunks: Buffer[] = [];
      for await (const c of got.body) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks)).toEqual(bytes);
    });

    it('writes from a stream and overwrites', async () => {
      const { store, bucket } = await makeStore();
      await store.put({ bucket, key: 'k' }, Buffer.from('old'));
      await store.put({ bucket, key: 'k' }, Readable.from([Buffer.from('ne'), Buffer.from('w')]));
      expect(await text((await store.get({ bucket, key: 'k' })).body)).toBe('new');
    });

    it('writes an empty object', async () => {
      const { store, bucket } = await makeStore();
      await store.put({ bucket, key: 'empty' }, new Uint8Array(0));
      expect((await store.get({ bucket, key: 'empty' })).contentLength).toBe(0);
    });

    it('keeps the Content-Type given to put, and has none when none was given', async () => {
      const { store, bucket } = await makeStore();
      await store.put({ bucket, key: 'typed.json' }, Buffer.from('{}'), { contentType: 'application/json; charset=utf-8' });
      const typed = await store.get({ bucket, key: 'typed.json' });
      expect(typed.contentType).toBe('application/json; charset=utf-8');
      typed.body.resume();
      await store.put({ bucket, key: 'typed.json' }, Buffer.from('x'));
      const untyped = await store.get({ bucket, key: 'typed.json' });
      untyped.body.resume();
      expect(untyped.contentType === undefined || untyped.contentType === 'application/octet-stream').toBe(true);
    });

    it.each([
      ['unknown', undefined],
      ['known', 20 * 1024 * 1024 + 7],
    ])('streams a large object of %s length through put and get intact', async (_, knownLength) => {
      const { store, bucket } = await makeStore();
      const total = knownLength ?? 40 * 1024 * 1024;
      const hashIn = createHash('sha256');
      let sent = 0;
      const source = new Readable({
        read() {
          if (sent === total) return void this.push(null);
          const chunk = Buffer.alloc(Math.min(1024 * 1024, total - sent), sent % 251);
          hashIn.update(chunk);
          sent += chunk.length;
          this.push(chunk);
        },
      });
      await store.put({ bucket, key: 'big/blob.bin' }, source, { contentType: 'application/octet-stream', ...(knownLength !== undefined && { contentLength: knownLength }) });
      const got = await store.get({ bucket, key: 'big/blob.bin' });
      expect(got.contentLength).toBe(total);
      const hashOut = createHash('sha256');
      for await (const c of got.body) hashOut.update(c as Buffer);
      expect(hashOut.digest('hex')).toBe(hashIn.digest('hex'));
    });

    it('reports a missing object as ObjectNotFound', async () => {
      const { store, bucket } = await makeStore();
      const err = await store.get({ bucket, key: 'nope/x' }).catch((e: unknown) => e);
      expect(isAppError(err, 'ObjectNotFound')).toBe(true);
    });

    it('reports an object in a missing bucket as ObjectNotFound', async () => {
      const { store } = await makeStore();
      const err = await store.get({ bucket: 'no-such-bucket-here', key: 'x' }).catch((e: unknown) => e);
      expect(isAppError(err, 'ObjectNotFound')).toBe(true);
    });

    it('leaves no object behind when the source stream fails', async () => {
      const { store, bucket } = await makeStore();
      const failing = new Readable({ read() { this.destroy(new Error('boom')); } });
      await expect(store.put({ bucket, key: 'partial' }, failing)).rejects.toThrow('boom');
      const err = await store.get({ bucket, key: 'partial' }).catch((e: unknown) => e);
      expect(isAppError(err, 'ObjectNotFound')).toBe(true);
    });

    it('refuses an empty key', async () => {
      const { store, bucket } = await makeStore();
      const err = await store.put({ bucket, key: '' }, Buffer.from('x')).catch((e: unknown) => e);
      expect(isAppError(err, 'ObjectKeyInvalid')).toBe(true);
    });
  });
}

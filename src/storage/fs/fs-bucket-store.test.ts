import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { isAppError } from '../../errors.js';
import type { BucketStore } from '../bucket-store.js';
import { createFsObjectStore } from './fs-object-store.js';
import { MIN_PART_BYTES } from './fs-multipart.js';

function makeStore(): { store: BucketStore; root: string } {
  const root = mkdtempSync(path.join(tmpdir(), 'asyncinfer-fs-'));
  return { store: createFsObjectStore({ root }), root };
}

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
const errorOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

describe('fs BucketStore: objects', () => {
  it('keeps Content-Type, user metadata and headers, and the ETag is the MD5 of the content', async () => {
    const { store } = makeStore();
    const uri = { bucket: 'b-1', key: 'dir/x.json' };
    const { etag } = await store.putObject(uri, Buffer.from('{"a":1}'), {
      contentType: 'application/json', metadata: { owner: 'ada' }, headers: { 'cache-control': 'no-cache' },
    });
    expect(etag).toBe(md5('{"a":1}'));
    const info = await store.head(uri);
    expect(info).toMatchObject({ contentLength: 7, contentType: 'application/json', etag, metadata: { owner: 'ada' }, headers: { 'cache-control': 'no-cache' } });
    expect(Math.abs(info.lastModifiedMs - Date.now())).toBeLessThan(10_000);
  });

  it('describes a file dropped in by hand, and one edited by hand, from the file alone', async () => {
    const { store, root } = makeStore();
    mkdirSync(path.join(root, 'b-1', 'in'), { recursive: true });
    writeFileSync(path.join(root, 'b-1', 'in', 'dropped.csv'), '1,2,3');
    const dropped = await store.head({ bucket: 'b-1', key: 'in/dropped.csv' });
    expect(dropped).toMatchObject({ contentLength: 5, contentType: 'application/octet-stream', metadata: {} });
    expect(dropped.etag).toMatch(/^[0-9a-f]{32}-1$/);

    const uri = { bucket: 'b-1', key: 'typed.txt' };
    await store.putObject(uri, Buffer.from('hello'), { contentType: 'text/plain' });
    writeFileSync(path.join(root, 'b-1', 'typed.txt'), 'HELLO');
    utimesSync(path.join(root, 'b-1', 'typed.txt'), new Date(), new Date(Date.now() + 5000));
    expect((await store.head(uri)).contentType).toBe('application/octet-stream');
    expect((await store.get(uri)).contentType).toBeUndefined();
  });

  it('reads byte ranges, and refuses one past the end', async () => {
    const { store } = makeStore();
    const uri = { bucket: 'b-1', key: 'digits' };
    await store.putObject(uri, Buffer.from('0123456789'));
    const read = async (range: Parameters<BucketStore['get']>[1]) => {
      const got = await store.get(uri, range);
      return { text: await text(got.body), length: got.contentLength, range: got.range };
    };
    expect(await read({ range: { start: 2, end: 4 } })).toEqual({ text: '234', length: 3, range: { start: 2, end: 4 } });
    expect(await read({ range: { start: 7 } })).toEqual({ text: '789', length: 3, range: { start: 7, end: 9 } });
    expect(await read({ range: { suffixLength: 4 } })).toEqual({ text: '6789', length: 4, range: { start: 6, end: 9 } });
    expect(await read({ range: { start: 8, end: 100 } })).toEqual({ text: '89', length: 2, range: { start: 8, end: 9 } });
    expect(await read({ range: { suffixLength: 100 } })).toMatchObject({ text: '0123456789' });
    expect(isAppError(await errorOf(store.get(uri, { range: { start: 10 } })), 'RangeNotSatisfiable')).toBe(true);
    expect(isAppError(await errorOf(store.get(uri, { range: { suffixLength: 0 } })), 'RangeNotSatisfiable')).toBe(true);
  });

  it('checks Content-MD5 before committing', async () => {
    const { store } = makeStore();
    const uri = { bucket: 'b-1', key: 'k' };
    const err = await errorOf(store.putObject(uri, Buffer.from('abc'), { contentMd5: createHash('md5').update('abd').digest('base64') }));
    expect(isAppError(err, 'DigestMismatch')).toBe(true);
    expect(isAppError(await errorOf(store.head(uri)), 'ObjectNotFound')).toBe(true);
    await store.putObject(uri, Buffer.from('abc'), { contentMd5: createHash('md5').update('abc').digest('base64') });
  });

  it('refuses a key that is a folder of another key, either way round, and frees the name on delete', async () => {
    const { store, root } = makeStore();
    await store.put({ bucket: 'b-1', key: 'a/b' }, Buffer.from('x'));
    expect(isAppError(await errorOf(store.put({ bucket: 'b-1', key: 'a' }, Buffer.from('y'))), 'ObjectKeyInvalid')).toBe(true);
    expect(isAppError(await errorOf(store.put({ bucket: 'b-1', key: 'a/b/c' }, Buffer.from('y'))), 'ObjectKeyInvalid')).toBe(true);
    await store.delete({ bucket: 'b-1', key: 'a' }); // a folder, not an object: nothing happens
    await store.delete({ bucket: 'b-1', key: 'a/b' });
    await store.delete({ bucket: 'b-1', key: 'a/b' }); // idempotent
    expect(readdirSync(path.join(root, 'b-1'))).toEqual([]);
    await store.put({ bucket: 'b-1', key: 'a' }, Buffer.from('y'));
    expect(await text((await store.get({ bucket: 'b-1', key: 'a' })).body)).toBe('y');
  });
});

describe('fs BucketStore: buckets', () => {
  it('creates, lists, heads and deletes buckets; refuses twice, missing and non-empty', async () => {
    const { store } = makeStore();
    expect(await store.listBuckets()).toEqual([]);
    await store.createBucket('zeta');
    await store.createBucket('alpha');
    expect(isAppError(await errorOf(store.createBucket('alpha')), 'BucketExists')).toBe(true);
    expect(isAppError(await errorOf(store.createBucket('Bad_Name')), 'ObjectKeyInvalid')).toBe(true);
    const buckets = await store.listBuckets();
    expect(buckets.map((b) => b.name)).toEqual(['alpha', 'zeta']);
    expect(Math.abs(buckets[0]!.createdAtMs - Date.now())).toBeLessThan(10_000);
    expect(await store.bucketExists('alpha')).toBe(true);
    expect(await store.bucketExists('nope')).toBe(false);

    await store.put({ bucket: 'alpha', key: 'x/y' }, Buffer.from('1'));
    expect(isAppError(await errorOf(store.deleteBucket('alpha')), 'BucketNotEmpty')).toBe(true);
    await store.delete({ bucket: 'alpha', key: 'x/y' });
    await store.deleteBucket('alpha');
    expect(isAppError(await errorOf(store.deleteBucket('alpha')), 'BucketNotFound')).toBe(true);
    expect(isAppError(await errorOf(store.list('alpha', { maxKeys: 10 })), 'BucketNotFound')).toBe(true);
    expect((await store.listBuckets()).map((b) => b.name)).toEqual(['zeta']);
  });
});

describe('fs BucketStore: list', () => {
  const keys = ['a-c', 'a/b', 'a/c/d', 'a0', 'b', 'photos/2024/jan.jpg', 'photos/2024/feb.jpg', 'photos/2025/mar.jpg', 'photos/index.html', 'z\u00e9', 'z\u{1F600}', 'z\uFF5E'];

  async function filled(): Promise<BucketStore> {
    const { store } = makeStore();
    await store.createBucket('b-1');
    for (const key of keys) await store.put({ bucket: 'b-1', key }, Buffer.from(key));
    return store;
  }

  it('lists every key in UTF-8 byte order, with size and ETag', async () => {
    const store = await filled();
    const page = await store.list('b-1', { maxKeys: 1000 });
    const expected = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(page.objects.map((o) => o.key)).toEqual(expected);
    // Byte order differs from JS string order here: U+FF5E sorts before U+1F600 in UTF-16, after it in UTF-8.
    expect(expected.slice(-2)).toEqual(['z\uFF5E', 'z\u{1F600}']);
    expect(page.objects[0]).toMatchObject({ key: 'a-c', size: 3, etag: md5('a-c') });
    expect(page.isTruncated).toBe(false);
  });

  it('rolls keys up into common prefixes at the delimiter, under a prefix', async () => {
    const store = await filled();
    const top = await store.list('b-1', { delimiter: '/', maxKeys: 1000 });
    expect(top.objects.map((o) => o.key)).toEqual(['a-c', 'a0', 'b', 'z\u00e9', 'z\uFF5E', 'z\u{1F600}']);
    expect(top.commonPrefixes).toEqual(['a/', 'photos/']);
    const photos = await store.list('b-1', { prefix: 'photos/', delimiter: '/', maxKeys: 1000 });
    expect(photos.objects.map((o) => o.key)).toEqual(['photos/index.html']);
    expect(photos.commonPrefixes).toEqual(['photos/2024/', 'photos/2025/']);
    const partial = await store.list('b-1', { prefix: 'photos/20', maxKeys: 1000 });
    expect(partial.objects.map((o) => o.key)).toEqual(['photos/2024/feb.jpg', 'photos/2024/jan.jpg', 'photos/2025/mar.jpg']);
  });

  it('pages through keys and common prefixes without repeats', async () => {
    const store = await filled();
    for (const delimiter of [undefined, '/']) {
      const all = await store.list('b-1', { maxKeys: 1000, ...(delimiter && { delimiter }) });
      const seen: string[] = [];
      let startAfter: string | undefined;
      for (;;) {
        const page = await store.list('b-1', { maxKeys: 2, ...(delimiter && { delimiter }), ...(startAfter !== undefined && { startAfter }) });
        const items = [...page.objects.map((o) => o.key), ...page.commonPrefixes].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
        seen.push(...items);
        if (!page.isTruncated) break;
        startAfter = page.last;
      }
      expect(seen).toEqual([...all.objects.map((o) => o.key), ...all.commonPrefixes].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
    }
  });

  it('leaves out folders with no file in them', async () => {
    const { store, root } = makeStore();
    await store.createBucket('b-1');
    mkdirSync(path.join(root, 'b-1', 'empty', 'deeper'), { recursive: true });
    const page = await store.list('b-1', { delimiter: '/', maxKeys: 10 });
    expect(page).toMatchObject({ objects: [], commonPrefixes: [] });
    await store.deleteBucket('b-1');
  });
});

describe('fs BucketStore: multipart', () => {
  it('completes parts into one object with the multipart ETag and the metadata given at creation', async () => {
    const { store, root } = makeStore();
    await store.createBucket('b-1');
    const uri = { bucket: 'b-1', key: 'big/file.bin' };
    const id = await store.createUpload(uri, { contentType: 'application/x-thing', metadata: { a: '1' } });
    const part1 = Buffer.alloc(MIN_PART_BYTES, 1);
    const part2 = Buffer.from('tail');
    const p2 = await store.uploadPart(id, uri, 2, Readable.from([part2]));
    const p1 = await store.uploadPart(id, uri, 1, Readable.from([part1]));
    expect(p1.etag).toBe(md5(part1));
    const { etag } = await store.completeUpload(id, uri, [{ partNumber: 1, etag: `"${p1.etag}"` }, { partNumber: 2, etag: p2.etag }]);
    expect(etag).toBe(`${createHash('md5').update(Buffer.concat([Buffer.from(p1.etag, 'hex'), Buffer.from(p2.etag, 'hex')])).digest('hex')}-2`);
    const info = await store.head(uri);
    expect(info).toMatchObject({ contentLength: MIN_PART_BYTES + 4, contentType: 'application/x-thing', metadata: { a: '1' }, etag });
    const hash = createHash('sha256');
    for await (const c of (await store.get(uri)).body) hash.update(c as Buffer);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(Buffer.concat([part1, part2])).digest('hex'));
    expect(readdirSync(path.join(root, '.uploads'))).toEqual([]);
    expect(isAppError(await errorOf(store.abortUpload(id, uri)), 'UploadNotFound')).toBe(true);
  });

  it('refuses wrong ETags, wrong order, small parts, other keys and unknown uploads', async () => {
    const { store } = makeStore();
    await store.createBucket('b-1');
    const uri = { bucket: 'b-1', key: 'k' };
    expect(isAppError(await errorOf(store.createUpload({ bucket: 'nope', key: 'k' })), 'BucketNotFound')).toBe(true);
    const id = await store.createUpload(uri);
    const a = await store.uploadPart(id, uri, 1, Readable.from([Buffer.from('small')]));
    const b = await store.uploadPart(id, uri, 2, Readable.from([Buffer.from('more')]));
    expect(isAppError(await errorOf(store.completeUpload(id, uri, [{ partNumber: 2, etag: b.etag }, { partNumber: 1, etag: a.etag }])), 'PartOrderInvalid')).toBe(true);
    expect(isAppError(await errorOf(store.completeUpload(id, uri, [{ partNumber: 1, etag: b.etag }])), 'PartInvalid')).toBe(true);
    expect(isAppError(await errorOf(store.completeUpload(id, uri, [{ partNumber: 1, etag: a.etag }, { partNumber: 2, etag: b.etag }])), 'PartTooSmall')).toBe(true);
    expect(isAppError(await errorOf(store.uploadPart(id, { bucket: 'b-1', key: 'other' }, 1, Readable.from([Buffer.from('x')]))), 'UploadNotFound')).toBe(true);
    expect(isAppError(await errorOf(store.uploadPart('../../etc', uri, 1, Readable.from([Buffer.from('x')]))), 'UploadNotFound')).toBe(true);
    // A part uploaded again replaces the first one.
    const again = await store.uploadPart(id, uri, 1, Readable.from([Buffer.from('again')]));
    expect(isAppError(await errorOf(store.completeUpload(id, uri, [{ partNumber: 1, etag: a.etag }])), 'PartInvalid')).toBe(true);
    await store.completeUpload(id, uri, [{ partNumber: 1, etag: again.etag }]);
    expect(await text((await store.get(uri)).body)).toBe('again');
    // `k` is a file now, so `k/sub` cannot be: refused before any part is sent.
    expect(isAppError(await errorOf(store.createUpload({ bucket: 'b-1', key: 'k/sub' })), 'ObjectKeyInvalid')).toBe(true);
  });
});

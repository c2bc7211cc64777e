import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { expect, it } from 'vitest';
import { takeBytes } from './take-bytes.js';

it('cuts a stream into consecutive parts of the asked sizes, across chunk boundaries', async () => {
  const source = Readable.from([Buffer.from('abc'), Buffer.from('defgh'), Buffer.from('ij')], { objectMode: false });
  const parts: string[] = [];
  for (const size of [4, 4, 2]) parts.push((await buffer(takeBytes(source, size))).toString());
  expect(parts).toEqual(['abcd', 'efgh', 'ij']);
});

it('fails a part when the source ends early, and passes a source error on', async () => {
  await expect(buffer(takeBytes(Readable.from([Buffer.from('ab')]), 5))).rejects.toThrow('ended 3 bytes before');
  const broken = new Readable({ read() { this.destroy(new Error('boom')); } });
  await expect(buffer(takeBytes(broken, 5))).rejects.toThrow('boom');
});

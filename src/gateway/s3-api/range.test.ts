import { describe, expect, it } from 'vitest';
import { contentRange, parseRange } from './range.js';

describe('parseRange', () => {
  it.each([
    ['bytes=0-9', { start: 0, end: 9 }],
    ['bytes=5-5', { start: 5, end: 5 }],
    ['bytes=100-', { start: 100 }],
    ['bytes=-20', { suffixLength: 20 }],
    ['bytes=-0', { suffixLength: 0 }],
    ['Bytes=1-2', { start: 1, end: 2 }],
    ['bytes=0-99999999999999999999', { start: 0, end: Number.MAX_SAFE_INTEGER }],
  ])('reads %j', (header, range) => {
    expect(parseRange(header)).toEqual(range);
  });

  it.each([undefined, '', 'bytes=', 'bytes=-', 'bytes=5-1', 'bytes=0-1,5-9', 'items=0-1', 'bytes=a-b', '0-1'])('ignores %j (the whole object is sent)', (header) => {
    expect(parseRange(header)).toBeUndefined();
  });
});

describe('contentRange', () => {
  it('is "bytes first-last/size"', () => {
    expect(contentRange({ start: 0, end: 9 }, 100)).toBe('bytes 0-9/100');
  });
});

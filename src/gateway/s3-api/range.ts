/**
 * The `Range` header of GetObject. S3 serves one range: `bytes=a-b`, `bytes=a-` or `bytes=-n`.
 * A header it cannot read (another unit, several ranges, b < a) is ignored and the whole object
 * is sent, as HTTP says (RFC 9110 §14.2); a readable range past the end is the store's
 * RangeNotSatisfiable (416 InvalidRange).
 */
import type { ByteRange } from '../../storage/index.js';

const SINGLE = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/i;

export function parseRange(header: string | undefined): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = SINGLE.exec(header);
  if (!m) return undefined;
  const [, first = '', last = ''] = m;
  if (first === '' && last === '') return undefined;
  if (first === '') return { suffixLength: safe(last) };
  const start = safe(first);
  if (last === '') return { start };
  const end = safe(last);
  return end < start ? undefined : { start, end };
}

/** Digits beyond 2^53 mean "to the end" in practice; the store clamps them to the object's size. */
function safe(digits: string): number {
  return Math.min(Number(digits), Number.MAX_SAFE_INTEGER);
}

export function contentRange(range: { start: number; end: number }, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`;
}

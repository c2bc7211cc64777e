/**
 * The List* operations' common part: NameContains, time filters, SortBy/SortOrder, MaxResults and
 * NextToken, validated and applied the same way for every resource.
 */
import { constraints } from '../../domain/index.js';
import { AppError } from '../../errors.js';

export interface Listable {
  name: string;
  createdAtMs: number;
  updatedAtMs: number;
  status?: string;
}

export interface ListRequest {
  NameContains?: string;
  CreationTimeBefore?: number;
  CreationTimeAfter?: number;
  LastModifiedTimeBefore?: number;
  LastModifiedTimeAfter?: number;
  StatusEquals?: string;
  SortBy?: string;
  SortOrder?: string;
  MaxResults?: number;
  NextToken?: string;
}

export function listPage<T extends Listable>(items: T[], req: ListRequest, options: { sortBy: readonly string[]; statuses?: readonly string[] }): { page: T[]; nextToken?: string } {
  const c = constraints();
  c.string('nameContains', req.NameContains, { max: 63, pattern: /^[a-zA-Z0-9-]+$/, patternText: '[a-zA-Z0-9-]+' });
  c.oneOf('sortBy', req.SortBy, options.sortBy);
  c.oneOf('sortOrder', req.SortOrder, ['Ascending', 'Descending']);
  c.number('maxResults', req.MaxResults, 1, 100);
  c.string('nextToken', req.NextToken, { max: 8192 });
  if (options.statuses) c.oneOf('statusEquals', req.StatusEquals, options.statuses);
  for (const key of ['CreationTimeBefore', 'CreationTimeAfter', 'LastModifiedTimeBefore', 'LastModifiedTimeAfter'] as const) {
    c.number(key[0]!.toLowerCase() + key.slice(1), req[key], 0, Number.MAX_SAFE_INTEGER, { integer: false });
  }
  const problems = c.message();
  if (problems) throw new AppError('ValidationException', problems);

  const ms = (seconds: number | undefined) => (seconds === undefined ? undefined : seconds * 1000);
  const [cb, ca, mb, ma] = [ms(req.CreationTimeBefore), ms(req.CreationTimeAfter), ms(req.LastModifiedTimeBefore), ms(req.LastModifiedTimeAfter)];
  const needle = req.NameContains?.toLowerCase();
  const filtered = items.filter((item) =>
    (needle === undefined || item.name.toLowerCase().includes(needle)) &&
    (cb === undefined || item.createdAtMs < cb) && (ca === undefined || item.createdAtMs > ca) &&
    (mb === undefined || item.updatedAtMs < mb) && (ma === undefined || item.updatedAtMs > ma) &&
    (req.StatusEquals === undefined || item.status === req.StatusEquals));

  const sortBy = req.SortBy ?? 'CreationTime';
  const direction = (req.SortOrder ?? 'Descending') === 'Ascending' ? 1 : -1;
  const key = (item: T): string | number => (sortBy === 'Name' ? item.name : sortBy === 'Status' ? item.status ?? '' : item.createdAtMs);
  filtered.sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    return (x < y ? -1 : x > y ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0) * direction;
  });

  const offset = req.NextToken === undefined ? 0 : decodeToken(req.NextToken);
  const size = req.MaxResults ?? 10;
  const page = filtered.slice(offset, offset + size);
  return offset + size < filtered.length ? { page, nextToken: encodeToken(offset + size) } : { page };
}

/** Tokens are opaque to clients; an offset is enough for an embedded, strongly consistent list. */
function encodeToken(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
}

function decodeToken(token: string): number {
  try {
    const { o } = JSON.parse(Buffer.from(token, 'base64url').toString()) as { o: unknown };
    if (typeof o === 'number' && Number.isInteger(o) && o >= 0) return o;
  } catch {
    // Falls through to the error below.
  }
  throw new AppError('ValidationException', 'Invalid pagination token: pass the NextToken of the previous response unchanged.');
}

/**
 * What a path-style S3 request names: `/` (the service), `/{bucket}`, or `/{bucket}/{key}`.
 * The raw URL is decoded here rather than by the router, so that every key survives exactly:
 * `%2F` and `/` are both "/", `+` is a plus (SDKs send a space as %20), and a key may hold
 * "//" or end in "/" (the store then says whether it can hold it).
 */
import { s3Error } from './s3-error.js';

export interface S3Target {
  bucket?: string;
  key?: string;
  query: URLSearchParams;
  /** `/bucket/key`, for error documents. */
  resource: string;
}

export function parseTarget(rawUrl: string): S3Target {
  const q = rawUrl.indexOf('?');
  const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
  // URLSearchParams would read "+" as a space; S3 query values are percent-encoded, so keep "+".
  const query = new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1).replace(/\+/g, '%2B'));
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    throw s3Error('InvalidURI', `Couldn't parse the specified URI: ${rawPath.slice(0, 200)} is not valid percent-encoding.`);
  }
  if (!path.startsWith('/')) throw s3Error('InvalidURI', `Couldn't parse the specified URI: ${rawPath.slice(0, 200)} does not start with "/".`);
  const slash = path.indexOf('/', 1);
  const bucket = (slash === -1 ? path.slice(1) : path.slice(1, slash)) || undefined;
  const key = slash === -1 || slash === path.length - 1 ? undefined : path.slice(slash + 1);
  return { ...(bucket !== undefined && { bucket }), ...(key !== undefined && { key }), query, resource: path };
}

/**
 * Opens an input location as SageMaker accepts them: `s3://` from the object store, or an
 * `https://` URL (a presigned URL, say) fetched as it is.
 */
import type { Readable } from 'node:stream';
import { request } from 'undici';
import { parseS3Uri } from '../domain/index.js';
import type { ObjectStore } from './object-store.js';

export async function openLocation(store: ObjectStore, location: string, signal?: AbortSignal): Promise<{ body: Readable; contentLength?: number }> {
  const s3 = parseS3Uri(location);
  if (s3) return store.get(s3);
  const res = await request(location, { method: 'GET', headersTimeout: 0, bodyTimeout: 0, ...(signal && { signal }) });
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw new Error(`GET answered HTTP ${res.statusCode}`);
  }
  const length = Number(res.headers['content-length']);
  return { body: res.body, ...(Number.isFinite(length) && { contentLength: length }) };
}

/**
 * Opens an input location as SageMaker accepts them: `s3://` from the object store, or an
 * `https://` URL (a presigned URL, say) fetched through the outbound policy (src/outbound/): only
 * hosts the operator allowed, checked on the resolved address, no redirects, timeouts, a size cap.
 * A store without a policy (`withOutboundPolicy`) refuses every URL.
 */
import type { Readable } from 'node:stream';
import { parseS3Uri } from '../domain/index.js';
import { OutboundRefused, type OutboundPolicy } from '../outbound/index.js';
import type { ObjectStore } from './object-store.js';

const POLICY = Symbol('outbound policy');

/** The store, with the outbound policy its https:// locations are opened through. */
export function withOutboundPolicy(store: ObjectStore, policy: OutboundPolicy): ObjectStore {
  return { get: (uri) => store.get(uri), put: (uri, body, options) => store.put(uri, body, options), [POLICY]: policy } as ObjectStore;
}

export async function openLocation(store: ObjectStore, location: string, signal?: AbortSignal): Promise<{ body: Readable; contentLength?: number }> {
  const s3 = parseS3Uri(location);
  if (s3) return store.get(s3);
  const policy = (store as { [POLICY]?: OutboundPolicy })[POLICY];
  if (!policy || !/^https:\/\//i.test(location)) throw new OutboundRefused();
  return policy.get(location, signal ? { signal } : {});
}

import { randomUUID } from 'node:crypto';

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Invocation ids
 * are the queue's key, so ids that grow with time keep its index append-only: a random v4 key
 * dirties a random index page per row, which tripled the cost of every group commit.
 * Clients still see an ordinary UUID in the output name, as SageMaker's own.
 */
export function timeOrderedUuid(nowMs = Date.now()): string {
  const random = randomUUID();
  const time = nowMs.toString(16).padStart(12, '0');
  // random is xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx: keep its variant and random tail, set version 7.
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15, 18)}-${random.slice(19)}`;
}

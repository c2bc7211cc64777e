/**
 * Writes an outcome object, retrying a failed write with exponential backoff and jitter: a store
 * that blips (an S3 503, a reset connection) must not cost a finished inference. Each attempt
 * starts from the first byte, which is why the response is held (see held-response.ts).
 */
import type { Readable } from 'node:stream';
import type { S3Uri } from '../domain/index.js';
import { isAppError } from '../errors.js';
import type { ObjectStore, PutOptions } from '../storage/index.js';

export const UPLOAD_ATTEMPTS = 4;
const FIRST_RETRY_MS = 250;

export interface PutRetryOptions {
  attempts?: number;
  firstRetryMs?: number;
  /** Told about each failed attempt that will be retried. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

export async function putWithRetries(store: ObjectStore, uri: S3Uri, open: () => Uint8Array | Readable, options: PutOptions, retry: PutRetryOptions = {}): Promise<void> {
  const attempts = retry.attempts ?? UPLOAD_ATTEMPTS;
  for (let attempt = 1; ; attempt++) {
    try {
      await store.put(uri, open(), options);
      return;
    } catch (err) {
      // A key the store can never hold will not become valid by waiting.
      if (attempt >= attempts || isAppError(err, 'ObjectKeyInvalid')) throw err;
      // Between half and all of an exponentially growing step: retries of many invocations spread out.
      const step = (retry.firstRetryMs ?? FIRST_RETRY_MS) * 4 ** (attempt - 1);
      const delayMs = Math.round(step / 2 + Math.random() * (step / 2));
      retry.onRetry?.(err, attempt, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

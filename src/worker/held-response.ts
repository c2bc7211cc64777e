/**
 * A model response held until its object is written: in memory when small, in a spool file when
 * large. Holding it (instead of piping the model's socket straight into the store) is what lets a
 * failed upload be retried from the first byte, and keeps memory flat whatever the size.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Up to this size a response is kept in memory; larger ones go to disk. */
export const SPOOL_ABOVE_BYTES = 8 * 1024 * 1024;

export interface HeldResponse {
  contentLength: number;
  contentType?: string;
  /** The bytes, when the response was small enough to keep in memory. */
  bytes?: Buffer;
  /** A fresh body for one upload attempt. */
  open(): Uint8Array | Readable;
  /** Removes the spool file, if any. */
  release(): Promise<void>;
}

export async function holdResponse(body: Readable, contentLength: number, contentType: string | undefined, spoolDir: string): Promise<HeldResponse> {
  const type = contentType === undefined ? {} : { contentType };
  if (contentLength <= SPOOL_ABOVE_BYTES) {
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    return { contentLength: bytes.length, ...type, bytes, open: () => bytes, release: async () => {} };
  }
  await mkdir(spoolDir, { recursive: true });
  const file = path.join(spoolDir, randomUUID());
  try {
    await pipeline(body, createWriteStream(file));
  } catch (err) {
    await rm(file, { force: true });
    throw err;
  }
  return { contentLength, ...type, open: () => createReadStream(file), release: () => rm(file, { force: true }) };
}

/**
 * After a request is refused, the part of its body nobody read is read and dropped (never kept),
 * so the client can read the answer on a connection that stays usable: closing a socket with
 * unread bytes makes the kernel reset it, and the client would lose the answer. Past
 * MAX_DISCARD_BYTES the client is cut off. Every port and API refuses bodies this one way.
 */
import type { IncomingMessage } from 'node:http';

const MAX_DISCARD_BYTES = 16 * 1024 * 1024;

export function discardUnreadBody(raw: IncomingMessage): void {
  if (raw.complete || raw.destroyed) return;
  raw.unpipe();
  let discarded = 0;
  raw.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > MAX_DISCARD_BYTES) raw.socket.destroy();
  });
  raw.resume();
}

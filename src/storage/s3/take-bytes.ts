/**
 * Cuts the next `size` bytes off a stream as a stream of their own, without buffering them: the
 * parts of a multipart upload are read from the source while they are sent.
 */
import { Readable } from 'node:stream';

export function takeBytes(source: Readable, size: number): Readable {
  let remaining = size;
  let waiting = false;
  const detach = () => {
    source.off('readable', pump);
    source.off('end', ended);
    source.off('error', failed);
  };
  const ended = () => {
    detach();
    part.destroy(new Error(`the source ended ${remaining} bytes before the end of this part`));
  };
  const failed = (err: Error) => {
    detach();
    part.destroy(err);
  };
  function pump(): void {
    waiting = false;
    for (;;) {
      if (remaining === 0) return;
      let chunk = source.read() as Buffer | null;
      if (chunk === null) {
        waiting = true;
        return;
      }
      if (chunk.length > remaining) {
        source.unshift(chunk.subarray(remaining));
        chunk = chunk.subarray(0, remaining);
      }
      remaining -= chunk.length;
      const wantsMore = part.push(chunk);
      if (remaining === 0) {
        detach();
        part.push(null);
        return;
      }
      if (!wantsMore) return;
    }
  }
  const part = new Readable({
    read() {
      if (!waiting) pump();
    },
  });
  if (size === 0) {
    part.push(null);
    return part;
  }
  source.on('readable', pump);
  source.once('end', ended);
  source.once('error', failed);
  return part;
}

/**
 * HTTPS for the API ports: the certificate and key are PEM files, read at start and again on
 * SIGHUP (`reload`), so a renewed certificate is served without a restart. Connections already open
 * keep the certificate they began with.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener, type Server, type ServerOptions } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { AppError } from '../errors.js';

export interface TlsFiles {
  cert: string;
  key: string;
}

function read(files: TlsFiles): { cert: Buffer; key: Buffer } {
  try {
    return { cert: readFileSync(files.cert), key: readFileSync(files.key) };
  } catch (err) {
    throw new AppError('ConfigInvalid', `Cannot read the TLS certificate or key (tls.cert ${files.cert}, tls.key ${files.key}): ${(err as Error).message}`, { cause: err });
  }
}

/** The cap when the open-file limit cannot be read (no /proc: macOS, Windows). */
export const DEFAULT_MAX_CONNECTIONS = 1000;
/** The most connections one listener holds however high the open-file limit is. */
export const MAX_CONNECTIONS_CEILING = 10_000;

/**
 * Open connections one listener holds at most; past it, Node closes a new connection at once (an
 * idle flood costs its sender, not the server's file descriptors). A quarter of the process's
 * open-file limit each (Node raises its soft `ulimit -n` to the hard limit at start), so with both
 * API ports full half the descriptors are left for models, files, the database and outbound calls;
 * at least 64, at most MAX_CONNECTIONS_CEILING.
 */
export function connectionCapFor(openFileLimit: number | undefined): number {
  if (openFileLimit === undefined || Number.isNaN(openFileLimit)) return DEFAULT_MAX_CONNECTIONS;
  return Math.max(64, Math.min(MAX_CONNECTIONS_CEILING, Math.floor(openFileLimit / 4)));
}

/** The soft open-file limit of this process (Linux), or undefined where it cannot be read. */
function openFileLimit(): number | undefined {
  try {
    const match = /^Max open files\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!match) return undefined;
    return match[1] === 'unlimited' ? Infinity : Number(match[1]);
  } catch {
    return undefined;
  }
}

export const MAX_CONNECTIONS_PER_LISTENER = connectionCapFor(openFileLimit());
/** A kept-alive connection with no request for this long is closed (Node's default, said here on purpose). */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;

/**
 * An HTTP server, or an HTTPS one when `tls` is given; `reload` reads the files again (a no-op
 * without TLS). Every listener gets the connection cap and the keep-alive timeout; header and
 * request timeouts come with `options` (each listener sizes its own).
 */
export function createApiServer(options: ServerOptions, tls: TlsFiles | undefined, handler: RequestListener): { server: Server; scheme: 'http' | 'https'; reload(): void } {
  const limited = <T extends { maxConnections: number; keepAliveTimeout: number }>(server: T): T => {
    server.maxConnections = MAX_CONNECTIONS_PER_LISTENER;
    server.keepAliveTimeout = options.keepAliveTimeout ?? KEEP_ALIVE_TIMEOUT_MS;
    return server;
  };
  if (!tls) return { server: limited(createHttpServer(options, handler)), scheme: 'http', reload() {} };
  const server = limited(createHttpsServer({ ...options, ...read(tls) }, handler));
  return {
    server: server as unknown as Server,
    scheme: 'https',
    reload() {
      (server as HttpsServer).setSecureContext(read(tls));
    },
  };
}

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

/** An HTTP server, or an HTTPS one when `tls` is given; `reload` reads the files again (a no-op without TLS). */
export function createApiServer(options: ServerOptions, tls: TlsFiles | undefined, handler: RequestListener): { server: Server; scheme: 'http' | 'https'; reload(): void } {
  if (!tls) return { server: createHttpServer(options, handler), scheme: 'http', reload() {} };
  const server = createHttpsServer({ ...options, ...read(tls) }, handler);
  return {
    server: server as unknown as Server,
    scheme: 'https',
    reload() {
      (server as HttpsServer).setSecureContext(read(tls));
    },
  };
}

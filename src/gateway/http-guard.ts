/**
 * What a browser can make a server do, checked before anything else on every port:
 *
 * - `Host` must name this server (the bind address, localhost, 127.0.0.1, [::1], or a configured
 *   name; on a wildcard bind also this machine's own addresses and host name). A page whose DNS
 *   name was rebound to 127.0.0.1 sends its own name, and is refused.
 * - `Origin`, when a browser sends one, must be a configured CORS origin or the server itself.
 *   A form posted from a foreign page is refused even when auth is off.
 * - CORS is granted only to configured origins (preflights included), never by default.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { hostname, networkInterfaces } from 'node:os';

export interface HttpGuardOptions {
  bindHost: string;
  allowedHosts: readonly string[];
  allowedOrigins: readonly string[];
}

export type GuardVerdict =
  | { ok: true; /** Set when the caller is a configured CORS origin. */ corsOrigin?: string }
  | { ok: false; message: string };

export interface HttpGuard {
  check(headers: IncomingHttpHeaders): GuardVerdict;
  /** The answer to a CORS preflight (OPTIONS with Access-Control-Request-Method), or undefined when it is not one. */
  preflight(method: string, headers: IncomingHttpHeaders): { status: number; headers: Record<string, string> } | undefined;
  /** Headers that go on every answer to a configured origin. */
  corsHeaders(origin: string): Record<string, string>;
}

const WILDCARD_BINDS = new Set(['0.0.0.0', '::', '[::]']);
/** What the SDKs read from answers: SageMaker's and S3's own headers. */
const EXPOSED = 'x-amzn-requestid, x-amzn-errortype, x-amzn-sagemaker-outputlocation, x-amzn-sagemaker-failurelocation, x-amzn-invoked-production-variant, x-amz-request-id, x-amz-id-2, etag, content-length, content-range, last-modified';

export function createHttpGuard(options: HttpGuardOptions): HttpGuard {
  const allowed = new Set(['localhost', '127.0.0.1', '::1', ...options.allowedHosts].map(bare));
  if (WILDCARD_BINDS.has(options.bindHost)) {
    allowed.add(hostname().toLowerCase());
    for (const addresses of Object.values(networkInterfaces())) for (const a of addresses ?? []) allowed.add(a.address.toLowerCase());
  } else {
    allowed.add(bare(options.bindHost));
  }
  const origins = new Set(options.allowedOrigins.map((o) => o.toLowerCase()));

  function hostOf(headers: IncomingHttpHeaders): string | undefined {
    const host = headers.host;
    if (host === undefined || host === '') return undefined;
    return bare(host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d*$/, ''));
  }

  function corsHeaders(origin: string): Record<string, string> {
    return { 'access-control-allow-origin': origin, vary: 'Origin', 'access-control-expose-headers': EXPOSED };
  }

  return {
    check(headers) {
      const host = hostOf(headers);
      if (host === undefined || !allowed.has(host)) {
        return { ok: false, message: `The Host header ${JSON.stringify(String(headers.host ?? '').slice(0, 100))} does not name this server, so the request was refused (DNS rebinding protection). If clients reach it by that name, add it to "allowedHosts" in the config.` };
      }
      const origin = headers.origin;
      if (origin === undefined) return { ok: true };
      const lower = origin.toLowerCase();
      if (origins.has(lower)) return { ok: true, corsOrigin: origin };
      // A page of the server itself (same scheme-less host and port as the request).
      const m = /^https?:\/\/([^/]+)$/.exec(lower);
      if (m && m[1] === String(headers.host).toLowerCase()) return { ok: true };
      return { ok: false, message: `Requests from the web origin ${JSON.stringify(origin.slice(0, 100))} are refused: it is not in "cors.allowedOrigins" in the config.` };
    },
    preflight(method, headers) {
      if (method !== 'OPTIONS' || headers['access-control-request-method'] === undefined || headers.origin === undefined) return undefined;
      const origin = headers.origin;
      if (!origins.has(origin.toLowerCase())) return { status: 403, headers: {} };
      return {
        status: 204,
        headers: {
          ...corsHeaders(origin),
          'access-control-allow-methods': 'GET, HEAD, PUT, POST, DELETE',
          'access-control-allow-headers': String(headers['access-control-request-headers'] ?? ''),
          'access-control-max-age': '600',
        },
      };
    },
    corsHeaders,
  };
}

/** A host name as compared: lower case, IPv6 without brackets. */
function bare(host: string): string {
  return host.toLowerCase().replace(/^\[|\]$/g, '');
}

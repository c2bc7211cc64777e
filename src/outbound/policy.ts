/**
 * The outbound policy: the one gate for every URL a caller can name (an https:// InputLocation, a
 * ModelDataUrl, an Image given as a URL). A URL is allowed only when an entry of `outbound.allow`
 * in the operator's config matches it, and every address its host resolves to is a public one, or
 * one the operator listed (an IP entry of `allow`, or a range in `outbound.addresses`). Loopback,
 * link-local, private, unspecified, multicast and other special-purpose addresses are refused
 * otherwise. The check is made on the address the connection is actually made to (our own DNS
 * lookup hands the checked address to the socket; an IP host is connected to as it is, no lookup),
 * so a name that resolves differently between the
 * check and the connection (DNS rebinding) gains nothing. Redirects are never followed; connect,
 * header and idle timeouts apply; bodies are capped.
 *
 * A refusal says only "not allowed by the outbound policy": nothing tells a caller whether a port
 * is open, closed or speaks TLS.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { pipeline, Transform, type Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';

export interface OutboundSettings {
  /** URL prefixes ("https://models.example.com/artifacts/") or hosts ("minio.internal:9000", "10.1.2.3"). */
  allow: readonly string[];
  /** Special-purpose addresses (CIDR or single address) a listed host may resolve to, e.g. "10.0.0.0/8". */
  addresses: readonly string[];
  connectTimeout: number;
  headersTimeout: number;
  idleTimeout: number;
  /** Bytes of an https:// InputLocation. */
  maxInputBytes: number;
}

export const NOT_ALLOWED = 'not allowed by the outbound policy';

/** A URL the policy refuses; the message carries no detail about the target. */
export class OutboundRefused extends Error {
  readonly code = 'OutboundRefused';
  constructor(message = `the URL is ${NOT_ALLOWED}`) {
    super(message);
  }
}

/** Special-purpose ranges (RFC 6890 and friends) a caller's URL may not reach unless listed. */
const SPECIAL = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24],
  ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) SPECIAL.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128], ['::1', 128], ['::ffff:0:0', 96], ['64:ff9b::', 96], ['100::', 64], ['2001:db8::', 32], ['2002::', 16],
  ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) SPECIAL.addSubnet(net, prefix, 'ipv6');

interface AllowEntry {
  /** "http:" / "https:", or undefined for a host entry (either scheme). */
  protocol?: string;
  hostname: string;
  /** Explicit port, or undefined: any port for a host entry, the scheme's default for a URL entry. */
  port?: string;
  pathPrefix: string;
}

const stripBrackets = (h: string) => h.replace(/^\[|\]$/g, '');
const effectivePort = (u: URL) => u.port || (u.protocol === 'https:' ? '443' : '80');

/** Parses one `allow` entry; throws a message for the config loader. */
export function parseAllowEntry(entry: string): AllowEntry {
  if (entry.includes('://')) {
    const u = new URL(entry);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('must be an http:// or https:// URL prefix');
    if (u.username || u.password || u.search || u.hash) throw new Error('must not carry credentials, a query or a fragment');
    return { protocol: u.protocol, hostname: stripBrackets(u.hostname).toLowerCase(), port: effectivePort(u), pathPrefix: u.pathname };
  }
  if (/[/?#@\s]/.test(entry)) throw new Error('must be a host, host:port, or an http(s):// URL prefix');
  const u = new URL(`http://${entry}`);
  return { hostname: stripBrackets(u.hostname).toLowerCase(), ...(u.port !== '' || /:80$/.test(entry) ? { port: u.port || '80' } : {}), pathPrefix: '/' };
}

/** Parses one `addresses` entry ("10.0.0.0/8", "fd00::/8", "10.1.2.3"); throws a message for the config loader. */
export function parseAddressEntry(entry: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const [address = '', bits] = entry.split('/');
  const v = isIP(address);
  if (v === 0) throw new Error('must be an IP address or a CIDR range such as 10.0.0.0/8');
  const max = v === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) throw new Error(`the prefix length must be 0-${max}`);
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

export interface OutboundPolicy {
  /** Checks a URL's form and its allow entry (and its address when the host is an IP); returns the parsed URL or throws OutboundRefused. */
  check(url: string): URL;
  /** Whether `address` (a resolved IP) may be connected to. */
  addressAllowed(address: string): boolean;
  /** Whether `url` passes `check` and every address its host resolves to now may be connected to (false when it does not resolve). */
  urlAllowed(url: string): Promise<boolean>;
  /** GET through the policy: checked URL, checked resolved address, no redirect, timeouts. Non-200 answers throw. */
  get(url: string, options?: { signal?: AbortSignal; maxBytes?: number; timeoutMs?: number }): Promise<{ body: Readable; contentLength?: number }>;
  /** The dispatcher that connects only to allowed addresses, for other requests to checked URLs. */
  dispatcher: Dispatcher;
  settings: OutboundSettings;
  close(): Promise<void>;
}

export function createOutboundPolicy(settings: OutboundSettings): OutboundPolicy {
  const entries = settings.allow.map(parseAllowEntry);
  // An IP entry of `allow` allows that address through its own entry only (with its port and path);
  // a name that resolves to a special-purpose address needs that address listed in `addresses`.
  const listed = new BlockList();
  for (const a of settings.addresses) {
    const p = parseAddressEntry(a);
    listed.addSubnet(p.address, p.prefix, p.family);
  }

  function addressAllowed(address: string): boolean {
    const v = isIP(address);
    if (v === 0) return false;
    const family = v === 4 ? 'ipv4' : 'ipv6';
    return !SPECIAL.check(address, family) || listed.check(address, family);
  }

  function check(raw: string): URL {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new OutboundRefused();
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new OutboundRefused();
    if (u.username || u.password) throw new OutboundRefused();
    const hostname = stripBrackets(u.hostname).toLowerCase();
    const port = effectivePort(u);
    const matched = entries.some((e) => (e.protocol === undefined || e.protocol === u.protocol) && e.hostname === hostname
      && (e.port === undefined || e.port === port) && u.pathname.startsWith(e.pathPrefix));
    if (!matched) throw new OutboundRefused();
    // An IP host matched an entry naming that very IP (entries compare host names exactly), so it was listed on purpose.
    return u;
  }

  /** net.connect's lookup: resolves every address, refuses the host if any is not allowed, connects to a checked one. */
  function checkedLookup(hostname: string, options: { all?: boolean; family?: number | string } | number,
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void {
    const all = typeof options === 'object' && options.all === true;
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => {
      if (err) return callback(err, all ? [] : '', 0);
      if (addresses.length === 0 || addresses.some((a) => !addressAllowed(a.address))) {
        const refused: NodeJS.ErrnoException = new OutboundRefused();
        return callback(refused, all ? [] : '', 0);
      }
      if (all) return callback(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  }

  async function urlAllowed(url: string): Promise<boolean> {
    let h: string;
    try {
      h = stripBrackets(check(url).hostname);
    } catch {
      return false;
    }
    if (isIP(h) !== 0) return true;
    return new Promise((resolve) => {
      dnsLookup(h, { all: true, verbatim: true }, (err, addresses) => resolve(!err && addresses.length > 0 && addresses.every((a) => addressAllowed(a.address))));
    });
  }

  const agent = new Agent({
    connect: { timeout: settings.connectTimeout, lookup: checkedLookup as never },
    headersTimeout: settings.headersTimeout,
    bodyTimeout: settings.idleTimeout,
  } as Agent.Options);

  async function get(raw: string, options: { signal?: AbortSignal; maxBytes?: number; timeoutMs?: number } = {}) {
    const u = check(raw);
    const maxBytes = options.maxBytes ?? settings.maxInputBytes;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(u, {
        method: 'GET', dispatcher: agent, headersTimeout: settings.headersTimeout, bodyTimeout: settings.idleTimeout,
        ...(options.signal && { signal: options.signal }),
      });
    } catch (err) {
      if (options.signal?.aborted) throw err;
      // No detail: refused, closed, filtered, not TLS and timed out all read the same.
      if (err instanceof OutboundRefused || (err as { cause?: unknown }).cause instanceof OutboundRefused) throw new OutboundRefused();
      throw new Error('the URL could not be reached');
    }
    if (res.statusCode !== 200) {
      await res.body.dump().catch(() => undefined);
      throw new Error(`GET answered HTTP ${res.statusCode}${res.statusCode >= 300 && res.statusCode < 400 ? ' (redirects are not followed)' : ''}`);
    }
    const length = Number(res.headers['content-length']);
    if (Number.isFinite(length) && length > maxBytes) {
      res.body.on('error', () => undefined).destroy();
      throw new Error(`the object is larger than the ${maxBytes} bytes allowed`);
    }
    // pipeline, not pipe: an idle timeout or reset of the body reaches the reader as an error.
    const body = pipeline(res.body, byteCap(maxBytes), () => undefined);
    return { body, ...(Number.isFinite(length) && { contentLength: length }) };
  }

  return { check, addressAllowed, urlAllowed, get, dispatcher: agent, settings, close: () => agent.close() };
}

/** Passes bytes through and fails the stream once more than `max` went by. */
export function byteCap(max: number, what = 'the object'): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > max) return done(new Error(`${what} is larger than the ${max} bytes allowed`));
      done(null, chunk);
    },
  });
}

/**
 * An Image given as a URL: checked by the policy and refused with a query, fragment or credentials
 * (paths are appended to it). Returns the base the model's paths are resolved against.
 */
export function checkImageUrl(policy: OutboundPolicy | undefined, image: string): URL {
  let u: URL;
  try {
    u = new URL(image);
  } catch {
    throw new OutboundRefused(`Image ${JSON.stringify(image)} is not a valid URL`);
  }
  // The policy first (its host, port and path), so an unlisted URL reads the same whatever else it carries.
  const bare = new URL(u.href);
  bare.username = '';
  bare.password = '';
  bare.search = '';
  bare.hash = '';
  try {
    if (!policy) throw new OutboundRefused();
    policy.check(bare.href);
  } catch {
    throw new OutboundRefused(`Image URL ${JSON.stringify(image)} is ${NOT_ALLOWED} (the server's config lists the hosts it may reach under "outbound.allow")`);
  }
  if (u.search !== '' || u.hash !== '' || image.includes('?') || image.includes('#') || u.username || u.password) {
    throw new OutboundRefused(`Image URL ${JSON.stringify(image)} must not carry a query, a fragment or credentials`);
  }
  return u;
}

/** A model URL's base without a trailing slash, so `${base}/ping` stays in its path (no query, fragment or credentials). */
export function modelBaseUrl(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

/**
 * AWS Signature Version 4, verified as AWS verifies it, for two kinds of surface:
 *
 * - `sagemaker` (runtime, control plane, admin API): the canonical URI is the path as sent,
 *   normalized (`.`, `..`, empty segments removed) and encoded once more, because the SDKs encode
 *   their already-encoded path again.
 * - `s3` (path-style): the path is not normalized, each segment is percent-decoded and encoded
 *   once; every `x-amz-*` header the request carries must be signed (S3's HeadersNotSigned).
 *
 * Both: header (`Authorization`) and presigned (query) signatures, the query decoded then encoded
 * (a literal `+` is a plus, never a space), headers read from `rawHeaders` (all values of a name,
 * joined with `,`). Session tokens are refused: this server has long-term keys only.
 *
 * Two steps, so a surface can refuse before reading a body: `parseSignature` (format, scope,
 * time; no secret) and `verifySignature` (the HMAC, once the payload hash is known). It runs on
 * every request: no regex is built per call, and the signing key is cached.
 *
 * Failure kinds (SigV4Error.failure):
 * - Malformed: unparsable Authorization header or X-Amz-* query, an algorithm other than
 *   AWS4-HMAC-SHA256, no `host` among the signed headers, bad or missing date, bad X-Amz-Expires,
 *   a session token, both a header and a query signature, or (verify) a payload hash the surface
 *   does not accept.
 * - WrongScope: the credential scope's date is not the request's, or its region or service is
 *   not this server's.
 * - Skewed: a header signature dated more than 15 minutes from now (either way).
 * - Expired / NotYetValid: a presigned URL past X-Amz-Date + X-Amz-Expires / dated more than 15
 *   minutes ahead.
 * - HeadersNotSigned: (s3) an `x-amz-*` header is present but not signed.
 * - SignatureMismatch: the HMAC differs, or a signed header is absent from the request (reported
 *   as a mismatch, not as malformed: the client did sign it, something on the way dropped it,
 *   and the canonical request in the details shows which).
 * - PayloadMismatch: never thrown here; for callers that compare the body's hash with the
 *   declared `x-amz-content-sha256`.
 * - MissingAuthentication: never thrown here (parseSignature returns undefined); for callers.
 * - UnknownKey: never thrown here (the verifier knows no keys); for callers that look the key up.
 */
import * as crypto from 'node:crypto';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type SigV4Service = 'sagemaker' | 's3';

export const SigV4Failures = ['MissingAuthentication', 'UnknownKey', 'Malformed', 'WrongScope', 'Skewed', 'Expired', 'NotYetValid', 'HeadersNotSigned', 'SignatureMismatch', 'PayloadMismatch'] as const;
export type SigV4Failure = (typeof SigV4Failures)[number];

/**
 * A refused signature. `details` are named as in S3's error document (Region, RequestTime,
 * ServerTime, X-Amz-Expires, Expires, AWSAccessKeyId, SignatureProvided, StringToSign,
 * CanonicalRequest, HeadersNotSigned), so the S3 API can copy them into its answer.
 */
export class SigV4Error extends Error {
  constructor(readonly failure: SigV4Failure, message: string, readonly details?: Readonly<Record<string, string>>) {
    super(message);
    this.name = 'SigV4Error';
  }
}

/** What the verifier reads of a request: as received, before any decoding. */
export interface SignedRequest {
  method: string;
  /** path?query exactly as received (node's `req.url`). */
  rawUrl: string;
  /** node's `req.rawHeaders`: name, value, name, value, … */
  rawHeaders: readonly string[];
}

export interface ParsedSignature {
  via: 'header' | 'query';
  accessKeyId: string;
  /** The request time as signed, ISO 8601 basic (20130524T000000Z). */
  amzDate: string;
  scopeDate: string;
  region: string;
  service: string;
  /** As the client listed them (the SDKs send them lower-cased and sorted). */
  signedHeaders: readonly string[];
  signature: string;
  expiresSeconds?: number;
  /** `x-amz-content-sha256` (header auth) or `X-Amz-Content-Sha256` (query auth); for s3 presigned URLs, UNSIGNED-PAYLOAD when absent. */
  declaredPayloadHash?: string;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const TERMINATOR = 'aws4_request';
const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_EXPIRES_SECONDS = 604_800;
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const S3_PAYLOAD_KINDS = new Set([UNSIGNED_PAYLOAD, 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER']);
const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;
const DIGITS = /^[0-9]+$/;
const MISMATCH = 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.';

/** crypto.hash (Node 20.12+) skips the Hash object: half the cost of createHash on short input. */
const oneShot = (crypto as { hash?: (algorithm: string, data: Buffer | string, encoding: 'hex') => string }).hash;

/** What S3 takes in x-amz-content-sha256: the hex SHA-256 of the body, or one of its named payload kinds. */
export function isS3PayloadHash(value: string): boolean {
  return S3_PAYLOAD_KINDS.has(value) || HEX_SHA256.test(value);
}

export function sha256Hex(data: Buffer | string): string {
  return oneShot ? oneShot('sha256', data, 'hex') : createHash('sha256').update(data).digest('hex');
}

// ---------------------------------------------------------------------------------------------
// parse

export function parseSignature(req: SignedRequest, expect: { service: SigV4Service; region: string; nowMs: number }): ParsedSignature | undefined {
  const s3 = expect.service === 's3';
  let authorization: string | undefined;
  let amzDateHeader: string | undefined;
  let dateHeader: string | undefined;
  let contentSha: string | undefined;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const length = raw[i]!.length;
    // Only names of these lengths matter here: lower-casing the others is wasted work.
    if (length !== 4 && length !== 10 && length !== 13 && length !== 20) continue;
    const value = raw[i + 1]!;
    switch (raw[i]!.toLowerCase()) {
      case 'authorization':
        if (authorization !== undefined) throw malformed(s3, 'header', 'the request carries more than one Authorization header.');
        authorization = value;
        break;
      case 'x-amz-date':
        if (amzDateHeader !== undefined) throw malformed(s3, 'header', 'the request carries more than one X-Amz-Date header.');
        amzDateHeader = value.trim();
        break;
      case 'date':
        dateHeader ??= value;
        break;
      case 'x-amz-content-sha256':
        contentSha ??= value.trim();
        break;
      case 'x-amz-security-token':
        throw sessionToken(s3, 'header');
    }
  }

  const query = rawQuery(req.rawUrl);
  const auth = query !== undefined && query.includes('X-Amz-') ? queryAuthParams(query, s3) : undefined;
  if (authorization !== undefined && auth?.algorithm !== undefined) {
    throw malformed(s3, 'header', 'only one auth mechanism is allowed: send either the Authorization header or the X-Amz-Algorithm query parameters, not both.');
  }

  let parsed: ParsedSignature;
  if (authorization !== undefined) {
    parsed = parseAuthorizationHeader(authorization, s3);
    if (amzDateHeader !== undefined) {
      if (Number.isNaN(parseBasicDate(amzDateHeader))) throw malformed(s3, 'header', `X-Amz-Date "${amzDateHeader.slice(0, 40)}" is not a date like 20130524T000000Z.`);
      parsed.amzDate = amzDateHeader;
    } else if (dateHeader !== undefined) {
      const ms = Date.parse(dateHeader);
      if (Number.isNaN(ms)) throw malformed(s3, 'header', `the Date header "${dateHeader.slice(0, 40)}" is not an RFC 1123 date.`);
      parsed.amzDate = basicDate(ms);
    } else {
      throw malformed(s3, 'header', 'AWS authentication requires a valid Date or x-amz-date header.');
    }
    if (contentSha !== undefined) parsed.declaredPayloadHash = contentSha;
  } else if (auth?.algorithm !== undefined) {
    parsed = parseQueryAuth(auth, s3);
    const declared = auth.contentSha ?? (s3 ? UNSIGNED_PAYLOAD : undefined);
    if (declared !== undefined) parsed.declaredPayloadHash = declared;
  } else {
    return undefined;
  }

  checkScope(parsed, expect);
  checkTime(parsed, expect.nowMs, s3);
  if (s3) checkAllAmzHeadersSigned(raw, parsed.signedHeaders);
  return parsed;
}

function parseAuthorizationHeader(value: string, s3: boolean): ParsedSignature {
  const text = value.trim();
  const space = text.indexOf(' ');
  const algorithm = space === -1 ? text : text.slice(0, space);
  if (algorithm !== ALGORITHM) throw unsupportedAlgorithm(s3, 'header', algorithm);
  let credential: string | undefined;
  let signedHeaders: string | undefined;
  let signature: string | undefined;
  // "Credential=…, SignedHeaders=…, Signature=…" — some clients put no space after the commas.
  for (const part of text.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq === -1) {
      if (part.trim() === '') continue;
      throw malformed(s3, 'header', `"${part.trim().slice(0, 40)}" is not a name=value component.`);
    }
    const name = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (name === 'Credential') credential = v;
    else if (name === 'SignedHeaders') signedHeaders = v;
    else if (name === 'Signature') signature = v;
  }
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    throw malformed(s3, 'header', 'it requires the Credential, SignedHeaders and Signature components ("AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=<hex>").');
  }
  return assemble('header', credential, signedHeaders, signature, s3);
}

interface QueryAuthParams {
  algorithm?: string;
  credential?: string;
  date?: string;
  expires?: string;
  signedHeaders?: string;
  signature?: string;
  contentSha?: string;
}

const QUERY_AUTH_FIELDS: Readonly<Record<string, keyof QueryAuthParams>> = {
  'X-Amz-Algorithm': 'algorithm',
  'X-Amz-Credential': 'credential',
  'X-Amz-Date': 'date',
  'X-Amz-Expires': 'expires',
  'X-Amz-SignedHeaders': 'signedHeaders',
  'X-Amz-Signature': 'signature',
  'X-Amz-Content-Sha256': 'contentSha',
};

function queryAuthParams(query: string, s3: boolean): QueryAuthParams {
  const params: QueryAuthParams = {};
  let at = 0;
  while (at <= query.length) {
    let end = query.indexOf('&', at);
    if (end === -1) end = query.length;
    if (query.startsWith('X-Amz-', at)) {
      const eq = query.indexOf('=', at);
      const nameEnd = eq === -1 || eq > end ? end : eq;
      const name = query.slice(at, nameEnd);
      if (name === 'X-Amz-Security-Token') throw sessionToken(s3, 'query');
      const field = QUERY_AUTH_FIELDS[name];
      if (field !== undefined) {
        if (params[field] !== undefined) throw malformed(s3, 'query', `the query names ${name} more than once.`);
        const value = decodeOrThrow(nameEnd === end ? '' : query.slice(nameEnd + 1, end), s3);
        params[field] = value;
      }
    }
    at = end + 1;
  }
  return params;
}

function parseQueryAuth(p: QueryAuthParams, s3: boolean): ParsedSignature {
  if (p.algorithm !== ALGORITHM) throw unsupportedAlgorithm(s3, 'query', p.algorithm ?? '');
  const missing = (['credential', 'date', 'expires', 'signedHeaders', 'signature'] as const).filter((f) => p[f] === undefined);
  if (missing.length > 0) {
    throw malformed(s3, 'query', 'a presigned URL requires X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature.');
  }
  const parsed = assemble('query', p.credential!, p.signedHeaders!, p.signature!, s3);
  if (Number.isNaN(parseBasicDate(p.date!))) throw malformed(s3, 'query', `X-Amz-Date "${p.date!.slice(0, 40)}" is not a date like 20130524T000000Z.`);
  parsed.amzDate = p.date!;
  const expires = DIGITS.test(p.expires!) ? Number(p.expires) : Number.NaN;
  if (!(expires >= 1 && expires <= MAX_EXPIRES_SECONDS)) {
    throw malformed(s3, 'query', `X-Amz-Expires must be a whole number of seconds from 1 to ${MAX_EXPIRES_SECONDS} (a week), not "${p.expires!.slice(0, 20)}".`);
  }
  parsed.expiresSeconds = expires;
  return parsed;
}

/** The parts both forms share: the credential scope and the signed header list. */
function assemble(via: 'header' | 'query', credential: string, signedHeaderList: string, signature: string, s3: boolean): ParsedSignature {
  const scope = scopeParts(credential);
  if (scope === undefined) {
    throw malformed(s3, via, `the Credential "${credential.slice(0, 120)}" is mal-formed; expecting "<access key id>/YYYYMMDD/REGION/SERVICE/aws4_request".`);
  }
  const [accessKeyId, scopeDate, region, service] = scope;
  const signedHeaders = signedHeaderNames(signedHeaderList);
  if (typeof signedHeaders === 'string') throw malformed(s3, via, signedHeaders);
  return { via, accessKeyId, amzDate: '', scopeDate, region, service, signedHeaders, signature };
}

// A client sends the same credential and header list on every request: each is split once.
const PARSE_CACHE_MAX = 1000;
const scopeCache = new Map<string, readonly [string, string, string, string]>();
const signedHeadersCache = new Map<string, readonly string[]>();
/** The list as sent, for the canonical request, by the (cached) array. */
const signedHeadersText = new WeakMap<readonly string[], string>();

function remember<V>(cache: Map<string, V>, key: string, value: V): V {
  if (cache.size >= PARSE_CACHE_MAX) cache.clear();
  cache.set(key, value);
  return value;
}

/** AKID/date/region/service/aws4_request → [AKID, date, region, service], or undefined. */
function scopeParts(credential: string): readonly [string, string, string, string] | undefined {
  const hit = scopeCache.get(credential);
  if (hit) return hit;
  const parts = credential.split('/');
  if (parts.length !== 5 || parts.some((p) => p === '') || parts[4] !== TERMINATOR) return undefined;
  return remember(scopeCache, credential, [parts[0]!, parts[1]!, parts[2]!, parts[3]!] as const);
}

/** The names, or what is wrong with the list. */
function signedHeaderNames(list: string): readonly string[] | string {
  const hit = signedHeadersCache.get(list);
  if (hit) return hit;
  const names = list.split(';');
  let host = false;
  for (const h of names) {
    if (h === '') return `SignedHeaders "${list.slice(0, 120)}" has an empty header name.`;
    if (h.toLowerCase() === 'host') host = true;
  }
  if (!host) return "'Host' must be a 'SignedHeader' in the AWS Authorization.";
  signedHeadersText.set(names, list);
  return remember(signedHeadersCache, list, Object.freeze(names));
}

function checkScope(p: ParsedSignature, expect: { service: SigV4Service; region: string }): void {
  const s3 = expect.service === 's3';
  const lead = s3 ? (p.via === 'header' ? 'The authorization header is malformed; ' : 'Error parsing the X-Amz-Credential parameter; ') : '';
  if (p.scopeDate !== p.amzDate.slice(0, 8)) {
    throw new SigV4Error('WrongScope', s3
      ? `${lead}Invalid credential date "${p.scopeDate}". Date is not the same as X-Amz-Date.`
      : `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${p.scopeDate}' != '${p.amzDate.slice(0, 8)}', from '${p.amzDate}'.`);
  }
  if (p.region !== expect.region) {
    throw new SigV4Error('WrongScope', s3
      ? `${lead}the region '${p.region}' is wrong; expecting '${expect.region}'`
      : `Credential should be scoped to a valid region: '${p.region}' is not this server's region, '${expect.region}'.`, { Region: expect.region });
  }
  if (p.service !== expect.service) {
    throw new SigV4Error('WrongScope', s3
      ? `${lead}incorrect service '${p.service}'. This endpoint belongs to 's3'.`
      : `Credential should be scoped to correct service: '${expect.service}'.`);
  }
}

function checkTime(p: ParsedSignature, nowMs: number, s3: boolean): void {
  const signedMs = parseBasicDate(p.amzDate);
  if (p.via === 'header') {
    if (Math.abs(nowMs - signedMs) <= MAX_SKEW_MS) return;
    const details = { RequestTime: p.amzDate, ServerTime: isoSeconds(nowMs) };
    if (s3) throw new SigV4Error('Skewed', 'The difference between the request time and the current time is too large.', details);
    throw new SigV4Error('Skewed', signedMs < nowMs
      ? `Signature expired: ${p.amzDate} is now earlier than ${basicDate(nowMs - MAX_SKEW_MS)} (${basicDate(nowMs)} - 15 min.)`
      : `Signature not yet current: ${p.amzDate} is still later than ${basicDate(nowMs + MAX_SKEW_MS)} (${basicDate(nowMs)} + 15 min.)`, details);
  }
  if (signedMs - nowMs > MAX_SKEW_MS) {
    throw new SigV4Error('NotYetValid', s3 ? 'Request is not valid yet' : `Signature not yet current: ${p.amzDate} is still later than ${basicDate(nowMs + MAX_SKEW_MS)} (${basicDate(nowMs)} + 15 min.)`, { ServerTime: isoSeconds(nowMs) });
  }
  const expiresMs = signedMs + p.expiresSeconds! * 1000;
  if (nowMs > expiresMs) {
    throw new SigV4Error('Expired', s3 ? 'Request has expired' : `Signature expired: ${p.amzDate} is now earlier than ${basicDate(nowMs - p.expiresSeconds! * 1000)} (${basicDate(nowMs)} - ${p.expiresSeconds} sec.)`, {
      'X-Amz-Expires': String(p.expiresSeconds), Expires: isoSeconds(expiresMs), ServerTime: isoSeconds(nowMs),
    });
  }
}

/** S3 refuses x-amz-* headers outside the signature: they change what a request does (x-amz-copy-source on a presigned PUT). */
function checkAllAmzHeadersSigned(raw: readonly string[], signed: readonly string[]): void {
  let unsigned: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length <= 6 || !name.toLowerCase().startsWith('x-amz-')) continue;
    const lower = name.toLowerCase();
    // Bound by the payload line of the canonical request anyway; S3 tolerates it unsigned.
    if (lower === 'x-amz-content-sha256' || indexOfSigned(signed, lower) !== -1) continue;
    (unsigned ??= []).push(lower);
  }
  if (unsigned) throw new SigV4Error('HeadersNotSigned', 'There were headers present in the request which were not signed', { HeadersNotSigned: unsigned.join(', ') });
}

// ---------------------------------------------------------------------------------------------
// verify

export function verifySignature(req: SignedRequest, parsed: ParsedSignature, secretAccessKey: string, payloadHash: string, service: SigV4Service): { signingKey: Buffer; scope: string; seedSignature: string } {
  const s3 = service === 's3';
  if (s3 ? !isS3PayloadHash(payloadHash) : !HEX_SHA256.test(payloadHash)) {
    // A body outside the signature is S3's choice to offer, not the other APIs'.
    throw new SigV4Error('Malformed', s3
      ? `x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or a valid sha256 value.`
      : `x-amz-content-sha256 must be the hex SHA-256 of the body, not "${payloadHash.slice(0, 40)}".`);
  }
  const { text: headersText, missing } = canonicalHeaders(req.rawHeaders, parsed.signedHeaders);
  const q = req.rawUrl.indexOf('?');
  const rawPath = q === -1 ? req.rawUrl : req.rawUrl.slice(0, q);
  const canonicalRequest = req.method + '\n'
    + (s3 ? s3CanonicalPath(rawPath) : normalizedCanonicalPath(rawPath)) + '\n'
    + (q === -1 ? '' : canonicalQuery(req.rawUrl.slice(q + 1))) + '\n'
    + headersText + '\n'
    + (signedHeadersText.get(parsed.signedHeaders) ?? parsed.signedHeaders.join(';')) + '\n'
    + payloadHash;
  const scope = `${parsed.scopeDate}/${parsed.region}/${parsed.service}/${TERMINATOR}`;
  const stringToSign = `${ALGORITHM}\n${parsed.amzDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
  const signingKey = signingKeyFor(secretAccessKey, parsed.scopeDate, parsed.region, parsed.service);
  const expected = createHmac('sha256', signingKey).update(stringToSign).digest('hex');
  if (missing !== undefined || !sameSignature(expected, parsed.signature)) {
    throw new SigV4Error('SignatureMismatch', missing === undefined ? MISMATCH : `${MISMATCH} The signed header "${missing}" is not in the request.`, {
      AWSAccessKeyId: parsed.accessKeyId, SignatureProvided: parsed.signature, StringToSign: stringToSign, CanonicalRequest: canonicalRequest,
    });
  }
  return { signingKey, scope, seedSignature: parsed.signature };
}

/** Equal-length, constant-time comparison of two hex signatures. */
export function sameSignature(expectedHex: string, providedHex: string): boolean {
  if (expectedHex.length !== providedHex.length) return false;
  return timingSafeEqual(Buffer.from(expectedHex, 'latin1'), Buffer.from(providedHex, 'latin1'));
}

const KEY_CACHE_MAX = 1000;
const keyCache = new Map<string, Buffer>();

/** HMAC chain "AWS4"+secret → date → region → service → aws4_request; four HMACs saved per request by the cache. */
function signingKeyFor(secret: string, date: string, region: string, service: string): Buffer {
  const cacheKey = `${date}\n${region}\n${service}\n${secret}`;
  let key = keyCache.get(cacheKey);
  if (key === undefined) {
    key = createHmac('sha256', 'AWS4' + secret).update(date).digest();
    key = createHmac('sha256', key).update(region).digest();
    key = createHmac('sha256', key).update(service).digest();
    key = createHmac('sha256', key).update(TERMINATOR).digest();
    // Keys change once a day; clearing the lot now and then is cheaper than tracking use.
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
    keyCache.set(cacheKey, key);
  }
  return key;
}

/** Where `name` (any case) is among the signed headers, or -1; lengths first, so most names cost no lower-casing. */
function indexOfSigned(signed: readonly string[], name: string): number {
  let lower: string | undefined;
  for (let i = 0; i < signed.length; i++) {
    const s = signed[i]!;
    if (s.length !== name.length) continue;
    if (s === name) return i;
    lower ??= name.toLowerCase();
    if (s === lower || s.toLowerCase() === lower) return i;
  }
  return -1;
}

/** `name:value\n` per signed header, in the signed order; all values of a name joined with ','. */
function canonicalHeaders(raw: readonly string[], signed: readonly string[]): { text: string; missing?: string } {
  const values: (string | undefined)[] = new Array(signed.length);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const at = indexOfSigned(signed, raw[i]!);
    if (at === -1) continue;
    const v = canonicalHeaderValue(raw[i + 1]!);
    const prev = values[at];
    values[at] = prev === undefined ? v : prev + ',' + v;
  }
  let text = '';
  let missing: string | undefined;
  for (let i = 0; i < signed.length; i++) {
    const v = values[i];
    if (v === undefined) missing ??= signed[i];
    text += signed[i]!.toLowerCase() + ':' + (v ?? '') + '\n';
  }
  return missing === undefined ? { text } : { text, missing };
}

const SPACE_RUNS = /[ \t]+/g;

/** Trimmed, runs of spaces (and tabs, as the SDK signs them) collapsed to one space. */
function canonicalHeaderValue(v: string): string {
  let clean = true;
  const n = v.length;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c === 9 || (c === 32 && (i === 0 || i === n - 1 || v.charCodeAt(i + 1) === 32 || v.charCodeAt(i + 1) === 9))) {
      clean = false;
      break;
    }
  }
  if (clean) return v;
  let out = v.replace(SPACE_RUNS, ' ');
  if (out.startsWith(' ')) out = out.slice(1);
  if (out.endsWith(' ')) out = out.slice(0, -1);
  return out;
}

/** S3: no normalization; each segment decoded and encoded once (an encoded slash stays %2F). */
function s3CanonicalPath(rawPath: string): string {
  return rawPath === '' ? '/' : recode(rawPath, true, true);
}

/** Other services: `.`, `..` and empty segments removed, then the (already encoded) path encoded again. */
function normalizedCanonicalPath(rawPath: string): string {
  if (!needsNormalizing(rawPath)) return recode(rawPath, false, true);
  const segments: string[] = [];
  for (const s of rawPath.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') segments.pop();
    else segments.push(recode(s, false, false));
  }
  if (segments.length === 0) return '/';
  return (rawPath.startsWith('/') ? '/' : '') + segments.join('/') + (rawPath.endsWith('/') ? '/' : '');
}

/** Whether a path has empty, `.` or `..` segments (or does not start with a slash). */
function needsNormalizing(path: string): boolean {
  if (path.charCodeAt(0) !== 47 /* / */) return true;
  if (path.length === 1) return false;
  for (let i = 0; i < path.length; i++) {
    if (path.charCodeAt(i) !== 47) continue;
    // The character after a slash: another slash, or the end (an empty segment), or a dot.
    const next = path.charCodeAt(i + 1);
    if (next === 47 || Number.isNaN(next) || next === 46 /* . */) return true;
  }
  return false;
}

/** Query pairs decoded then encoded, sorted by name then value; X-Amz-Signature left out (the SDKs leave it out whatever the auth form). */
function canonicalQuery(query: string): string {
  const pairs: [string, string][] = [];
  for (const piece of query.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = recode(eq === -1 ? piece : piece.slice(0, eq), true, false);
    if (name.length === 15 && name.toLowerCase() === 'x-amz-signature') continue;
    pairs.push([name, eq === -1 ? '' : recode(piece.slice(eq + 1), true, false)]);
  }
  if (pairs.length > 1) pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  let out = '';
  for (let i = 0; i < pairs.length; i++) out += (i === 0 ? '' : '&') + pairs[i]![0] + '=' + pairs[i]![1];
  return out;
}

// ---------------------------------------------------------------------------------------------
// encoding

/** 1 for the bytes AWS leaves unencoded: A-Z a-z 0-9 - . _ ~ */
const UNRESERVED = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') UNRESERVED[c.charCodeAt(0)] = 1;
/** The same, and a literal '/' (a path's separators; an encoded one is still encoded). */
const UNRESERVED_OR_SLASH = UNRESERVED.slice();
UNRESERVED_OR_SLASH[47] = 1;
const HEX = '0123456789ABCDEF';

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * AWS's URI encoding of `s`, in one pass: with `decode`, `%XX` escapes are first read as the
 * byte they stand for (so an encoded and a literal `~` come out the same, and `%2F` stays
 * `%2F`); without, `%` is a character like any other (the SDKs' second encoding). With
 * `keepSlash`, a literal `/` is kept (a whole path at once). Characters beyond ASCII are taken
 * as UTF-8. `+` is a plus, never a space. Returns `s` itself when nothing changes.
 */
function recode(s: string, decode: boolean, keepSlash: boolean): string {
  const keep = keepSlash ? UNRESERVED_OR_SLASH : UNRESERVED;
  let i = 0;
  const n = s.length;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || keep[c] !== 1) break;
  }
  if (i === n) return s;
  let out = s.slice(0, i);
  for (; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c === 37 && decode && i + 2 < n) {
      const hi = hexValue(s.charCodeAt(i + 1));
      const lo = hexValue(s.charCodeAt(i + 2));
      if (hi !== -1 && lo !== -1) {
        c = hi * 16 + lo;
        out += c < 128 && UNRESERVED[c] === 1 ? String.fromCharCode(c) : '%' + HEX[hi] + HEX[lo];
        i += 2;
        continue;
      }
    }
    if (c < 128) {
      out += keep[c] === 1 ? s[i] : '%' + HEX[c >> 4] + HEX[c & 15];
      continue;
    }
    // Non-ASCII (node refuses it in a request line, but a caller may hand us decoded text).
    const cp = s.codePointAt(i)!;
    if (cp > 0xffff) i++;
    for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) out += '%' + HEX[b >> 4] + HEX[b & 15];
  }
  return out;
}

function decodeOrThrow(s: string, s3: boolean): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    throw malformed(s3, 'query', `"${s.slice(0, 60)}" is not valid percent-encoding.`);
  }
}

function rawQuery(rawUrl: string): string | undefined {
  const q = rawUrl.indexOf('?');
  return q === -1 ? undefined : rawUrl.slice(q + 1);
}

// ---------------------------------------------------------------------------------------------
// dates

/** Milliseconds of a 20130524T000000Z date, NaN unless it is one (a real day: no 20130231). */
function parseBasicDate(s: string): number {
  if (s.length !== 16 || s.charCodeAt(8) !== 84 /* T */ || s.charCodeAt(15) !== 90 /* Z */) return Number.NaN;
  const year = digits(s, 0, 4);
  const month = digits(s, 4, 6);
  const day = digits(s, 6, 8);
  const hours = digits(s, 9, 11);
  const minutes = digits(s, 11, 13);
  const seconds = digits(s, 13, 15);
  if (!(month >= 1 && month <= 12 && day >= 1 && hours <= 23 && minutes <= 59 && seconds <= 59)) return Number.NaN;
  const ms = Date.UTC(year, month - 1, day, hours, minutes, seconds);
  // Date.UTC rolls a day past the month's end into the next month.
  return day <= 28 || new Date(ms).getUTCDate() === day ? ms : Number.NaN;
}

function digits(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return Number.NaN;
    n = n * 10 + d;
  }
  return n;
}

/** 20130524T000000Z */
function basicDate(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 13) + iso.slice(14, 16) + iso.slice(17, 19) + 'Z';
}

/** 2013-05-24T00:00:00Z, as S3 writes ServerTime and Expires. */
function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19) + 'Z';
}

// ---------------------------------------------------------------------------------------------
// errors

function malformed(s3: boolean, via: 'header' | 'query', what: string): SigV4Error {
  const lead = via === 'header'
    ? (s3 ? 'The authorization header is malformed; ' : 'The Authorization header is malformed: ')
    : (s3 ? 'Error parsing the X-Amz-* query parameters; ' : 'The presigned URL is malformed: ');
  return new SigV4Error('Malformed', lead + what);
}

function unsupportedAlgorithm(s3: boolean, via: 'header' | 'query', algorithm: string): SigV4Error {
  return new SigV4Error('Malformed', via === 'query'
    ? `X-Amz-Algorithm only supports "AWS4-HMAC-SHA256", not "${algorithm.slice(0, 40)}".`
    : s3
      ? 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.'
      : `The Authorization header uses "${algorithm.slice(0, 40)}"; this server supports only AWS4-HMAC-SHA256 (Signature Version 4).`);
}

function sessionToken(s3: boolean, via: 'header' | 'query'): SigV4Error {
  return malformed(s3, via, `${via === 'header' ? 'x-amz-security-token' : 'X-Amz-Security-Token'} is not accepted: this server has no temporary (session) credentials. Sign with a long-term access key of this server (an access key id and secret, without a session token).`);
}

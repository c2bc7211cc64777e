import { createHmac } from 'node:crypto';
import { buildQueryString } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { Sha256 } from '../cli/signed-request.js';
import { parseSignature, sha256Hex, SigV4Error, verifySignature, type SigV4Failure, type SigV4Service, type SignedRequest } from './sigv4.js';

// The reference signer is the AWS SDK's own; the request it signs is put on the wire as the
// SDK's node handler would (path as is, query from buildQueryString), and read back as node
// hands it to the server (rawUrl, rawHeaders).

const CREDS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const REGION = 'us-east-1';
const SIGNED_AT = new Date('2024-03-01T12:00:00Z');
const NOW = SIGNED_AT.getTime();

interface Input {
  method?: string;
  path: string;
  query?: Record<string, string | string[]>;
  headers?: Record<string, string>;
  body?: string;
}

function signer(service: SigV4Service, o: { region?: string; signingService?: string; credentials?: typeof CREDS & { sessionToken?: string } } = {}) {
  return new SignatureV4({ service: o.signingService ?? service, region: o.region ?? REGION, credentials: o.credentials ?? CREDS, sha256: Sha256, uriEscapePath: service !== 's3', applyChecksum: service === 's3' });
}

function httpRequest(input: Input) {
  return {
    method: input.method ?? 'POST', protocol: 'http:', hostname: 'localhost', port: 8080, path: input.path,
    query: input.query ?? {}, headers: { host: 'localhost:8080', ...input.headers } as Record<string, string>, ...(input.body !== undefined && { body: input.body }),
  };
}

/** As node receives it: the path and query as the SDK's node handler writes them, header values trimmed. */
function onTheWire(signed: { method: string; path: string; query?: Record<string, string | string[] | null>; headers: Record<string, string> }, split: Record<string, string[]> = {}): SignedRequest {
  const qs = buildQueryString(signed.query ?? {});
  const rawHeaders: string[] = [];
  for (const [name, value] of Object.entries(signed.headers)) {
    for (const v of split[name] ?? [value]) rawHeaders.push(name, v.trim());
  }
  return { method: signed.method, rawUrl: signed.path + (qs ? `?${qs}` : ''), rawHeaders };
}

async function sign(service: SigV4Service, input: Input, o: Parameters<typeof signer>[1] & { signingDate?: Date } = {}) {
  return signer(service, o).sign(httpRequest(input), { signingDate: o.signingDate ?? SIGNED_AT });
}

async function presign(service: SigV4Service, input: Input, expiresIn = 900, o: Parameters<typeof signer>[1] & { signingDate?: Date } = {}) {
  const request = httpRequest(input);
  // As S3RequestPresigner does: S3 presigned URLs leave the payload unsigned.
  if (service === 's3') request.headers = { ...request.headers, 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' };
  return signer(service, o).presign(request, { signingDate: o.signingDate ?? SIGNED_AT, expiresIn });
}

/** Parse and verify as the server would; the payload hash as each surface computes it. */
function check(service: SigV4Service, req: SignedRequest, o: { body?: string; nowMs?: number; secret?: string; region?: string } = {}) {
  const parsed = parseSignature(req, { service, region: o.region ?? REGION, nowMs: o.nowMs ?? NOW });
  if (!parsed) throw new Error('no signature found');
  const payloadHash = service === 's3' ? parsed.declaredPayloadHash! : parsed.declaredPayloadHash ?? sha256Hex(o.body ?? '');
  return { parsed, proof: verifySignature(req, parsed, o.secret ?? CREDS.secretAccessKey, payloadHash, service) };
}

function failure(fn: () => unknown): { failure: SigV4Failure; message: string; details?: Readonly<Record<string, string>> } {
  try {
    fn();
  } catch (err) {
    if (err instanceof SigV4Error) return { failure: err.failure, message: err.message, ...(err.details && { details: err.details }) };
    throw err;
  }
  throw new Error('expected a SigV4Error');
}

const sagemakerPaths = [
  '/endpoints/my-endpoint/async-invocations',
  '/endpoints/my%20endpoint/invocations',
  '/a/b%2Bc/d+e',
  '/a/%2Fslash%2F/b',
  '/a/caf%C3%A9/%E2%9C%93',
  '/a/~tilde/%21%27%28%29%2A',
  '/a/./b/../c',
  '//double//slash/',
  '/',
];

const s3Paths = [
  '/bucket',
  '/bucket/',
  '/bucket/key.txt',
  '/bucket/dir/a%20b%2Bc~d%25.txt',
  '/bucket/caf%C3%A9/%E2%9C%93%F0%9F%98%80',
  '/bucket/a%2Fb',
  '/bucket/a//b/./c/../d',
  '/bucket/%21%27%28%29%2A%40%3A%24%26%3D%2C%3B',
];

const queries: Record<string, string | string[]>[] = [
  {},
  { 'list-type': '2', prefix: 'a b/c', delimiter: '/' },
  { b: ['2', '1', '10'], a: '', 'a-b': 'x' },
  { 'x y': 'a+b c~d=e&f', 'ü': '✓', empty: '' },
  { uploads: '' },
];

describe('verifySignature accepts what the AWS SDK signs', () => {
  it.each(sagemakerPaths)('sagemaker (double-encoded, normalized path): %s', async (path) => {
    for (const query of queries) {
      const body = '{"hello":"world"}';
      const signed = await sign('sagemaker', { path, query, body, headers: { 'content-type': 'application/json', 'x-amzn-sagemaker-custom-attributes': 'a=1' } });
      const { parsed, proof } = check('sagemaker', onTheWire(signed), { body });
      expect(parsed.via).toBe('header');
      expect(proof.scope).toBe('20240301/us-east-1/sagemaker/aws4_request');
      expect(proof.seedSignature).toBe(parsed.signature);
    }
  });

  it.each(s3Paths)('s3 (single-encoded path, payload hash declared): %s', async (path) => {
    for (const query of queries) {
      const signed = await sign('s3', { method: 'PUT', path, query, body: 'object data', headers: { 'x-amz-meta-note': 'hi' } });
      const { parsed } = check('s3', onTheWire(signed));
      expect(parsed.declaredPayloadHash).toBe(sha256Hex('object data'));
    }
  });

  it('all values of a repeated header, joined with commas; runs of spaces collapsed', async () => {
    const signed = await sign('s3', { method: 'GET', path: '/bucket/k', headers: { 'x-amz-meta-list': 'one,two', 'x-custom': '  a   b \t c  ' } });
    const wire = onTheWire(signed, { 'x-amz-meta-list': ['one', 'two'] });
    expect(wire.rawHeaders.filter((h) => h === 'x-amz-meta-list')).toHaveLength(2);
    expect(() => check('s3', wire)).not.toThrow();
  });

  it('header names in any case, and no space after the commas of Authorization', async () => {
    const signed = await sign('sagemaker', { path: '/endpoints/e/invocations', body: 'x' });
    const wire = onTheWire(signed);
    const upper = wire.rawHeaders.map((h, i) => (i % 2 === 0 ? h.replace(/^host$/, 'Host').replace(/^x-amz-date$/, 'X-Amz-Date') : h));
    const i = upper.indexOf('authorization');
    upper[i + 1] = upper[i + 1]!.replace(/, /g, ',');
    expect(() => check('sagemaker', { ...wire, rawHeaders: upper }, { body: 'x' })).not.toThrow();
  });

  it('sagemaker with x-amz-content-sha256: the declared hash is what was signed', async () => {
    const body = 'payload';
    const signed = await sign('sagemaker', { path: '/endpoints/e/invocations', body, headers: { 'x-amz-content-sha256': sha256Hex(body) } });
    const { parsed } = check('sagemaker', onTheWire(signed), { body: 'whatever: the declared hash is used' });
    expect(parsed.declaredPayloadHash).toBe(sha256Hex(body));
  });

  it('streaming payload kinds (s3)', async () => {
    for (const kind of ['UNSIGNED-PAYLOAD', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER']) {
      const signed = await sign('s3', { method: 'PUT', path: '/bucket/k', headers: { 'x-amz-content-sha256': kind, 'content-encoding': 'aws-chunked' } });
      expect(check('s3', onTheWire(signed)).parsed.declaredPayloadHash).toBe(kind);
    }
  });

  it('presigned URLs (query auth)', async () => {
    for (const query of queries) {
      const s3 = await presign('s3', { method: 'GET', path: '/bucket/dir/a%20b%2Bc', query }, 3600);
      const r = check('s3', onTheWire(s3));
      expect(r.parsed).toMatchObject({ via: 'query', expiresSeconds: 3600, declaredPayloadHash: 'UNSIGNED-PAYLOAD' });
      const sm = await presign('sagemaker', { method: 'GET', path: '/endpoints/a%20b/x', query });
      expect(check('sagemaker', onTheWire(sm)).parsed.declaredPayloadHash).toBeUndefined();
    }
  });

  it("AWS's documented S3 examples", () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const now = Date.UTC(2013, 4, 24);
    const empty = sha256Hex('');
    const auth = (signedHeaders: string, signature: string) => `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=${signedHeaders},Signature=${signature}`;
    const cases: SignedRequest[] = [
      { method: 'GET', rawUrl: '/test.txt', rawHeaders: ['Host', 'examplebucket.s3.amazonaws.com', 'Range', 'bytes=0-9', 'x-amz-content-sha256', empty, 'x-amz-date', '20130524T000000Z', 'Authorization', auth('host;range;x-amz-content-sha256;x-amz-date', 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41')] },
      { method: 'PUT', rawUrl: '/test%24file.text', rawHeaders: ['Host', 'examplebucket.s3.amazonaws.com', 'Date', 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-date', '20130524T000000Z', 'x-amz-storage-class', 'REDUCED_REDUNDANCY', 'x-amz-content-sha256', sha256Hex('Welcome to Amazon S3.'), 'Authorization', auth('date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class', '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd')] },
      { method: 'GET', rawUrl: '/?lifecycle', rawHeaders: ['Host', 'examplebucket.s3.amazonaws.com', 'x-amz-date', '20130524T000000Z', 'x-amz-content-sha256', empty, 'Authorization', auth('host;x-amz-content-sha256;x-amz-date', 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543')] },
      { method: 'GET', rawUrl: '/?max-keys=2&prefix=J', rawHeaders: ['Host', 'examplebucket.s3.amazonaws.com', 'x-amz-date', '20130524T000000Z', 'x-amz-content-sha256', empty, 'Authorization', auth('host;x-amz-content-sha256;x-amz-date', '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7')] },
      { method: 'GET', rawUrl: '/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404', rawHeaders: ['Host', 'examplebucket.s3.amazonaws.com'] },
    ];
    for (const req of cases) expect(() => check('s3', req, { nowMs: now, secret })).not.toThrow();
  });

  it('the Date header when there is no x-amz-date (string to sign in ISO 8601 basic)', () => {
    const secret = CREDS.secretAccessKey;
    const date = 'Fri, 01 Mar 2024 12:00:00 GMT';
    const canonical = ['GET', '/bucket/k', '', `date:${date}`, 'host:localhost', `x-amz-content-sha256:${sha256Hex('')}`, '', 'date;host;x-amz-content-sha256', sha256Hex('')].join('\n');
    const toSign = `AWS4-HMAC-SHA256\n20240301T120000Z\n20240301/us-east-1/s3/aws4_request\n${sha256Hex(canonical)}`;
    let key: Buffer = createHmac('sha256', `AWS4${secret}`).update('20240301').digest();
    for (const part of ['us-east-1', 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
    const signature = createHmac('sha256', key).update(toSign).digest('hex');
    const req = { method: 'GET', rawUrl: '/bucket/k', rawHeaders: ['Date', date, 'Host', 'localhost', 'x-amz-content-sha256', sha256Hex(''), 'Authorization', `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240301/us-east-1/s3/aws4_request, SignedHeaders=date;host;x-amz-content-sha256, Signature=${signature}`] };
    expect(check('s3', req).parsed.amzDate).toBe('20240301T120000Z');
  });

  it('returns the signing key the chunk chain needs, and no signature at all is undefined', async () => {
    const signed = await sign('s3', { method: 'PUT', path: '/bucket/k', body: 'x' });
    const { proof } = check('s3', onTheWire(signed));
    let key: Buffer = createHmac('sha256', `AWS4${CREDS.secretAccessKey}`).update('20240301').digest();
    for (const part of ['us-east-1', 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
    expect(proof.signingKey.equals(key)).toBe(true);
    expect(parseSignature({ method: 'GET', rawUrl: '/bucket/k?x=1', rawHeaders: ['Host', 'h'] }, { service: 's3', region: REGION, nowMs: NOW })).toBeUndefined();
  });
});

describe('verifySignature refuses a changed request', () => {
  async function tampered(service: SigV4Service, change: (r: SignedRequest) => SignedRequest, o: { body?: string; secret?: string } = {}) {
    const signed = await sign(service, { method: 'PUT', path: '/bucket/a%20b', query: { q: '1' }, body: 'data', headers: { 'x-amz-meta-a': 'v', 'content-type': 'text/plain' } });
    return failure(() => check(service, change(onTheWire(signed)), { body: o.body ?? 'data', ...(o.secret && { secret: o.secret }) }));
  }
  const header = (name: string, value: string) => (r: SignedRequest) => ({ ...r, rawHeaders: r.rawHeaders.map((h, i) => (i % 2 === 1 && r.rawHeaders[i - 1] === name ? value : h)) });

  it.each<[string, SigV4Service, (r: SignedRequest) => SignedRequest]>([
    ['a signed header', 's3', header('content-type', 'text/html')],
    ['an x-amz header', 'sagemaker', header('x-amz-meta-a', 'w')],
    ['the path', 's3', (r) => ({ ...r, rawUrl: r.rawUrl.replace('a%20b', 'a%20c') })],
    ['the path (double-encoding rule)', 'sagemaker', (r) => ({ ...r, rawUrl: r.rawUrl.replace('a%20b', 'a b') })],
    ['the query', 's3', (r) => ({ ...r, rawUrl: r.rawUrl.replace('q=1', 'q=2') })],
    ['an added query parameter', 'sagemaker', (r) => ({ ...r, rawUrl: r.rawUrl + '&x=1' })],
    ['the method', 's3', (r) => ({ ...r, method: 'POST' })],
    ['the declared payload hash', 's3', header('x-amz-content-sha256', sha256Hex('other'))],
    ['the time, same day', 's3', header('x-amz-date', '20240301T120001Z')],
  ])('%s (%s)', async (_what, service, change) => {
    expect((await tampered(service, change)).failure).toBe('SignatureMismatch');
  });

  it('the body (sagemaker hashes it) and the secret', async () => {
    expect((await tampered('sagemaker', (r) => r, { body: 'datA' })).failure).toBe('SignatureMismatch');
    expect((await tampered('sagemaker', (r) => r, { secret: 'not-the-secret' })).failure).toBe('SignatureMismatch');
  });

  it('S3 mismatch details carry the string to sign and the canonical request', async () => {
    const f = await tampered('s3', header('content-type', 'text/html'));
    expect(f.message).toBe('The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.');
    expect(f.details?.StringToSign).toMatch(/^AWS4-HMAC-SHA256\n20240301T120000Z\n20240301\/us-east-1\/s3\/aws4_request\n[0-9a-f]{64}$/);
    expect(f.details?.CanonicalRequest).toContain('PUT\n/bucket/a%20b\nq=1\ncontent-type:text/html\n');
    expect(f.details?.AWSAccessKeyId).toBe(CREDS.accessKeyId);
  });

  it('a signed header that is absent is a mismatch naming it', async () => {
    const f = await tampered('s3', (r) => ({ ...r, rawHeaders: r.rawHeaders.filter((_h, i) => r.rawHeaders[i - (i % 2)] !== 'content-type') }));
    expect(f.failure).toBe('SignatureMismatch');
    expect(f.message).toContain('"content-type"');
  });

  it('S3 refuses x-amz-* headers outside the signature (HeadersNotSigned), but not x-amz-content-sha256', async () => {
    const f = await tampered('s3', (r) => ({ ...r, rawHeaders: [...r.rawHeaders, 'X-Amz-Copy-Source', '/other/key'] }));
    expect(f).toMatchObject({ failure: 'HeadersNotSigned', details: { HeadersNotSigned: 'x-amz-copy-source' } });
    const p = await presign('s3', { method: 'PUT', path: '/bucket/k' });
    const wire = onTheWire(p);
    expect(() => check('s3', { ...wire, rawHeaders: [...wire.rawHeaders, 'x-amz-content-sha256', sha256Hex('x')] })).not.toThrow();
    expect(failure(() => check('s3', { ...wire, rawHeaders: [...wire.rawHeaders, 'x-amz-acl', 'public-read'] })).failure).toBe('HeadersNotSigned');
    // Other APIs do not have this rule: an unsigned header is simply not part of what was signed.
    const sm = onTheWire(await sign('sagemaker', { path: '/e', body: 'x' }));
    expect(() => check('sagemaker', { ...sm, rawHeaders: [...sm.rawHeaders, 'x-amz-extra', '1'] }, { body: 'x' })).not.toThrow();
  });

  it('presigned: a changed query or signature', async () => {
    const p = await presign('s3', { method: 'GET', path: '/bucket/k', query: { 'response-content-type': 'text/plain' } });
    const wire = onTheWire(p);
    expect(failure(() => check('s3', { ...wire, rawUrl: wire.rawUrl.replace('text%2Fplain', 'text%2Fhtml') })).failure).toBe('SignatureMismatch');
    expect(failure(() => check('s3', { ...wire, rawUrl: wire.rawUrl.replace(/X-Amz-Signature=[0-9a-f]/, 'X-Amz-Signature=g') })).failure).toBe('SignatureMismatch');
    expect(failure(() => check('s3', { ...wire, rawUrl: wire.rawUrl.replace('X-Amz-Expires=900', 'X-Amz-Expires=901') })).failure).toBe('SignatureMismatch');
  });

  it('a payload hash the surface does not take', async () => {
    const signed = await sign('sagemaker', { path: '/endpoints/e/invocations', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    expect(failure(() => check('sagemaker', onTheWire(signed))).failure).toBe('Malformed');
    const s3 = await sign('s3', { method: 'PUT', path: '/b/k', headers: { 'x-amz-content-sha256': 'SOMETHING-ELSE' } });
    expect(failure(() => check('s3', onTheWire(s3))).failure).toBe('Malformed');
  });
});

describe('parseSignature: scope and time', () => {
  const MIN = 60_000;

  it.each<[SigV4Service, string]>([
    ['s3', 'The difference between the request time and the current time is too large.'],
    ['sagemaker', 'Signature expired: 20240301T120000Z is now earlier than 20240301T120001Z (20240301T121501Z - 15 min.)'],
  ])('header auth within ±15 minutes (%s)', async (service, message) => {
    const wire = onTheWire(await sign(service, { path: '/bucket/k', body: '' }));
    for (const nowMs of [NOW - 15 * MIN, NOW + 15 * MIN]) expect(() => check(service, wire, { nowMs })).not.toThrow();
    expect(failure(() => check(service, wire, { nowMs: NOW + 15 * MIN + 1000 }))).toMatchObject({ failure: 'Skewed', message, details: { RequestTime: '20240301T120000Z', ServerTime: '2024-03-01T12:15:01Z' } });
    expect(failure(() => check(service, wire, { nowMs: NOW - 15 * MIN - 1 })).failure).toBe('Skewed');
  });

  it('presigned: valid until X-Amz-Date + X-Amz-Expires, and not more than 15 minutes ahead', async () => {
    const wire = onTheWire(await presign('s3', { method: 'GET', path: '/bucket/k' }, 3600));
    expect(() => check('s3', wire, { nowMs: NOW + 3600_000 })).not.toThrow();
    expect(failure(() => check('s3', wire, { nowMs: NOW + 3600_001 }))).toMatchObject({ failure: 'Expired', message: 'Request has expired', details: { 'X-Amz-Expires': '3600', Expires: '2024-03-01T13:00:00Z' } });
    expect(() => check('s3', wire, { nowMs: NOW - 15 * MIN })).not.toThrow();
    expect(failure(() => check('s3', wire, { nowMs: NOW - 15 * MIN - 1 })).failure).toBe('NotYetValid');
  });

  it('X-Amz-Expires from 1 to 604800 seconds', async () => {
    const wire = onTheWire(await presign('s3', { method: 'GET', path: '/bucket/k' }, 900));
    for (const bad of ['0', '604801', 'abc', '-1', '1.5', '']) {
      expect(failure(() => check('s3', { ...wire, rawUrl: wire.rawUrl.replace('X-Amz-Expires=900', `X-Amz-Expires=${bad}`) })).failure).toBe('Malformed');
    }
  });

  it('wrong region, service or scope date', async () => {
    const region = onTheWire(await sign('s3', { path: '/b/k' }, { region: 'eu-west-1' }));
    expect(failure(() => check('s3', region))).toMatchObject({ failure: 'WrongScope', message: "The authorization header is malformed; the region 'eu-west-1' is wrong; expecting 'us-east-1'", details: { Region: 'us-east-1' } });
    const service = onTheWire(await sign('sagemaker', { path: '/b/k' }, { signingService: 's3' }));
    expect(failure(() => check('sagemaker', service))).toMatchObject({ failure: 'WrongScope', message: "Credential should be scoped to correct service: 'sagemaker'." });
    const ok = onTheWire(await sign('s3', { path: '/b/k' }));
    const nextDay = { ...ok, rawHeaders: ok.rawHeaders.map((h) => (h === '20240301T120000Z' ? '20240302T000100Z' : h)) };
    expect(failure(() => check('s3', nextDay, { nowMs: Date.UTC(2024, 2, 2, 0, 1) })).failure).toBe('WrongScope');
    const presigned = onTheWire(await presign('s3', { method: 'GET', path: '/b/k' }, 900, { region: 'eu-west-1' }));
    expect(failure(() => check('s3', presigned)).failure).toBe('WrongScope');
  });
});

describe('parseSignature: malformed', () => {
  const base = ['Host', 'localhost', 'x-amz-date', '20240301T120000Z', 'x-amz-content-sha256', sha256Hex('')];
  const withAuth = (value: string): SignedRequest => ({ method: 'GET', rawUrl: '/b/k', rawHeaders: [...base, 'Authorization', value] });
  const parse = (req: SignedRequest, service: SigV4Service = 's3') => parseSignature(req, { service, region: REGION, nowMs: NOW });
  const sig = 'a'.repeat(64);

  it.each([
    ['another scheme', 'Bearer abc'],
    ['Signature Version 2', 'AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg='],
    ['a missing component', `AWS4-HMAC-SHA256 Credential=AKID/20240301/us-east-1/s3/aws4_request, Signature=${sig}`],
    ['a short credential', `AWS4-HMAC-SHA256 Credential=AKID/20240301/us-east-1/s3, SignedHeaders=host, Signature=${sig}`],
    ['a wrong terminator', `AWS4-HMAC-SHA256 Credential=AKID/20240301/us-east-1/s3/aws5_request, SignedHeaders=host, Signature=${sig}`],
    ['no host among the signed headers', `AWS4-HMAC-SHA256 Credential=AKID/20240301/us-east-1/s3/aws4_request, SignedHeaders=x-amz-date, Signature=${sig}`],
    ['an empty signed header name', `AWS4-HMAC-SHA256 Credential=AKID/20240301/us-east-1/s3/aws4_request, SignedHeaders=host;;x-amz-date, Signature=${sig}`],
    ['garbage', 'AWS4-HMAC-SHA256 nonsense'],
  ])('%s', (_what, value) => {
    expect(failure(() => parse(withAuth(value))).failure).toBe('Malformed');
  });

  it('a missing or bad date', () => {
    const auth = `AWS4-HMAC-SHA256 Credential=AKID/20240301/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=${sig}`;
    expect(failure(() => parse({ method: 'GET', rawUrl: '/', rawHeaders: ['Host', 'h', 'Authorization', auth] })).message).toContain('requires a valid Date or x-amz-date header');
    for (const date of ['2024-03-01T12:00:00Z', '20240231T120000Z', '20240301T120000']) {
      expect(failure(() => parse({ method: 'GET', rawUrl: '/', rawHeaders: ['Host', 'h', 'x-amz-date', date, 'Authorization', auth] })).failure).toBe('Malformed');
    }
  });

  it('session tokens, in the header or the query', async () => {
    const temporary = { ...CREDS, sessionToken: 'FQoGZXIvYXdzE' };
    const header = onTheWire(await sign('sagemaker', { path: '/e' }, { credentials: temporary }));
    expect(failure(() => parse(header, 'sagemaker'))).toMatchObject({ failure: 'Malformed' });
    expect(failure(() => parse(header, 'sagemaker')).message).toContain('no temporary (session) credentials');
    const query = onTheWire(await presign('s3', { method: 'GET', path: '/b/k' }, 900, { credentials: temporary }));
    expect(query.rawUrl).toContain('X-Amz-Security-Token=');
    expect(failure(() => parse(query)).failure).toBe('Malformed');
  });

  it('both a header and a query signature; a bad presigned algorithm; repeated X-Amz-* parameters', async () => {
    const presigned = onTheWire(await presign('s3', { method: 'GET', path: '/b/k' }));
    const signed = onTheWire(await sign('s3', { method: 'GET', path: '/b/k' }));
    expect(failure(() => parse({ ...presigned, rawHeaders: signed.rawHeaders })).failure).toBe('Malformed');
    expect(failure(() => parse({ ...presigned, rawUrl: presigned.rawUrl.replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA1') })).failure).toBe('Malformed');
    expect(failure(() => parse({ ...presigned, rawUrl: presigned.rawUrl + '&X-Amz-Date=20240301T120000Z' })).failure).toBe('Malformed');
    expect(failure(() => parse({ ...presigned, rawUrl: presigned.rawUrl.replace(/&X-Amz-SignedHeaders=[^&]*/, '') })).failure).toBe('Malformed');
    expect(failure(() => parse({ ...presigned, rawUrl: presigned.rawUrl.replace('X-Amz-SignedHeaders=host', 'X-Amz-SignedHeaders=x-amz-date') })).failure).toBe('Malformed');
  });
});

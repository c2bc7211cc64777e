/**
 * Calls to a running server's admin API, signed with SigV4 (scope service `sagemaker`) like the
 * AWS CLI would: credentials from the SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
 * AWS_PROFILE and the shared credentials file, ...), or the --profile given.
 */
import { createHash, createHmac } from 'node:crypto';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { request, type Dispatcher } from 'undici';

type Data = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: Data) => (typeof d === 'string' ? d : d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength));

/** The checksum constructor the signer wants, on node:crypto. */
export class Sha256 {
  private readonly hash;

  constructor(secret?: Data) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }

  update(data: Data): void {
    this.hash.update(bytes(data));
  }

  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
}

export interface SignInput {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  region: string;
  service: 'sagemaker' | 's3';
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
}

/** The headers of `input` signed as the AWS SDKs sign them (S3: single-encoded path, x-amz-content-sha256). */
export async function signHeaders(input: SignInput): Promise<Record<string, string>> {
  const url = new URL(input.url);
  const s3 = input.service === 's3';
  const signer = new SignatureV4({ service: input.service, region: input.region, sha256: Sha256, credentials: input.credentials, uriEscapePath: !s3, applyChecksum: s3 });
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of url.searchParams) {
    const prev = query[name];
    query[name] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  }
  const signed = await signer.sign({
    method: input.method, protocol: url.protocol, hostname: url.hostname, ...(url.port !== '' && { port: Number(url.port) }),
    path: url.pathname, query, headers: { host: url.host, ...input.headers }, ...(input.body !== undefined && { body: input.body }),
  });
  return signed.headers;
}

export async function signedRequest(p: { method: 'GET' | 'POST'; url: string; body?: string; region: string; profile?: string }): Promise<Dispatcher.ResponseData> {
  const headers = await signHeaders({
    method: p.method, url: p.url, region: p.region, service: 'sagemaker',
    credentials: defaultProvider(p.profile === undefined ? {} : { profile: p.profile }),
    ...(p.body !== undefined && { body: p.body, headers: { 'content-type': 'application/json' } }),
  });
  return request(p.url, { method: p.method, headers, ...(p.body !== undefined && { body: p.body }) });
}

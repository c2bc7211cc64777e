/**
 * Every server the tests start accepts one root key, TEST_CREDENTIALS (given to it through
 * ASYNCINFER_ACCESS_KEY_ID / ASYNCINFER_SECRET_ACCESS_KEY); SDK clients and the AWS CLI sign with
 * it, and raw HTTP requests are signed here with the SDK's own signer.
 */
import { signHeaders } from '../../src/cli/signed-request.js';

export const TEST_CREDENTIALS = { accessKeyId: 'AKIATESTROOTKEY00001', secretAccessKey: 'test-root-secret-0123456789abcdefghij' } as const;

/** The environment that gives a server the test key. */
export const TEST_KEY_ENV = { ASYNCINFER_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId, ASYNCINFER_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey };

/** The environment that makes the AWS CLI sign with the test key. */
export const AWS_CLI_ENV = { AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey, AWS_DEFAULT_REGION: 'us-east-1', AWS_PAGER: '' };

export interface SignedInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Default `sagemaker`; `s3` for the embedded S3 API. */
  service?: 'sagemaker' | 's3';
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** `fetch`, with the request signed as an AWS SDK would sign it. */
export async function signedFetch(url: string, init: SignedInit = {}): Promise<Response> {
  const method = init.method ?? (init.body === undefined ? 'GET' : 'POST');
  const headers = await signHeaders({
    method, url, region: 'us-east-1', service: init.service ?? 'sagemaker', credentials: init.credentials ?? TEST_CREDENTIALS,
    ...(init.headers && { headers: init.headers }), ...(init.body !== undefined && { body: init.body }),
  });
  // fetch sets host itself (the same value).
  delete headers.host;
  return fetch(url, { method, headers, ...(init.body !== undefined && { body: init.body }) });
}

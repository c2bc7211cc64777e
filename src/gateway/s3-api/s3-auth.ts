/**
 * Who may call the embedded S3 API, and what each call may do: SigV4 as S3 verifies it (header
 * and presigned query signatures, a declared payload hash the body is checked against as it
 * streams, aws-chunked chunk signatures), then the caller's policy on `s3:<Action>` and the
 * bucket or object ARN. Errors carry S3's names, so the SDKs raise their usual exceptions.
 */
import type { FastifyRequest } from 'fastify';
import { ChunkSignatureChain, isS3PayloadHash, SigV4Error, denialMessage, s3Arn, signedRequestOf, type Authenticator, type Caller } from '../../auth/index.js';
import { s3Error, S3Error } from './s3-error.js';

/** What the body of an authenticated request must prove as it streams (request-body.ts). */
export interface BodyProof {
  chain?: ChunkSignatureChain;
}

export interface S3Authorization {
  /** Whether the request was signed (response-* overrides are honoured only then). */
  signed: boolean;
  /** Throws AccessDenied unless the caller may do `action` on the bucket (and key). */
  authorize(action: string, bucket?: string, key?: string): void;
  proof: BodyProof;
}


export function authenticateS3(authenticator: Authenticator, request: FastifyRequest, accountId: string): S3Authorization {
  const signedRequest = signedRequestOf(request);
  let caller: Caller | undefined;
  const proof: BodyProof = {};
  try {
    caller = authenticator.identify(signedRequest, 's3');
    if (caller) {
      const declared = caller.signature.declaredPayloadHash ?? (caller.signature.via === 'query' ? 'UNSIGNED-PAYLOAD' : undefined);
      if (declared === undefined) throw s3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256. Signed S3 requests declare the payload hash (or UNSIGNED-PAYLOAD).');
      // S3 names this InvalidArgument, before looking at the signature.
      if (!isS3PayloadHash(declared)) {
        throw s3Error('InvalidArgument', `x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER], or the SHA-256 of the body in hex; got "${declared.slice(0, 80)}".`);
      }
      const verified = authenticator.verify(signedRequest, caller, declared, 's3');
      // A hex hash is checked against the body by the checksum verifier (checksums.ts).
      if (declared.startsWith('STREAMING-AWS4-HMAC-SHA256-PAYLOAD')) {
        proof.chain = new ChunkSignatureChain(verified.signingKey, caller.signature.amzDate, verified.scope, verified.seedSignature);
      }
    }
  } catch (err) {
    throw err instanceof SigV4Error ? toS3AuthError(err, request) : err;
  }
  return {
    signed: caller !== undefined,
    proof,
    authorize(action, bucket, key) {
      const resource = s3Arn(bucket, key);
      const decision = authenticator.decide(caller, action, resource);
      if (decision !== 'allow') {
        throw s3Error('AccessDenied', denialMessage({ accountId, accessKeyId: caller?.key.accessKeyId ?? 'anonymous', action, resource, decision }));
      }
    },
  };
}

/** S3's names and statuses for each way a signature fails. */
export function toS3AuthError(err: SigV4Error, request: FastifyRequest): S3Error {
  const details = err.details ?? {};
  const presigned = request.url.includes('X-Amz-Algorithm=');
  switch (err.failure) {
    case 'MissingAuthentication':
      return s3Error('AccessDenied', 'Anonymous access is refused: sign the request with AWS Signature Version 4 and an access key of this server (docs/security.md).');
    case 'Malformed':
    case 'WrongScope':
      return new S3Error(presigned ? 'AuthorizationQueryParametersError' : 'AuthorizationHeaderMalformed', err.message, 400, pick(details, ['Region']));
    case 'Skewed':
      return new S3Error('RequestTimeTooSkewed', err.message, 403, { ...pick(details, ['RequestTime', 'ServerTime']), MaxAllowedSkewMilliseconds: '900000' });
    case 'HeadersNotSigned':
      return new S3Error('AccessDenied', err.message, 403, pick(details, ['HeadersNotSigned']));
    case 'Expired':
    case 'NotYetValid':
      return new S3Error('AccessDenied', err.message, 403, pick(details, ['X-Amz-Expires', 'Expires', 'ServerTime']));
    case 'SignatureMismatch':
      return new S3Error('SignatureDoesNotMatch', err.message, 403, pick(details, ['AWSAccessKeyId', 'StringToSign', 'CanonicalRequest']));
    case 'PayloadMismatch':
      return s3Error('XAmzContentSHA256Mismatch', err.message);
    case 'UnknownKey':
      return new S3Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', 403);
  }
}

function pick(details: Readonly<Record<string, string>>, names: string[]): Record<string, string> {
  return Object.fromEntries(names.filter((n) => details[n] !== undefined).map((n) => [n, details[n]!]));
}

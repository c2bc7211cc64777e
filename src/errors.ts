/**
 * The error catalogue. Every error the server reports on purpose is an AppError with a stable code
 * from this table; only the gateway turns one into HTTP (see gateway/aws-error.ts).
 *
 * `wireName` is the code the AWS SDKs read from `x-amzn-ErrorType`; `retryable` tells SDK users
 * (and our own callers) whether the same request may succeed later.
 */
export const ErrorCodes = {
  ValidationError: { status: 400, wireName: 'ValidationError', fault: 'client', retryable: false },
  ServiceUnavailable: { status: 503, wireName: 'ServiceUnavailable', fault: 'server', retryable: true },
  ModelError: { status: 424, wireName: 'ModelError', fault: 'client', retryable: false },
  InternalFailure: { status: 500, wireName: 'InternalFailure', fault: 'server', retryable: true },
  // The SageMaker control plane (awsJson1_1) answers every client error with status 400.
  ValidationException: { status: 400, wireName: 'ValidationException', fault: 'client', retryable: false },
  UnknownOperation: { status: 400, wireName: 'UnknownOperationException', fault: 'client', retryable: false },
  SerializationException: { status: 400, wireName: 'SerializationException', fault: 'client', retryable: false },
  ConfigInvalid: { status: 500, wireName: 'InternalFailure', fault: 'server', retryable: false },
  ObjectNotFound: { status: 404, wireName: 'NoSuchKey', fault: 'client', retryable: false },
  ObjectKeyInvalid: { status: 400, wireName: 'InvalidArgument', fault: 'client', retryable: false },
  DataDirLocked: { status: 500, wireName: 'InternalFailure', fault: 'server', retryable: false },
  // The embedded store's buckets and multipart uploads; the wire names are S3's (gateway/s3-api).
  BucketNotFound: { status: 404, wireName: 'NoSuchBucket', fault: 'client', retryable: false },
  BucketExists: { status: 409, wireName: 'BucketAlreadyOwnedByYou', fault: 'client', retryable: false },
  BucketNotEmpty: { status: 409, wireName: 'BucketNotEmpty', fault: 'client', retryable: false },
  UploadNotFound: { status: 404, wireName: 'NoSuchUpload', fault: 'client', retryable: false },
  PartInvalid: { status: 400, wireName: 'InvalidPart', fault: 'client', retryable: false },
  PartOrderInvalid: { status: 400, wireName: 'InvalidPartOrder', fault: 'client', retryable: false },
  PartTooSmall: { status: 400, wireName: 'EntityTooSmall', fault: 'client', retryable: false },
  RangeNotSatisfiable: { status: 416, wireName: 'InvalidRange', fault: 'client', retryable: false },
  DigestMismatch: { status: 400, wireName: 'BadDigest', fault: 'client', retryable: false },
  // Authentication and authorization on the SageMaker surfaces (the S3 API has its own names, s3-api/s3-auth.ts).
  MissingAuthentication: { status: 403, wireName: 'MissingAuthenticationTokenException', fault: 'client', retryable: false },
  IncompleteSignature: { status: 403, wireName: 'IncompleteSignatureException', fault: 'client', retryable: false },
  InvalidSignature: { status: 403, wireName: 'InvalidSignatureException', fault: 'client', retryable: false },
  UnrecognizedClient: { status: 403, wireName: 'UnrecognizedClientException', fault: 'client', retryable: false },
  AccessDenied: { status: 403, wireName: 'AccessDeniedException', fault: 'client', retryable: false },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class AppError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppError';
    this.code = code;
  }

  get status(): number {
    return ErrorCodes[this.code].status;
  }
}

export function isAppError(err: unknown, code?: ErrorCode): err is AppError {
  return err instanceof AppError && (code === undefined || err.code === code);
}

/** Normalises anything thrown into an Error, so logs always get a message and a stack. */
export function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

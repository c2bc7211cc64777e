/**
 * Errors of the S3 API, in S3's shape (the SDKs read `Code` as the error's name):
 *
 *   <?xml version="1.0" encoding="UTF-8"?>
 *   <Error><Code>NoSuchKey</Code><Message>…</Message><Key>k</Key><BucketName>b</BucketName>
 *     <Resource>/b/k</Resource><RequestId>…</RequestId><HostId>…</HostId></Error>
 *
 * HEAD answers carry no body (S3's, and the SDKs then name the error after the status, e.g.
 * `NotFound`). An AppError from the store keeps its message; an unexpected error is logged and
 * answered `InternalError` without a stack.
 */
import type { FastifyReply } from 'fastify';
import { AppError, ErrorCodes } from '../../errors.js';
import { xmlDocument } from './xml.js';

/** Statuses of the S3 error codes this API sends itself (the store's come from errors.ts). */
const STATUS = {
  AccessDenied: 403,
  BadDigest: 400,
  EntityTooLarge: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidDigest: 400,
  InvalidRange: 416,
  InvalidRequest: 400,
  InvalidURI: 400,
  KeyTooLongError: 400,
  MalformedXML: 400,
  MethodNotAllowed: 405,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NotImplemented: 501,
  PreconditionFailed: 412,
  XAmzContentSHA256Mismatch: 400,
} as const;

export type S3ErrorCode = keyof typeof STATUS;

export class S3Error extends Error {
  readonly status: number;

  constructor(readonly code: S3ErrorCode | string, message: string, status?: number, readonly extra: Record<string, string> = {}) {
    super(message);
    this.name = 'S3Error';
    this.status = status ?? STATUS[code as S3ErrorCode] ?? 400;
  }
}

export function s3Error(code: S3ErrorCode, message: string, extra?: Record<string, string>): S3Error {
  return new S3Error(code, message, STATUS[code], extra);
}

/** What any thrown value becomes on the wire; `undefined` for an unexpected error (logged by the caller). */
export function toS3Error(err: unknown): S3Error | undefined {
  if (err instanceof S3Error) return err;
  if (err instanceof AppError) {
    const { status, wireName } = ErrorCodes[err.code];
    return new S3Error(wireName, err.message, status);
  }
  return undefined;
}

export interface ErrorContext {
  requestId: string;
  hostId: string;
  resource: string;
  bucket?: string;
  key?: string;
  head: boolean;
}

export function sendS3Error(reply: FastifyReply, error: S3Error, ctx: ErrorContext): FastifyReply {
  reply.code(error.status);
  if (ctx.head) return reply.send();
  const fields: [string, string][] = [['Code', error.code], ['Message', error.message]];
  if (ctx.key !== undefined && (error.code === 'NoSuchKey' || error.code === 'KeyTooLongError')) fields.push(['Key', ctx.key]);
  if (ctx.bucket !== undefined && error.code.includes('Bucket')) fields.push(['BucketName', ctx.bucket]);
  fields.push(...Object.entries(error.extra));
  fields.push(['Resource', ctx.resource], ['RequestId', ctx.requestId], ['HostId', ctx.hostId]);
  return reply.header('content-type', 'application/xml').send(xmlDocument('Error', fields.map(([name, value]) => ({ [name]: value }))));
}

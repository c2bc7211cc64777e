/**
 * Which S3 operation a request is: S3 names operations by method, by whether the path names a
 * bucket or an object, and by "subresource" query parameters (`?uploads`, `?delete`, …).
 * A subresource this server does not serve is NotImplemented (501), never mistaken for a plain
 * GET or PUT of the object; other query parameters (the SDKs' `x-id`, presigned URLs'
 * `X-Amz-*`) are ignored.
 */
import {
  createBucket, deleteBucket, getBucketLocation, headBucket, listBuckets, listObjectsV1, listObjectsV2,
} from './bucket-routes.js';
import { abortMultipartUpload, completeMultipartUpload, createMultipartUpload, uploadPart } from './multipart-routes.js';
import { deleteObject, deleteObjects, getObject, headObject, putObject } from './object-routes.js';
import type { S3Operation } from './s3-call.js';
import { s3Error, type S3Error } from './s3-error.js';
import type { S3Target } from './s3-target.js';

/** S3 subresources with no handler here, named as in the S3 API reference. */
const UNSUPPORTED = [
  'accelerate', 'acl', 'analytics', 'attributes', 'cors', 'encryption', 'intelligent-tiering', 'inventory',
  'legal-hold', 'lifecycle', 'logging', 'metadataTable', 'metrics', 'notification', 'object-lock',
  'ownershipControls', 'policy', 'policyStatus', 'publicAccessBlock', 'renameObject', 'replication',
  'requestPayment', 'restore', 'retention', 'select', 'session', 'tagging', 'torrent', 'versioning',
  'versions', 'website',
];

export function selectOperation(method: string, target: S3Target): S3Operation | S3Error {
  const q = target.query;
  const unsupported = UNSUPPORTED.find((name) => q.has(name));
  if (unsupported !== undefined) {
    return s3Error('NotImplemented', `The "${unsupported}" subresource (${method} ?${unsupported}) is not implemented by this server. It serves buckets, objects, listing and multipart uploads only.`);
  }
  const versionId = q.get('versionId');
  if (versionId !== null && versionId !== 'null') {
    return s3Error('InvalidArgument', `This server does not keep object versions, so versionId "${versionId.slice(0, 100)}" cannot name one. Leave versionId out.`);
  }

  if (target.bucket === undefined) {
    if (method === 'GET') return listBuckets;
    return notAllowed(method, 'the service (/)', 'GET (ListBuckets)');
  }

  if (target.key === undefined) {
    switch (method) {
      case 'GET':
        if (q.has('location')) return getBucketLocation;
        if (q.has('uploads')) return notImplemented('ListMultipartUploads (GET ?uploads)');
        return q.get('list-type') === '2' ? listObjectsV2 : listObjectsV1;
      case 'HEAD': return headBucket;
      case 'PUT': return createBucket;
      case 'DELETE': return deleteBucket;
      case 'POST':
        if (q.has('delete')) return deleteObjects;
        return notImplemented('POST on a bucket other than DeleteObjects (?delete), such as a browser form upload,');
      default: return notAllowed(method, 'a bucket', 'GET, HEAD, PUT, DELETE or POST ?delete');
    }
  }

  const multipart = q.has('uploadId');
  switch (method) {
    case 'GET':
      if (multipart) return notImplemented('ListParts (GET ?uploadId)');
      return getObject;
    case 'HEAD': return headObject;
    case 'PUT':
      if (q.has('partNumber') || multipart) {
        if (!multipart) return s3Error('InvalidArgument', 'UploadPart needs both partNumber and uploadId; uploadId is missing.');
        return uploadPart;
      }
      return putObject;
    case 'POST':
      if (q.has('uploads')) return createMultipartUpload;
      if (multipart) return completeMultipartUpload;
      return notImplemented('POST on an object other than CreateMultipartUpload (?uploads) and CompleteMultipartUpload (?uploadId)');
    case 'DELETE': return multipart ? abortMultipartUpload : deleteObject;
    default: return notAllowed(method, 'an object', 'GET, HEAD, PUT, POST or DELETE');
  }
}

function notImplemented(what: string): S3Error {
  return s3Error('NotImplemented', `${what} is not implemented by this server. It serves buckets, objects, listing and multipart uploads only.`);
}

function notAllowed(method: string, resource: string, allowed: string): S3Error {
  return s3Error('MethodNotAllowed', `The specified method ${method} is not allowed against ${resource}. Use ${allowed}.`);
}

/**
 * The IAM action of each operation and what it acts on: the service (`*`), the bucket, or the
 * object. DeleteObjects and CopyObject check each key they touch themselves (object-routes.ts).
 */
const ACCESS = new Map<S3Operation, { action: string; on: 'service' | 'bucket' | 'object' } | 'per-key'>([
  [listBuckets, { action: 's3:ListAllMyBuckets', on: 'service' }],
  [headBucket, { action: 's3:ListBucket', on: 'bucket' }],
  [listObjectsV1, { action: 's3:ListBucket', on: 'bucket' }],
  [listObjectsV2, { action: 's3:ListBucket', on: 'bucket' }],
  [getBucketLocation, { action: 's3:GetBucketLocation', on: 'bucket' }],
  [createBucket, { action: 's3:CreateBucket', on: 'bucket' }],
  [deleteBucket, { action: 's3:DeleteBucket', on: 'bucket' }],
  [getObject, { action: 's3:GetObject', on: 'object' }],
  [headObject, { action: 's3:GetObject', on: 'object' }],
  [putObject, { action: 's3:PutObject', on: 'object' }],
  [createMultipartUpload, { action: 's3:PutObject', on: 'object' }],
  [uploadPart, { action: 's3:PutObject', on: 'object' }],
  [completeMultipartUpload, { action: 's3:PutObject', on: 'object' }],
  [abortMultipartUpload, { action: 's3:AbortMultipartUpload', on: 'object' }],
  [deleteObject, { action: 's3:DeleteObject', on: 'object' }],
  [deleteObjects, 'per-key'],
]);

/** Checks the caller may run `operation` on `target`; an operation missing from the table is refused (fail closed). */
export function authorizeOperation(operation: S3Operation, target: S3Target, authorize: (action: string, bucket?: string, key?: string) => void): void {
  const access = ACCESS.get(operation);
  if (access === 'per-key') return;
  if (!access) return authorize('s3:*', target.bucket, target.key);
  authorize(access.action, access.on === 'service' ? undefined : target.bucket, access.on === 'object' ? target.key : undefined);
}

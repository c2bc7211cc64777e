export type { ObjectStore, PutOptions, StoredObject } from './object-store.js';
export type {
  BucketInfo, BucketObject, BucketPutOptions, BucketStore, ByteRange, Checksum, ChecksumAlgorithm, CompletedPart, ContentHeaders,
  ListedObject, ListOptions, ListPage, ObjectInfo, UploadOptions,
} from './bucket-store.js';
export { createFsObjectStore } from './fs/fs-object-store.js';
export { createS3ObjectStore, type S3ObjectStoreOptions } from './s3/s3-object-store.js';
export { openLocation, withOutboundPolicy } from './open-location.js';

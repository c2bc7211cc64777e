/**
 * Service and bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket,
 * GetBucketLocation, ListObjects (v1) and ListObjectsV2.
 */
import type { ListPage } from '../../storage/index.js';
import { quoted, requireBucket, type S3Call, type S3Operation } from './s3-call.js';
import { readSmallBody } from './request-body.js';
import { s3Error } from './s3-error.js';
import { S3_NAMESPACE, xmlDocument, type XmlElement } from './xml.js';

/** The one owner of everything in this store, as S3 names owners. */
export const OWNER: XmlElement[] = [{ ID: 'asyncinfer' }, { DisplayName: 'asyncinfer' }];
const MAX_KEYS = 1000;

function sendXml(call: S3Call, root: string, children: XmlElement[]) {
  return call.reply.header('content-type', 'application/xml').send(xmlDocument(root, children, S3_NAMESPACE));
}

export const listBuckets: S3Operation = async (deps, call) => {
  const prefix = call.target.query.get('prefix') ?? '';
  const buckets = (await deps.store.listBuckets()).filter((b) => b.name.startsWith(prefix));
  return sendXml(call, 'ListAllMyBucketsResult', [
    { Owner: OWNER },
    { Buckets: buckets.map((b) => ({ Bucket: [{ Name: b.name }, { CreationDate: new Date(b.createdAtMs).toISOString() }] })) },
    ...(prefix ? [{ Prefix: prefix }] : []),
  ]);
};

export const createBucket: S3Operation = async (deps, call) => {
  // A CreateBucketConfiguration (LocationConstraint) may come along; there is one location here.
  await readSmallBody(call, 64 * 1024);
  // An existing bucket is the store's BucketExists: BucketAlreadyOwnedByYou (409), as S3 answers
  // outside us-east-1 and as S3-compatible servers answer everywhere.
  await deps.store.createBucket(call.bucket);
  return call.reply.header('location', `/${call.bucket}`).send();
};

export const headBucket: S3Operation = async (deps, call) => {
  await requireBucket(deps, call.bucket);
  return call.reply.header('x-amz-bucket-region', deps.region).send();
};

export const deleteBucket: S3Operation = async (deps, call) => {
  await deps.store.deleteBucket(call.bucket);
  return call.reply.code(204).send();
};

export const getBucketLocation: S3Operation = async (deps, call) => {
  await requireBucket(deps, call.bucket);
  // S3 answers an empty LocationConstraint for us-east-1.
  const region = deps.region === 'us-east-1' ? '' : deps.region;
  return call.reply.header('content-type', 'application/xml')
    .send(`<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="${S3_NAMESPACE}">${region}</LocationConstraint>`);
};

interface ListParams {
  prefix: string;
  delimiter: string | undefined;
  maxKeys: number;
  urlEncoded: boolean;
}

function listParams(query: URLSearchParams): ListParams {
  const encoding = query.get('encoding-type');
  if (encoding !== null && encoding !== 'url') {
    throw s3Error('InvalidArgument', `Invalid Encoding Method specified in Request: encoding-type must be "url", not "${encoding.slice(0, 40)}".`);
  }
  const rawMax = query.get('max-keys');
  const maxKeys = rawMax === null ? MAX_KEYS : Number(rawMax);
  if (!/^\d+$/.test(rawMax ?? '0') || !Number.isSafeInteger(maxKeys)) {
    throw s3Error('InvalidArgument', `Provided max-keys not an integer or within integer range: "${String(rawMax).slice(0, 40)}". Give a whole number from 0 to ${MAX_KEYS}.`);
  }
  return {
    prefix: query.get('prefix') ?? '',
    delimiter: query.get('delimiter') || undefined,
    maxKeys: Math.min(maxKeys, MAX_KEYS),
    urlEncoded: encoding === 'url',
  };
}

/** `encoding-type=url`: keys percent-encoded (clients decode them), "/" kept for readability. */
function encoder(urlEncoded: boolean): (s: string) => string {
  return urlEncoded ? (s) => encodeURIComponent(s).replace(/%2F/g, '/') : (s) => s;
}

function contents(page: ListPage, encode: (s: string) => string, withOwner: boolean): XmlElement[] {
  return [
    ...page.objects.map((o) => ({
      Contents: [
        { Key: encode(o.key) }, { LastModified: new Date(o.lastModifiedMs).toISOString() }, { ETag: quoted(o.etag) },
        { Size: o.size }, ...(withOwner ? [{ Owner: OWNER }] : []), { StorageClass: 'STANDARD' },
      ],
    })),
    ...page.commonPrefixes.map((p) => ({ CommonPrefixes: [{ Prefix: encode(p) }] })),
  ];
}

export const listObjectsV2: S3Operation = async (deps, call) => {
  const { query } = call.target;
  const params = listParams(query);
  const token = query.get('continuation-token');
  let startAfter = query.get('start-after') ?? undefined;
  if (token !== null) {
    startAfter = Buffer.from(token, 'base64url').toString('utf8');
    if (token === '' || Buffer.from(startAfter).toString('base64url') !== token) {
      throw s3Error('InvalidArgument', 'The continuation token provided is incorrect. Pass the NextContinuationToken of the previous page as it is.');
    }
  }
  const page = await deps.store.list(call.bucket, {
    prefix: params.prefix, maxKeys: params.maxKeys,
    ...(params.delimiter !== undefined && { delimiter: params.delimiter }),
    ...(startAfter !== undefined && { startAfter }),
  });
  const encode = encoder(params.urlEncoded);
  const startAfterParam = query.get('start-after');
  return sendXml(call, 'ListBucketResult', [
    { Name: call.bucket },
    { Prefix: encode(params.prefix) },
    { Delimiter: params.delimiter !== undefined ? encode(params.delimiter) : undefined },
    { MaxKeys: params.maxKeys },
    { KeyCount: page.objects.length + page.commonPrefixes.length },
    { IsTruncated: page.isTruncated },
    { EncodingType: params.urlEncoded ? 'url' : undefined },
    { ContinuationToken: token ?? undefined },
    { NextContinuationToken: page.isTruncated && page.last !== undefined ? Buffer.from(page.last).toString('base64url') : undefined },
    { StartAfter: startAfterParam !== null ? encode(startAfterParam) : undefined },
    ...contents(page, encode, query.get('fetch-owner') === 'true'),
  ]);
};

export const listObjectsV1: S3Operation = async (deps, call) => {
  const { query } = call.target;
  const params = listParams(query);
  const marker = query.get('marker') ?? '';
  const page = await deps.store.list(call.bucket, {
    prefix: params.prefix, maxKeys: params.maxKeys,
    ...(params.delimiter !== undefined && { delimiter: params.delimiter }),
    ...(marker !== '' && { startAfter: marker }),
  });
  const encode = encoder(params.urlEncoded);
  return sendXml(call, 'ListBucketResult', [
    { Name: call.bucket },
    { Prefix: encode(params.prefix) },
    { Marker: encode(marker) },
    { NextMarker: page.isTruncated && page.last !== undefined ? encode(page.last) : undefined },
    { MaxKeys: params.maxKeys },
    { Delimiter: params.delimiter !== undefined ? encode(params.delimiter) : undefined },
    { IsTruncated: page.isTruncated },
    { EncodingType: params.urlEncoded ? 'url' : undefined },
    ...contents(page, encode, true),
  ]);
};

/**
 * Multipart uploads: CreateMultipartUpload (POST ?uploads), UploadPart (PUT ?partNumber&uploadId),
 * CompleteMultipartUpload (POST ?uploadId) and AbortMultipartUpload (DELETE ?uploadId). The AWS
 * CLI uses them for every file over 8 MB, the JS SDK's Upload for anything over one 5 MB part.
 */
import type { CompletedPart } from '../../storage/index.js';
import { contentMd5Of } from './checksums.js';
import { parseXml } from './parse-xml.js';
import { openUploadBody, readSmallBody } from './request-body.js';
import { checkKey, contentHeadersOf, header, quoted, requireBucket, userMetadataOf, type S3Call, type S3Operation } from './s3-call.js';
import { s3Error } from './s3-error.js';
import { S3_NAMESPACE, xmlDocument } from './xml.js';

const MAX_PART_NUMBER = 10_000;

function uploadIdOf(call: S3Call): string {
  return call.target.query.get('uploadId') ?? '';
}

export const createMultipartUpload: S3Operation = async (deps, call) => {
  const { request, reply, bucket, key } = call;
  checkKey(key);
  await requireBucket(deps, bucket);
  const contentType = header(request, 'content-type');
  const uploadId = await deps.store.createUpload({ bucket, key }, {
    ...(contentType !== undefined && { contentType }),
    metadata: userMetadataOf(request),
    headers: contentHeadersOf(request),
  });
  // Parts may carry checksums of this algorithm; each part's is checked as it arrives.
  const algorithm = header(request, 'x-amz-checksum-algorithm');
  if (algorithm !== undefined) reply.header('x-amz-checksum-algorithm', algorithm.toUpperCase());
  return reply.header('content-type', 'application/xml').send(xmlDocument('InitiateMultipartUploadResult', [
    { Bucket: bucket }, { Key: key }, { UploadId: uploadId },
  ], S3_NAMESPACE));
};

export const uploadPart: S3Operation = async (deps, call) => {
  const { request, reply, bucket, key, target } = call;
  checkKey(key);
  if (request.headers['x-amz-copy-source'] !== undefined) {
    throw s3Error('NotImplemented', 'UploadPartCopy is not implemented by this server. Copy the object with CopyObject, or upload the part\'s bytes.');
  }
  const rawNumber = target.query.get('partNumber') ?? '';
  const partNumber = Number(rawNumber);
  if (!/^\d+$/.test(rawNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
    throw s3Error('InvalidArgument', `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive, not "${rawNumber.slice(0, 20)}".`, { ArgumentName: 'partNumber', ArgumentValue: rawNumber.slice(0, 20) });
  }
  const contentMd5 = contentMd5Of(request.headers);
  const body = openUploadBody(call);
  const { etag } = await deps.store.uploadPart(uploadIdOf(call), { bucket, key }, partNumber, body.stream, {
    ...(contentMd5 !== undefined && { contentMd5 }),
  });
  reply.header('etag', quoted(etag));
  const checksum = body.checksum();
  if (checksum) reply.header(`x-amz-checksum-${checksum.algorithm.toLowerCase()}`, checksum.value);
  return reply.send();
};

export const completeMultipartUpload: S3Operation = async (deps, call) => {
  const { request, reply, bucket, key } = call;
  checkKey(key);
  const doc = parseXml(await readSmallBody(call, 4 * 1024 * 1024), 'CompleteMultipartUpload');
  const parts = ((doc.CompleteMultipartUpload as { Part?: unknown[] } | undefined)?.Part ?? []) as { PartNumber?: unknown; ETag?: unknown }[];
  const completed: CompletedPart[] = parts.map((p) => ({ partNumber: Number(p?.PartNumber), etag: String(p?.ETag ?? '').trim() }));
  if (completed.length === 0 || completed.some((p) => !Number.isInteger(p.partNumber) || p.etag === '')) {
    throw s3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema: CompleteMultipartUpload takes <CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"…"</ETag></Part>…</CompleteMultipartUpload> with at least one part.');
  }
  const { etag } = await deps.store.completeUpload(uploadIdOf(call), { bucket, key }, completed);
  const host = header(request, 'host') ?? 'localhost';
  return reply.header('content-type', 'application/xml').send(xmlDocument('CompleteMultipartUploadResult', [
    { Location: `http://${host}/${bucket}/${encodeURI(key)}` }, { Bucket: bucket }, { Key: key }, { ETag: quoted(etag) },
  ], S3_NAMESPACE));
};

export const abortMultipartUpload: S3Operation = async (deps, call) => {
  checkKey(call.key);
  await deps.store.abortUpload(uploadIdOf(call), { bucket: call.bucket, key: call.key });
  return call.reply.code(204).send();
};

/**
 * Object operations: PutObject (and CopyObject, a PUT with x-amz-copy-source), GetObject,
 * HeadObject, DeleteObject and DeleteObjects. Bodies stream between the socket and the store.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isAppError } from '../../errors.js';
import type { ObjectInfo } from '../../storage/index.js';
import { contentMd5Of } from './checksums.js';
import { parseXml } from './parse-xml.js';
import { contentRange, parseRange } from './range.js';
import { openUploadBody, readSmallBody } from './request-body.js';
import {
  checkBucketName, checkKey, contentHeadersOf, explainMissing, header, quoted, requireBucket, userMetadataOf,
  type S3ApiDeps, type S3Operation,
} from './s3-call.js';
import { S3Error, s3Error, toS3Error } from './s3-error.js';
import { S3_NAMESPACE, xmlDocument, type XmlElement } from './xml.js';

export const putObject: S3Operation = async (deps, call) => {
  const { request, reply, bucket, key } = call;
  checkKey(key);
  if (request.headers['if-none-match'] !== undefined || request.headers['if-match'] !== undefined) {
    // Ignoring them would overwrite what the client meant to protect.
    throw s3Error('NotImplemented', 'Conditional writes (If-None-Match or If-Match on a PUT) are not implemented by this server, so nothing was written. Send the request without them.');
  }
  await requireBucket(deps, bucket);
  if (request.headers['x-amz-copy-source'] !== undefined) return copyObject(deps, call);
  const contentMd5 = contentMd5Of(request.headers);
  const body = openUploadBody(call);
  const contentType = header(request, 'content-type');
  const { etag } = await deps.store.putObject({ bucket, key }, body.stream, {
    ...(contentType !== undefined && { contentType }),
    metadata: userMetadataOf(request),
    headers: contentHeadersOf(request),
    ...(contentMd5 !== undefined && { contentMd5 }),
    checksum: body.checksum,
  });
  reply.header('etag', quoted(etag));
  const checksum = body.checksum();
  if (checksum) reply.header(`x-amz-checksum-${checksum.algorithm.toLowerCase()}`, checksum.value).header('x-amz-checksum-type', 'FULL_OBJECT');
  return reply.send();
};

const copyObject: S3Operation = async (deps, call) => {
  const { request, reply, bucket, key } = call;
  const source = parseCopySource(header(request, 'x-amz-copy-source')!);
  call.auth.authorize('s3:GetObject', source.bucket, source.key);
  const directive = (header(request, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw s3Error('InvalidArgument', `Unknown metadata directive "${directive}": use COPY (keep the source's metadata) or REPLACE (take it from this request).`);
  }
  if (source.bucket === bucket && source.key === key && directive === 'COPY') {
    throw s3Error('InvalidRequest', "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata. Add x-amz-metadata-directive: REPLACE with the new metadata.");
  }
  const got = await deps.store.get(source).catch(async (err: unknown) => {
    throw await explainMissing(deps, err, source.bucket, source.key);
  });
  const replace = directive === 'REPLACE';
  const contentType = replace ? header(request, 'content-type') : got.info.contentType;
  const { etag } = await deps.store.putObject({ bucket, key }, got.body, {
    ...(contentType !== undefined && { contentType }),
    metadata: replace ? userMetadataOf(request) : got.info.metadata,
    headers: replace ? contentHeadersOf(request) : got.info.headers,
    ...(!replace && got.info.checksum && { checksum: () => got.info.checksum }),
  });
  return reply.header('content-type', 'application/xml').send(xmlDocument('CopyObjectResult', [
    { LastModified: new Date().toISOString() }, { ETag: quoted(etag) },
  ], S3_NAMESPACE));
};

/** `x-amz-copy-source`: `[/]bucket/key[?versionId=…]`, URL-encoded. */
function parseCopySource(value: string): { bucket: string; key: string } {
  const [path = ''] = value.split('?', 1);
  let decoded: string;
  try {
    decoded = decodeURIComponent(path).replace(/^\//, '');
  } catch {
    decoded = '';
  }
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) {
    throw s3Error('InvalidArgument', `Copy Source must mention the source bucket and key: sourcebucket/sourcekey, not "${value.slice(0, 100)}".`);
  }
  const source = { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1) };
  checkBucketName(source.bucket);
  checkKey(source.key);
  return source;
}

export const getObject: S3Operation = async (deps, { request, reply, target, bucket, key, auth }) => {
  checkKey(key);
  const partNumber = target.query.get('partNumber');
  if (partNumber !== null && partNumber !== '1') {
    // Objects are kept whole, so each is one part, as S3 treats an object not uploaded in parts.
    throw new S3Error('InvalidPartNumber', 'The requested partnumber is not satisfiable: objects here are one part; ask for partNumber 1 or leave it out.', 416);
  }
  const range = parseRange(header(request, 'range'));
  const got = await deps.store.get({ bucket, key }, range ? { range } : {}).catch(async (err: unknown) => {
    throw await explainMissing(deps, err, bucket, key);
  });
  const precondition = preconditionFailure(request, got.info);
  if (precondition !== undefined) {
    got.body.destroy();
    return answerPrecondition(reply, got.info, precondition);
  }
  writeObjectHeaders(request, reply, got.info, got.range === undefined, auth.signed ? target.query : undefined);
  reply.header('content-length', got.contentLength);
  if (got.range) reply.code(206).header('content-range', contentRange(got.range, got.info.contentLength));
  return reply.send(got.body);
};

export const headObject: S3Operation = async (deps, { request, reply, target, bucket, key, auth }) => {
  checkKey(key);
  const info = await deps.store.head({ bucket, key }).catch(async (err: unknown) => {
    throw await explainMissing(deps, err, bucket, key);
  });
  const precondition = preconditionFailure(request, info);
  if (precondition !== undefined) return answerPrecondition(reply, info, precondition);
  writeObjectHeaders(request, reply, info, true, auth.signed ? target.query : undefined);
  return reply.header('content-length', info.contentLength).send();
};

export const deleteObject: S3Operation = async (deps, { reply, bucket, key }) => {
  checkKey(key);
  await requireBucket(deps, bucket);
  await deleteQuietly(deps, bucket, key);
  return reply.code(204).send();
};

/** Deleting what is not there succeeds, as in S3; a key this store cannot hold is never there. */
async function deleteQuietly(deps: S3ApiDeps, bucket: string, key: string): Promise<void> {
  try {
    await deps.store.delete({ bucket, key });
  } catch (err) {
    if (!isAppError(err, 'ObjectKeyInvalid')) throw err;
  }
}

const MAX_DELETE_KEYS = 1000;

export const deleteObjects: S3Operation = async (deps, call) => {
  await requireBucket(deps, call.bucket);
  const doc = parseXml(await readSmallBody(call, 2 * 1024 * 1024), 'Delete');
  const del = doc.Delete as { Object?: { Key?: unknown }[]; Quiet?: unknown } | undefined;
  const objects = del?.Object ?? [];
  if (!del || objects.length === 0 || objects.length > MAX_DELETE_KEYS || objects.some((o) => typeof o?.Key !== 'string')) {
    throw s3Error('MalformedXML', `The XML you provided was not well-formed or did not validate against our published schema: DeleteObjects takes <Delete><Object><Key>…</Key></Object>…</Delete> with 1 to ${MAX_DELETE_KEYS} objects.`);
  }
  const quiet = String(del.Quiet ?? '').trim().toLowerCase() === 'true';
  const results: XmlElement[] = [];
  for (const object of objects) {
    const key = object.Key as string;
    try {
      checkKey(key);
      call.auth.authorize('s3:DeleteObject', call.bucket, key);
      await deleteQuietly(deps, call.bucket, key);
      if (!quiet) results.push({ Deleted: [{ Key: key }] });
    } catch (err) {
      const wire = toS3Error(err);
      if (!wire) deps.logger.error({ err, bucket: call.bucket, key }, 'DeleteObjects could not delete an object');
      results.push({ Error: [{ Key: key }, { Code: wire?.code ?? 'InternalError' }, { Message: wire?.message ?? 'The server hit an unexpected error deleting this key; it is logged. Retry.' }] });
    }
  }
  return call.reply.header('content-type', 'application/xml').send(xmlDocument('DeleteResult', results, S3_NAMESPACE));
};

const RESPONSE_OVERRIDES = {
  'response-content-type': 'content-type',
  'response-content-language': 'content-language',
  'response-expires': 'expires',
  'response-cache-control': 'cache-control',
  'response-content-disposition': 'content-disposition',
  'response-content-encoding': 'content-encoding',
} as const;

/** `overrides`: the query's response-* parameters, honoured on signed requests only (as S3 does). */
function writeObjectHeaders(request: FastifyRequest, reply: FastifyReply, info: ObjectInfo, whole: boolean, overrides: URLSearchParams | undefined): void {
  reply
    .header('content-type', info.contentType)
    .header('etag', quoted(info.etag))
    .header('last-modified', new Date(info.lastModifiedMs).toUTCString())
    .header('accept-ranges', 'bytes');
  for (const [name, value] of Object.entries(info.headers)) reply.header(name, value);
  for (const [name, value] of Object.entries(info.metadata)) reply.header(`x-amz-meta-${name}`, value);
  // The stored checksum describes the whole object only: never sent with a range.
  if (whole && info.checksum && header(request, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED') {
    reply.header(`x-amz-checksum-${info.checksum.algorithm.toLowerCase()}`, info.checksum.value).header('x-amz-checksum-type', 'FULL_OBJECT');
  }
  for (const [param, name] of Object.entries(RESPONSE_OVERRIDES)) {
    const value = overrides?.get(param) ?? null;
    if (value !== null) reply.header(name, value);
  }
}

/** RFC 9110 §13.2.2 order: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since. */
function preconditionFailure(request: FastifyRequest, info: ObjectInfo): { status: 304 | 412; condition: string } | undefined {
  const modifiedSeconds = Math.floor(info.lastModifiedMs / 1000);
  const ifMatch = header(request, 'if-match');
  const ifNoneMatch = header(request, 'if-none-match');
  const since = (name: string) => {
    const value = header(request, name);
    const ms = value === undefined ? Number.NaN : Date.parse(value);
    return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
  };
  if (ifMatch !== undefined && !etagMatches(ifMatch, info.etag)) return { status: 412, condition: 'If-Match' };
  const unmodifiedSince = since('if-unmodified-since');
  if (ifMatch === undefined && unmodifiedSince !== undefined && modifiedSeconds > unmodifiedSince) return { status: 412, condition: 'If-Unmodified-Since' };
  if (ifNoneMatch !== undefined && etagMatches(ifNoneMatch, info.etag)) return { status: 304, condition: 'If-None-Match' };
  const modifiedSince = since('if-modified-since');
  if (ifNoneMatch === undefined && modifiedSince !== undefined && modifiedSeconds <= modifiedSince) return { status: 304, condition: 'If-Modified-Since' };
  return undefined;
}

function etagMatches(list: string, etag: string): boolean {
  return list.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '');
    return tag === '*' || tag.replace(/^"|"$/g, '') === etag;
  });
}

function answerPrecondition(reply: FastifyReply, info: ObjectInfo, failure: { status: 304 | 412; condition: string }): FastifyReply {
  if (failure.status === 412) {
    throw s3Error('PreconditionFailed', `At least one of the pre-conditions you specified did not hold: ${failure.condition} (the object's ETag is ${quoted(info.etag)}, last modified ${new Date(info.lastModifiedMs).toUTCString()}).`, { Condition: failure.condition });
  }
  return reply.code(304).header('etag', quoted(info.etag)).header('last-modified', new Date(info.lastModifiedMs).toUTCString()).send();
}

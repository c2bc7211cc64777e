/**
 * An invocation as a Redis hash. What is fixed at accept time is one JSON field (`meta`), written
 * once; what changes has a field of its own for the scripts to read and write: endpoint, state,
 * attempts, seq, receivedAtMs, expiresAtMs, leaseOwner, leaseExpiresAtMs, startedAtMs,
 * finishedAtMs, failureReason, modelStatus, pendingObject and pendingOutcome (prepareOutcome).
 * The body is a binary field (dropped with the outcome);
 * it is read with Buffer replies, so its bytes round-trip exactly.
 */
import { expiresAtMs, type Invocation, type InvocationRequest, type InvocationState } from '../../domain/index.js';
import type { RedisArg } from './redis-connection.js';

type Meta = Omit<InvocationRequest, 'body'>;

/** The seven ENQUEUE arguments of one request (see queue-scripts.ts). */
export function enqueueArgs(r: InvocationRequest): RedisArg[] {
  const meta: Meta = {
    id: r.id, inferenceId: r.inferenceId, endpointName: r.endpointName, contentType: r.contentType, accept: r.accept,
    customAttributes: r.customAttributes, inputLocation: r.inputLocation, outputLocation: r.outputLocation,
    failureLocation: r.failureLocation, requestTtlSeconds: r.requestTtlSeconds,
    invocationTimeoutSeconds: r.invocationTimeoutSeconds, receivedAtMs: r.receivedAtMs,
  };
  return [
    r.id, r.endpointName, String(r.receivedAtMs), String(expiresAtMs(r)), JSON.stringify(meta),
    r.body ? '1' : '0', r.body ? asBuffer(r.body) : '',
  ];
}

/** A flat HGETALL reply ([field, value, ...], Buffers) as a map. */
export function fieldsOf(flat: readonly Buffer[]): Map<string, Buffer> {
  const fields = new Map<string, Buffer>();
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i]!.toString(), flat[i + 1]!);
  return fields;
}

export function toInvocation(fields: ReadonlyMap<string, Buffer>): Invocation {
  const text = (name: string) => fields.get(name)?.toString();
  const num = (name: string) => {
    const v = text(name);
    return v === undefined ? undefined : Number(v);
  };
  const meta = JSON.parse(text('meta') ?? '{}') as Meta;
  const inv: Invocation = { ...meta, state: text('state') as InvocationState, attempts: num('attempts') ?? 0 };
  const body = fields.get('body');
  if (body !== undefined) inv.body = body;
  const startedAtMs = num('startedAtMs');
  if (startedAtMs !== undefined) inv.startedAtMs = startedAtMs;
  const finishedAtMs = num('finishedAtMs');
  if (finishedAtMs !== undefined) inv.finishedAtMs = finishedAtMs;
  const failureReason = text('failureReason');
  if (failureReason !== undefined) inv.failureReason = failureReason;
  return inv;
}

/** A plain Uint8Array is wrapped, not copied. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

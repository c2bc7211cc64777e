/**
 * Runs one leased invocation to its outcome: read the input, `POST /invocations` to a model
 * instance, write the output or failure object, then record the final state. The object is
 * always written before the state is recorded, so a recorded outcome always has its object.
 *
 * Like SageMaker, a failure is never retried: a 4xx/5xx, a timeout or a dead instance fails the
 * invocation. Only a shutdown returns it to the queue (see Dispatcher).
 */
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { request } from 'undici';
import { expiresAtMs, parseS3Uri, type Invocation, type Outcome } from '../domain/index.js';
import { isAppError, toError } from '../errors.js';
import type { Metrics } from '../metrics/index.js';
import type { Instance } from '../models/index.js';
import type { InvocationQueue, Lease } from '../queue/index.js';
import { openLocation, type ObjectStore } from '../storage/index.js';
import { recordOutcome } from './record-outcome.js';

export interface RunDeps {
  queue: InvocationQueue;
  store: ObjectStore;
  logger: Logger;
  metrics: Metrics;
  now?: () => number;
}

/** Why a run was aborted from outside; any other abort is the invocation timeout. */
export const AbortReasons = { shutdown: 'shutdown', leaseLost: 'lease-lost' } as const;


export async function runInvocation(deps: RunDeps, lease: Lease, instance: Instance, signal: AbortSignal): Promise<void> {
  const inv = lease.invocation;
  const now = deps.now ?? Date.now;
  if ((inv.startedAtMs ?? now()) > expiresAtMs(inv)) {
    await expireInvocation(deps, lease);
    return;
  }
  const started = now();
  const timeout = AbortSignal.timeout(inv.invocationTimeoutSeconds * 1000);
  const callSignal = AbortSignal.any([signal, timeout]);
  let outcome: Outcome;
  try {
    outcome = await callModel(deps, inv, instance, callSignal);
  } catch (err) {
    if (signal.aborted) {
      if (signal.reason === AbortReasons.shutdown) await deps.queue.release(lease);
      deps.logger.info({ id: inv.id, inferenceId: inv.inferenceId, reason: signal.reason }, 'invocation interrupted; returned to the queue');
      return;
    }
    outcome = timeout.aborted
      ? { state: 'failed', failureReason: `ClientError: The model did not finish within InvocationTimeoutSeconds (${inv.invocationTimeoutSeconds} s); the invocation timed out.` }
      : failureFromError(err, inv);
    await writeFailure(deps, inv, outcome);
  }
  await recordOutcome(deps, lease, outcome, now() - started);
}

/** The expiry path: a failure object saying so, then the `expired` state. */
export async function expireInvocation(deps: RunDeps, lease: Lease): Promise<void> {
  await endWithoutModel(deps, lease, {
    state: 'expired',
    failureReason: `Request expired: it was still queued after its RequestTTLSeconds (${lease.invocation.requestTtlSeconds} s) and was never sent to the model.`,
  });
}

/** Fails every invocation still queued for an endpoint that is going away; resolves to how many. */
export async function failQueued(deps: RunDeps, endpointName: string, failureReason: string): Promise<number> {
  let failed = 0;
  for (let lease = await deps.queue.lease(endpointName, 60_000); lease; lease = await deps.queue.lease(endpointName, 60_000)) {
    await endWithoutModel(deps, lease, { state: 'failed', failureReason });
    failed++;
  }
  return failed;
}

/** An outcome decided without the model: the failure object, then the recorded state. */
async function endWithoutModel(deps: RunDeps, lease: Lease, outcome: Outcome): Promise<void> {
  await writeFailure(deps, lease.invocation, outcome);
  await recordOutcome(deps, lease, outcome, 0);
}

async function callModel(deps: RunDeps, inv: Invocation, instance: Instance, signal: AbortSignal): Promise<Outcome> {
  const input = await openInput(deps, inv, signal);
  const headers: Record<string, string> = {
    'content-type': inv.contentType ?? 'application/octet-stream',
    'x-amzn-sagemaker-inference-id': inv.inferenceId,
  };
  if (input.contentLength !== undefined) headers['content-length'] = String(input.contentLength);
  if (inv.accept !== undefined) headers.accept = inv.accept;
  if (inv.customAttributes !== undefined) headers['x-amzn-sagemaker-custom-attributes'] = inv.customAttributes;

  let res;
  try {
    // The invocation timeout is the signal; undici's own timeouts (300 s) would cut long runs short.
    res = await request(`${instance.url}/invocations`, { method: 'POST', headers, body: input.body, signal, headersTimeout: 0, bodyTimeout: 0 });
  } catch (err) {
    if (signal.aborted) throw err;
    throw new ModelUnreachable(toError(err).message, { cause: err });
  }
  if (res.headers['content-length'] === undefined) {
    await res.body.dump();
    const outcome: Outcome = {
      state: 'failed', modelStatus: res.statusCode,
      failureReason: 'ClientError: The response from the model did not specify the required Content-Length header. ' +
        'Asynchronous inference does not accept chunked responses; make the model server send Content-Length.',
    };
    await writeFailure(deps, inv, outcome);
    return outcome;
  }
  if (res.statusCode >= 200 && res.statusCode < 300) {
    await deps.store.put(parseS3Uri(inv.outputLocation)!, res.body);
    return { state: 'completed', modelStatus: res.statusCode };
  }
  const kind = res.statusCode < 500 ? 'client' : 'server';
  const where = inv.failureLocation ? `See ${inv.failureLocation} for the full response.` : 'The response was discarded: the endpoint has no S3FailurePath.';
  if (inv.failureLocation) await deps.store.put(parseS3Uri(inv.failureLocation)!, res.body);
  else await res.body.dump();
  return { state: 'failed', modelStatus: res.statusCode, failureReason: `ClientError: Received ${kind} error (${res.statusCode}) from model. ${where}` };
}

async function openInput(deps: RunDeps, inv: Invocation, signal: AbortSignal): Promise<{ body: Uint8Array | Readable; contentLength?: number }> {
  if (inv.body) return { body: inv.body, contentLength: inv.body.byteLength };
  const location = inv.inputLocation!;
  try {
    return await openLocation(deps.store, location, signal);
  } catch (err) {
    if (signal.aborted) throw err;
    throw new InputUnreadable(location, toError(err));
  }
}

class ModelUnreachable extends Error {}
class InputUnreadable extends Error {
  constructor(readonly location: string, cause: Error) {
    super(cause.message, { cause });
  }
}

function failureFromError(err: unknown, inv: Invocation): Outcome {
  if (err instanceof InputUnreadable) {
    const why = isAppError(err.cause, 'ObjectNotFound') ? 'the object does not exist' : err.message;
    return { state: 'failed', failureReason: `ClientError: Could not read the input at ${err.location}: ${why}.` };
  }
  if (err instanceof ModelUnreachable) {
    return { state: 'failed', failureReason: `ClientError: Received server error (0) from model: ${err.message}. The model instance may have crashed while processing the request.` };
  }
  return { state: 'failed', failureReason: `InternalFailure: ${toError(err).message} (inference ${inv.inferenceId})` };
}

/** Writes `{"message": reason}` to the failure location, when the endpoint has one. */
async function writeFailure(deps: RunDeps, inv: Invocation, outcome: Outcome): Promise<void> {
  if (!inv.failureLocation) return;
  try {
    await deps.store.put(parseS3Uri(inv.failureLocation)!, Buffer.from(JSON.stringify({ message: outcome.failureReason })));
  } catch (err) {
    deps.logger.error({ err, id: inv.id, location: inv.failureLocation }, 'could not write the failure object');
  }
}

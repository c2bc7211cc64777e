/**
 * Runs one leased invocation to its outcome: read the input, `POST /invocations` to a model
 * instance, write the output or failure object, then record the final state. The object is
 * always written before the state is recorded, so a recorded outcome always has its object.
 *
 * One object per invocation, output or failure, whatever crashes: before writing one (or recording
 * an outcome that has none) the run claims it with `queue.prepareOutcome` under its lease. When an
 * earlier attempt (killed before it recorded its outcome) chose the other object and that object
 * exists, its outcome is recorded instead and nothing is written; a client may already have seen it.
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
import { outcomeObject, type InvocationQueue, type Lease } from '../queue/index.js';
import { openLocation, type ObjectStore } from '../storage/index.js';
import { holdResponse, type HeldResponse } from './held-response.js';
import { putWithRetries } from './put-with-retries.js';
import { recordOutcome, withQueueRetries, type ModelResponse, type OutcomeNotifications } from './record-outcome.js';

export interface RunDeps {
  queue: InvocationQueue;
  store: ObjectStore;
  logger: Logger;
  metrics: Metrics;
  /** The variant an endpoint's metrics are labelled with. */
  variantOf: (endpointName: string) => string;
  /** Where large model responses wait while they are written. */
  spoolDir: string;
  /** How an outcome finds its endpoint's NotificationConfig; without it no events are written. */
  notifications?: OutcomeNotifications;
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
  deps.metrics.timeInBacklog.observe(labels(deps, inv), Math.max(0, (inv.startedAtMs ?? started) - inv.receivedAtMs) / 1000);
  const timeout = AbortSignal.timeout(inv.invocationTimeoutSeconds * 1000);
  const callSignal = AbortSignal.any([signal, timeout]);
  let result: Result;
  try {
    result = await callModel(deps, lease, instance, callSignal);
  } catch (err) {
    if (signal.aborted) {
      if (signal.reason === AbortReasons.shutdown) await deps.queue.release(lease);
      deps.logger.info({ id: inv.id, inferenceId: inv.inferenceId, reason: signal.reason }, 'invocation interrupted; returned to the queue');
      return;
    }
    if (err instanceof InputUnreadable) deps.metrics.requestDownloadFailures.inc(labels(deps, inv));
    result = {
      outcome: timeout.aborted
        ? { state: 'failed', failureReason: `ClientError: The model did not finish within InvocationTimeoutSeconds (${inv.invocationTimeoutSeconds} s); the invocation timed out.` }
        : failureFromError(err, inv),
    };
  }
  if (result.settled) {
    await recordOutcome(deps, lease, result.outcome, now() - started, result.response);
    return;
  }
  const claim = await claimObject(deps, lease, result.outcome);
  if (claim === 'write') {
    // A failure without an object of its own (no model answer to keep) gets one saying why.
    if (result.outcome.state !== 'completed' && result.response === undefined) await writeFailure(deps, inv, result.outcome);
    await recordOutcome(deps, lease, result.outcome, now() - started, result.response);
  } else {
    await recordOutcome(deps, lease, claim === 'lost' ? result.outcome : claim, now() - started);
  }
}

/**
 * Claims the outcome's object before it is written (see the header). 'write': go ahead. An
 * Outcome: an earlier attempt's, whose object exists; record it and write nothing. 'lost': the
 * lease was lost; write nothing (recording will find the lease gone too).
 */
async function claimObject(deps: RunDeps, lease: Lease, outcome: Outcome): Promise<'write' | 'lost' | Outcome> {
  const pending = await withQueueRetries(deps, lease, 'recording the outcome claim', () => deps.queue.prepareOutcome(lease, outcome));
  if (!pending) return 'lost';
  if (outcomeObject(pending) === outcomeObject(outcome)) return 'write';
  const inv = lease.invocation;
  const location = outcomeObject(pending) === 'output' ? inv.outputLocation : inv.failureLocation;
  if (location !== undefined && await objectExists(deps, location)) {
    deps.logger.warn({ id: inv.id, inferenceId: inv.inferenceId, location, state: pending.state },
      'an earlier attempt wrote this invocation\'s outcome object before a crash; recording its outcome, not this run\'s');
    return pending;
  }
  // The earlier attempt's object never landed: nobody saw it, this run's outcome stands.
  return (await withQueueRetries(deps, lease, 'recording the outcome claim', () => deps.queue.prepareOutcome(lease, outcome, { replace: true }))) ? 'write' : 'lost';
}

/** Whether an object exists; an error other than "not found" is thrown (the caller must not guess). */
async function objectExists(deps: RunDeps, location: string): Promise<boolean> {
  try {
    const object = await deps.store.get(parseS3Uri(location)!);
    object.body.destroy();
    return true;
  } catch (err) {
    // A key the store cannot hold was never written.
    if (isAppError(err, 'ObjectNotFound') || isAppError(err, 'ObjectKeyInvalid')) return false;
    throw err;
  }
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
  const claim = await claimObject(deps, lease, outcome);
  if (claim === 'write') await writeFailure(deps, lease.invocation, outcome);
  await recordOutcome(deps, lease, claim === 'write' || claim === 'lost' ? outcome : claim, 0);
}

async function callModel(deps: RunDeps, lease: Lease, instance: Instance, signal: AbortSignal): Promise<Result> {
  const inv = lease.invocation;
  const input = await openInput(deps, inv, signal);
  const headers: Record<string, string> = {
    'content-type': inv.contentType ?? 'application/octet-stream',
    'x-amzn-sagemaker-inference-id': inv.inferenceId,
  };
  if (input.contentLength !== undefined) headers['content-length'] = String(input.contentLength);
  if (inv.accept !== undefined) headers.accept = inv.accept;
  if (inv.customAttributes !== undefined) headers['x-amzn-sagemaker-custom-attributes'] = inv.customAttributes;

  // An input that breaks off mid-stream fails the model call; this tells that apart from the model failing.
  let inputError: Error | undefined;
  if (input.body instanceof Readable) input.body.once('error', (err) => { inputError = err; });
  let res;
  const modelStartedMs = performance.now();
  try {
    // The invocation timeout is the signal; undici's own timeouts (300 s) would cut long runs short.
    res = await request(`${instance.url}/invocations`, { method: 'POST', headers, body: input.body, signal, headersTimeout: 0, bodyTimeout: 0 });
  } catch (err) {
    if (signal.aborted) throw err;
    if (inputError) throw new InputUnreadable(inv.inputLocation ?? 'the request body', inputError);
    throw new ModelUnreachable(toError(err).message, { cause: err });
  }
  countStatus(deps, inv, res.statusCode);
  // ModelLatency ends with the last byte of the response, whatever happens to it next.
  const modelAnswered = () => deps.metrics.modelLatency.observe(labels(deps, inv), (performance.now() - modelStartedMs) / 1000);
  const contentLength = Number(res.headers['content-length']);
  if (res.headers['content-length'] === undefined || !Number.isSafeInteger(contentLength)) {
    await res.body.dump();
    modelAnswered();
    return {
      outcome: {
        state: 'failed', modelStatus: res.statusCode,
        failureReason: 'ClientError: The response from the model did not specify the required Content-Length header. ' +
          'Asynchronous inference does not accept chunked responses; make the model server send Content-Length.',
      },
    };
  }
  const contentType = headerValue(res.headers['content-type']);
  const ok = res.statusCode >= 200 && res.statusCode < 300;
  if (!ok && !inv.failureLocation) {
    await res.body.dump();
    modelAnswered();
    return { outcome: modelError(res.statusCode, 'The response was discarded: the endpoint has no S3FailurePath.'), response: { ...(contentType !== undefined && { contentType }) } };
  }
  const held = await holdResponse(res.body, contentLength, contentType, deps.spoolDir);
  modelAnswered();
  try {
    const response: ModelResponse = {
      ...(contentType !== undefined && { contentType }),
      ...(held.bytes && held.bytes.length <= NOTIFICATION_BODY_MAX_BYTES && { body: held.bytes }),
    };
    const location = ok ? inv.outputLocation : inv.failureLocation!;
    const decided: Outcome = ok ? { state: 'completed', modelStatus: res.statusCode } : modelError(res.statusCode, `See ${location} for the full response.`);
    const claim = await claimObject(deps, lease, decided);
    if (claim === 'lost') return { outcome: decided, settled: true };
    if (claim !== 'write') return { outcome: claim, settled: true };
    try {
      await writeObject(deps, inv, location, held);
    } catch (err) {
      deps.metrics.responseUploadFailures.inc(labels(deps, inv));
      deps.logger.error({ err, id: inv.id, location }, 'could not write the outcome object after every retry');
      return { outcome: { state: 'failed', modelStatus: res.statusCode, failureReason: `ClientError: Could not upload the response to ${location}: ${toError(err).message}` } };
    }
    return { outcome: decided, response, settled: true };
  } finally {
    await held.release();
  }
}

/** The most of a response a notification carries (IncludeInferenceResponseIn). */
const NOTIFICATION_BODY_MAX_BYTES = 128 * 1024;

interface Result {
  outcome: Outcome;
  response?: ModelResponse;
  /** Its object is claimed (and written, or known to exist): nothing is left but recording it. */
  settled?: boolean;
}

function modelError(status: number, where: string): Outcome {
  const kind = status < 500 ? 'client' : 'server';
  return { state: 'failed', modelStatus: status, failureReason: `ClientError: Received ${kind} error (${status}) from model. ${where}` };
}

/** Writes an outcome object with retries, timed as ResponseUploadLatency. */
async function writeObject(deps: RunDeps, inv: Invocation, location: string, held: HeldResponse): Promise<void> {
  const stopTimer = deps.metrics.responseUploadLatency.startTimer(labels(deps, inv));
  await putWithRetries(deps.store, parseS3Uri(location)!, held.open, {
    ...(held.contentType !== undefined && { contentType: held.contentType }), contentLength: held.contentLength,
  }, {
    onRetry: (err, attempt, delayMs) => deps.logger.warn({ err, id: inv.id, location, attempt, delayMs }, 'writing the outcome object failed; retrying'),
  });
  stopTimer();
}

async function openInput(deps: RunDeps, inv: Invocation, signal: AbortSignal): Promise<{ body: Uint8Array | Readable; contentLength?: number }> {
  if (inv.body) return { body: inv.body, contentLength: inv.body.byteLength };
  const location = inv.inputLocation!;
  const stopTimer = deps.metrics.requestDownloadLatency.startTimer(labels(deps, inv));
  try {
    const input = await openLocation(deps.store, location, signal);
    stopTimer();
    return input;
  } catch (err) {
    if (signal.aborted) throw err;
    throw new InputUnreadable(location, toError(err));
  }
}

function countStatus(deps: RunDeps, inv: Invocation, status: number): void {
  if (status >= 400 && status < 500) deps.metrics.invocation4xxErrors.inc(labels(deps, inv));
  else if (status >= 500 && status < 600) deps.metrics.invocation5xxErrors.inc(labels(deps, inv));
}

function labels(deps: RunDeps, inv: Invocation): { endpoint: string; variant: string } {
  return { endpoint: inv.endpointName, variant: deps.variantOf(inv.endpointName) };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
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
    const body = Buffer.from(JSON.stringify({ message: outcome.failureReason }));
    await putWithRetries(deps.store, parseS3Uri(inv.failureLocation)!, () => body, { contentType: 'application/json', contentLength: body.length });
  } catch (err) {
    deps.metrics.responseUploadFailures.inc(labels(deps, inv));
    deps.logger.error({ err, id: inv.id, location: inv.failureLocation }, 'could not write the failure object');
  }
}

/**
 * The accept path (accept → enqueue → 202): validate, resolve the endpoint, name the outcome
 * objects, enqueue durably. Returns only once the invocation is on disk.
 */
import { randomUUID } from 'node:crypto';
import { outputLocations, timeOrderedUuid, validateInvokeAsync, type RawInvokeAsync } from '../domain/index.js';
import { AppError } from '../errors.js';
import type { InvocationQueue } from '../queue/index.js';

/** What the accept path needs to know of an endpoint. */
export interface AsyncTarget {
  s3OutputPath: string;
  s3FailurePath?: string;
}

/** An endpoint as the runtime API sees it: asynchronous (with its output paths) or real-time. */
export interface RuntimeEndpoint {
  async?: AsyncTarget;
}

export interface AcceptDeps {
  queue: InvocationQueue;
  findEndpoint: (name: string) => RuntimeEndpoint | undefined;
  accountId: string;
  now?: () => number;
}

export interface Accepted {
  inferenceId: string;
  outputLocation: string;
  failureLocation?: string;
}

export async function acceptInvocation(deps: AcceptDeps, raw: RawInvokeAsync): Promise<Accepted> {
  const valid = validateInvokeAsync(raw);
  const found = deps.findEndpoint(valid.endpointName);
  if (!found) throw endpointNotFound(valid.endpointName, deps.accountId);
  const endpoint = found.async;
  if (!endpoint) {
    throw new AppError('ValidationError', `Endpoint ${valid.endpointName} is a real-time endpoint (it has no AsyncInferenceConfig): call InvokeEndpoint (POST /endpoints/${valid.endpointName}/invocations), not InvokeEndpointAsync.`);
  }
  const receivedAtMs = (deps.now ?? Date.now)();
  const id = timeOrderedUuid(receivedAtMs);
  const inferenceId = valid.inferenceId ?? randomUUID();
  const locations = outputLocations({
    id, s3OutputPath: endpoint.s3OutputPath, s3FailurePath: endpoint.s3FailurePath,
    s3OutputPathExtension: valid.s3OutputPathExtension, filename: valid.filename,
  });
  await deps.queue.enqueue({
    id, inferenceId, endpointName: valid.endpointName,
    contentType: valid.contentType, accept: valid.accept, customAttributes: valid.customAttributes,
    inputLocation: valid.inputLocation, body: valid.body,
    ...locations,
    requestTtlSeconds: valid.requestTtlSeconds, invocationTimeoutSeconds: valid.invocationTimeoutSeconds,
    receivedAtMs,
  });
  return { inferenceId, ...locations };
}

export function endpointNotFound(name: string, accountId: string): AppError {
  return new AppError('ValidationError', `Endpoint ${name} of account ${accountId} not found.`);
}

/**
 * An invocation: one accepted InvokeEndpointAsync request, from the 202 to its outcome.
 * States: queued → running → completed | failed | expired | canceled.
 */
export const InvocationStates = ['queued', 'running', 'completed', 'failed', 'expired', 'canceled'] as const;
export type InvocationState = (typeof InvocationStates)[number];
export type FinalState = Exclude<InvocationState, 'queued' | 'running'>;

/** The request as accepted: everything a worker needs to run it, fixed at accept time. */
export interface InvocationRequest {
  /** Our own id; also the `{uuid}` of the default output name (SageMaker keeps the two apart). */
  id: string;
  inferenceId: string;
  endpointName: string;
  contentType?: string;
  accept?: string;
  customAttributes?: string;
  /** Exactly one of inputLocation and body is set. */
  inputLocation?: string;
  body?: Uint8Array;
  outputLocation: string;
  failureLocation?: string;
  requestTtlSeconds: number;
  invocationTimeoutSeconds: number;
  receivedAtMs: number;
}

export interface Invocation extends InvocationRequest {
  state: InvocationState;
  /** How many times a worker has leased it; a crash mid-run makes this exceed 1. */
  attempts: number;
  startedAtMs?: number;
  finishedAtMs?: number;
  failureReason?: string;
}

/** What a worker records when it is done with an invocation. */
export interface Outcome {
  state: FinalState;
  failureReason?: string;
  /** Container's HTTP status, when the container answered. */
  modelStatus?: number;
}

export const DEFAULT_REQUEST_TTL_SECONDS = 21600;
export const DEFAULT_INVOCATION_TIMEOUT_SECONDS = 900;

/** The moment after which a still-queued invocation expires instead of running. */
export function expiresAtMs(req: Pick<InvocationRequest, 'receivedAtMs' | 'requestTtlSeconds'>): number {
  return req.receivedAtMs + req.requestTtlSeconds * 1000;
}

/**
 * Synchronous validation of InvokeEndpointAsync (spec §1.2, §1.4). Pure: takes what arrived on
 * the wire, returns the request's fields or throws one ValidationError naming every violation in
 * the Coral style the AWS SDKs' users know:
 *   `2 validation errors detected: Value '10' at 'requestTTLSeconds' failed to satisfy constraint: ...; ...`
 * Sensitive members (Body, CustomAttributes) never have their value echoed.
 */
import { AppError } from '../errors.js';
import { constraints, type StringRule } from './constraints.js';
import { DEFAULT_INVOCATION_TIMEOUT_SECONDS, DEFAULT_REQUEST_TTL_SECONDS } from './invocation.js';

export const MAX_BODY_BYTES = 128_000;

/** The request as it arrived: header values (undefined when absent) and the raw body. */
export interface RawInvokeAsync {
  endpointName: string;
  contentType?: string;
  accept?: string;
  customAttributes?: string;
  inferenceId?: string;
  inputLocation?: string;
  s3OutputPathExtension?: string;
  filename?: string;
  requestTtlSeconds?: string;
  invocationTimeoutSeconds?: string;
  /** An empty body means "no Body": the SDKs always send one, empty when Body is unset. */
  body: Uint8Array;
}

/** The same headers, checked; TTL and timeout as numbers with their defaults; Body only when non-empty. */
export type ValidInvokeAsync = Pick<RawInvokeAsync, 'endpointName' | StringMember> & {
  body?: Uint8Array;
  requestTtlSeconds: number;
  invocationTimeoutSeconds: number;
};

type StringMember = 'contentType' | 'accept' | 'customAttributes' | 'inferenceId' | 'inputLocation' | 's3OutputPathExtension' | 'filename';
const STRING_MEMBERS: readonly StringMember[] = ['contentType', 'accept', 'customAttributes', 'inferenceId', 'inputLocation', 's3OutputPathExtension', 'filename'];

const ASCII = { pattern: /^[\x00-\x7F]*$/, patternText: '\\p{ASCII}*' };

/** The runtime API's header rules (spec §1.2); real-time InvokeEndpoint uses the same ones. */
export const runtimeRules = {
  endpointName: { member: 'endpointName', min: 1, max: 63, pattern: /^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/, patternText: '^[a-zA-Z0-9](-*[a-zA-Z0-9])*' },
  contentType: { member: 'contentType', min: 0, max: 1024, ...ASCII },
  accept: { member: 'accept', min: 0, max: 1024, ...ASCII },
  customAttributes: { member: 'customAttributes', min: 0, max: 1024, ...ASCII, sensitive: true },
  inferenceId: { member: 'inferenceId', min: 1, max: 64, pattern: /^[\x21-\x7E][\x20-\x7E]*$/, patternText: '\\A\\S[\\p{Print}]*\\z' },
  inputLocation: { member: 'inputLocation', min: 1, max: 1024, pattern: /^(https|s3):\/\/([^/]+)\/?(.*)$/, patternText: '^(https|s3)://([^/]+)/?(.*)$' },
  s3OutputPathExtension: { member: 's3OutputPathExtension', min: 1, max: 512, pattern: /^(?!s3:|https:)[a-zA-Z0-9!_.*'()/-]+$/, patternText: "^(?!s3:|https:)[a-zA-Z0-9!_.*'()/-]+$" },
  filename: { member: 'filename', min: 1, max: 32, pattern: /^(?!.*\..*\.)[a-zA-Z0-9][a-zA-Z0-9-_.]*$/, patternText: '^(?!.*\\..*\\.)[a-zA-Z0-9][a-zA-Z0-9-_\\.]*$' },
} satisfies Record<string, StringRule & { member: string }>;

export function validateInvokeAsync(raw: RawInvokeAsync): ValidInvokeAsync {
  const c = constraints();
  // Integers arrive as header strings: one that is not a number is reported as such, not as a range.
  const integer = (member: string, value: string | undefined, min: number, max: number, fallback: number): number => {
    if (value === undefined) return fallback;
    if (!/^[+-]?\d{1,15}$/.test(value.trim())) {
      c.add(`Value '${value.slice(0, 256)}' at '${member}' failed to satisfy constraint: Member must be an integer`);
      return fallback;
    }
    const n = Number(value.trim());
    c.number(member, n, min, max);
    return n;
  };

  c.string(runtimeRules.endpointName.member, raw.endpointName, runtimeRules.endpointName);
  const valid: ValidInvokeAsync = {
    endpointName: raw.endpointName,
    requestTtlSeconds: integer('requestTTLSeconds', raw.requestTtlSeconds, 60, 21600, DEFAULT_REQUEST_TTL_SECONDS),
    invocationTimeoutSeconds: integer('invocationTimeoutSeconds', raw.invocationTimeoutSeconds, 1, 3600, DEFAULT_INVOCATION_TIMEOUT_SECONDS),
  };
  for (const key of STRING_MEMBERS) {
    const value = raw[key];
    c.string(runtimeRules[key].member, value, runtimeRules[key]);
    if (value !== undefined) valid[key] = value;
  }
  const ext = raw.s3OutputPathExtension;
  if (ext !== undefined && runtimeRules.s3OutputPathExtension.pattern.test(ext) && hasRelativeSegment(ext)) {
    c.add(`Value '${ext.slice(0, 256)}' at 's3OutputPathExtension' failed to satisfy constraint: ` +
      'Member must not have a "." or ".." path segment (the output must stay under the endpoint\'s S3OutputPath)');
  }
  if (raw.body.byteLength > MAX_BODY_BYTES) c.add(bodyTooLargeProblem());
  else if (raw.body.byteLength > 0) valid.body = raw.body;

  const problems = c.message();
  if (problems) throw new AppError('ValidationError', problems);

  if (valid.body && valid.inputLocation !== undefined) {
    throw new AppError('ValidationError',
      'Body and InputLocation cannot both be provided. Send the payload inline in the request body (at most 128000 bytes) ' +
      'or upload it to S3 and pass its URI in InputLocation (X-Amzn-SageMaker-InputLocation), not both.');
  }
  if (!valid.body && valid.inputLocation === undefined) {
    throw new AppError('ValidationError',
      'Either Body or InputLocation must be provided. Send the payload in the request body (at most 128000 bytes) ' +
      'or pass the S3 URI of the payload in InputLocation (X-Amzn-SageMaker-InputLocation).');
  }
  return valid;
}

/**
 * The model's pattern allows `.` and `..` between slashes. Joined under S3OutputPath they are path
 * tricks: the embedded store (and MinIO) can hold no such key, so the outcome could never be
 * written and the client would poll its OutputLocation forever; refused before the 202 instead.
 */
function hasRelativeSegment(path: string): boolean {
  return path.split('/').some((segment) => segment === '.' || segment === '..');
}

/** Also used by the gateway when it refuses an oversized body before reading it. */
export function bodyTooLargeError(maxBytes = MAX_BODY_BYTES): AppError {
  const c = constraints();
  c.add(bodyTooLargeProblem(maxBytes));
  return new AppError('ValidationError', c.message()!);
}

function bodyTooLargeProblem(maxBytes = MAX_BODY_BYTES): string {
  return `Value at 'body' failed to satisfy constraint: Member must have length less than or equal to ${maxBytes}`;
}

/**
 * Synchronous validation of InvokeEndpointAsync (spec §1.2, §1.4). Pure: takes what arrived on
 * the wire, returns the request's fields or throws one ValidationError naming every violation in
 * the Coral style the AWS SDKs' users know:
 *   `2 validation errors detected: Value '10' at 'requestTTLSeconds' failed to satisfy constraint: ...; ...`
 * Sensitive members (Body, CustomAttributes) never have their value echoed.
 */
import { AppError } from '../errors.js';
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

interface StringRule {
  member: string;
  min: number;
  max: number;
  pattern?: RegExp;
  /** The pattern as the service model writes it, quoted in the message. */
  patternText?: string;
  sensitive?: boolean;
}

const ASCII = { pattern: /^[\x00-\x7F]*$/, patternText: '\\p{ASCII}*' };

const rules = {
  endpointName: { member: 'endpointName', min: 1, max: 63, pattern: /^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/, patternText: '^[a-zA-Z0-9](-*[a-zA-Z0-9])*' },
  contentType: { member: 'contentType', min: 0, max: 1024, ...ASCII },
  accept: { member: 'accept', min: 0, max: 1024, ...ASCII },
  customAttributes: { member: 'customAttributes', min: 0, max: 1024, ...ASCII, sensitive: true },
  inferenceId: { member: 'inferenceId', min: 1, max: 64, pattern: /^[\x21-\x7E][\x20-\x7E]*$/, patternText: '\\A\\S[\\p{Print}]*\\z' },
  inputLocation: { member: 'inputLocation', min: 1, max: 1024, pattern: /^(https|s3):\/\/([^/]+)\/?(.*)$/, patternText: '^(https|s3)://([^/]+)/?(.*)$' },
  s3OutputPathExtension: { member: 's3OutputPathExtension', min: 1, max: 512, pattern: /^(?!s3:|https:)[a-zA-Z0-9!_.*'()/-]+$/, patternText: "^(?!s3:|https:)[a-zA-Z0-9!_.*'()/-]+$" },
  filename: { member: 'filename', min: 1, max: 32, pattern: /^(?!.*\..*\.)[a-zA-Z0-9][a-zA-Z0-9-_.]*$/, patternText: '^(?!.*\\..*\\.)[a-zA-Z0-9][a-zA-Z0-9-_\\.]*$' },
} satisfies Record<string, StringRule>;

const MAX_ECHOED_VALUE = 256;

export function validateInvokeAsync(raw: RawInvokeAsync): ValidInvokeAsync {
  const problems: string[] = [];
  const check = (rule: StringRule, value: string | undefined): string | undefined => {
    if (value === undefined) return undefined;
    const at = rule.sensitive ? `Value at '${rule.member}'` : `Value '${echo(value)}' at '${rule.member}'`;
    if (value.length < rule.min) problems.push(`${at} failed to satisfy constraint: Member must have length greater than or equal to ${rule.min}`);
    if (value.length > rule.max) problems.push(`${at} failed to satisfy constraint: Member must have length less than or equal to ${rule.max}`);
    if (rule.pattern && !rule.pattern.test(value)) {
      problems.push(`${at} failed to satisfy constraint: Member must satisfy regular expression pattern: ${rule.patternText}`);
    }
    return value;
  };
  const integer = (member: string, value: string | undefined, min: number, max: number, fallback: number): number => {
    if (value === undefined) return fallback;
    const at = `Value '${echo(value)}' at '${member}'`;
    if (!/^[+-]?\d{1,15}$/.test(value.trim())) {
      problems.push(`${at} failed to satisfy constraint: Member must be an integer`);
      return fallback;
    }
    const n = Number(value.trim());
    if (n < min) problems.push(`${at} failed to satisfy constraint: Member must have value greater than or equal to ${min}`);
    if (n > max) problems.push(`${at} failed to satisfy constraint: Member must have value less than or equal to ${max}`);
    return n;
  };

  const valid: ValidInvokeAsync = {
    endpointName: check(rules.endpointName, raw.endpointName) ?? raw.endpointName,
    requestTtlSeconds: integer('requestTTLSeconds', raw.requestTtlSeconds, 60, 21600, DEFAULT_REQUEST_TTL_SECONDS),
    invocationTimeoutSeconds: integer('invocationTimeoutSeconds', raw.invocationTimeoutSeconds, 1, 3600, DEFAULT_INVOCATION_TIMEOUT_SECONDS),
  };
  for (const key of STRING_MEMBERS) {
    const value = check(rules[key], raw[key]);
    if (value !== undefined) valid[key] = value;
  }
  if (raw.body.byteLength > MAX_BODY_BYTES) problems.push(bodyTooLargeProblem());
  else if (raw.body.byteLength > 0) valid.body = raw.body;

  if (problems.length > 0) throw constraintError(problems);

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

/** Also used by the gateway when it refuses an oversized body before reading it. */
export function bodyTooLargeError(): AppError {
  return constraintError([bodyTooLargeProblem()]);
}

function bodyTooLargeProblem(): string {
  return `Value at 'body' failed to satisfy constraint: Member must have length less than or equal to ${MAX_BODY_BYTES}`;
}

function constraintError(problems: string[]): AppError {
  const n = problems.length;
  return new AppError('ValidationError', `${n} validation error${n === 1 ? '' : 's'} detected: ${problems.join('; ')}`);
}

function echo(value: string): string {
  return value.length > MAX_ECHOED_VALUE ? `${value.slice(0, MAX_ECHOED_VALUE)}...` : value;
}

import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { MAX_BODY_BYTES, validateInvokeAsync, type RawInvokeAsync } from './validate-invoke.js';

const base: RawInvokeAsync = { endpointName: 'my-ep', body: Buffer.from('{"x":1}') };

function messageOf(raw: Partial<RawInvokeAsync>): string {
  try {
    validateInvokeAsync({ ...base, ...raw });
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('ValidationError');
    return (err as AppError).message;
  }
  throw new Error('expected a ValidationError');
}

describe('validateInvokeAsync', () => {
  it('accepts an inline body with defaults for TTL and timeout', () => {
    const v = validateInvokeAsync(base);
    expect(v.body).toEqual(base.body);
    expect(v.requestTtlSeconds).toBe(21600);
    expect(v.invocationTimeoutSeconds).toBe(900);
  });

  it('accepts InputLocation with an empty body (the SDKs always send one)', () => {
    const v = validateInvokeAsync({ ...base, body: new Uint8Array(0), inputLocation: 's3://b/in/x.json' });
    expect(v.body).toBeUndefined();
    expect(v.inputLocation).toBe('s3://b/in/x.json');
  });

  it('accepts exactly 128000 bytes and refuses 128001', () => {
    expect(validateInvokeAsync({ ...base, body: new Uint8Array(MAX_BODY_BYTES) }).body?.byteLength).toBe(MAX_BODY_BYTES);
    expect(messageOf({ body: new Uint8Array(MAX_BODY_BYTES + 1) })).toBe(
      "1 validation error detected: Value at 'body' failed to satisfy constraint: Member must have length less than or equal to 128000");
  });

  it('refuses Body together with InputLocation, and neither', () => {
    expect(messageOf({ inputLocation: 's3://b/k' })).toMatch(/^Body and InputLocation cannot both be provided/);
    expect(messageOf({ body: new Uint8Array(0) })).toMatch(/^Either Body or InputLocation must be provided/);
  });

  it.each([
    ['requestTtlSeconds', '59', "Value '59' at 'requestTTLSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"],
    ['requestTtlSeconds', '21601', "Value '21601' at 'requestTTLSeconds' failed to satisfy constraint: Member must have value less than or equal to 21600"],
    ['requestTtlSeconds', 'soon', "Value 'soon' at 'requestTTLSeconds' failed to satisfy constraint: Member must be an integer"],
    ['invocationTimeoutSeconds', '0', "Value '0' at 'invocationTimeoutSeconds' failed to satisfy constraint: Member must have value greater than or equal to 1"],
    ['invocationTimeoutSeconds', '3601', "Value '3601' at 'invocationTimeoutSeconds' failed to satisfy constraint: Member must have value less than or equal to 3600"],
    ['inferenceId', '', "Value '' at 'inferenceId' failed to satisfy constraint: Member must have length greater than or equal to 1"],
    ['inferenceId', 'x'.repeat(65), "at 'inferenceId' failed to satisfy constraint: Member must have length less than or equal to 64"],
    ['inferenceId', ' leading-space', "at 'inferenceId' failed to satisfy constraint: Member must satisfy regular expression pattern: \\A\\S[\\p{Print}]*\\z"],
    ['inferenceId', 'tab\there', "at 'inferenceId' failed to satisfy constraint: Member must satisfy regular expression pattern"],
    ['customAttributes', 'x'.repeat(1025), "Value at 'customAttributes' failed to satisfy constraint: Member must have length less than or equal to 1024"],
    ['customAttributes', 'caf\u00e9', "Value at 'customAttributes' failed to satisfy constraint: Member must satisfy regular expression pattern: \\p{ASCII}*"],
    ['contentType', 'x'.repeat(1025), "at 'contentType' failed to satisfy constraint: Member must have length less than or equal to 1024"],
    ['contentType', 'text/\u00e9', "at 'contentType' failed to satisfy constraint: Member must satisfy regular expression pattern: \\p{ASCII}*"],
    ['accept', 'x'.repeat(1025), "at 'accept' failed to satisfy constraint: Member must have length less than or equal to 1024"],
    ['accept', '\u00e9', "at 'accept' failed to satisfy constraint: Member must satisfy regular expression pattern"],
    ['s3OutputPathExtension', '', "at 's3OutputPathExtension' failed to satisfy constraint: Member must have length greater than or equal to 1"],
    ['s3OutputPathExtension', 'a'.repeat(513), "at 's3OutputPathExtension' failed to satisfy constraint: Member must have length less than or equal to 512"],
    ['s3OutputPathExtension', 's3://b/x', "at 's3OutputPathExtension' failed to satisfy constraint: Member must satisfy regular expression pattern"],
    ['s3OutputPathExtension', 'a b', "at 's3OutputPathExtension' failed to satisfy constraint: Member must satisfy regular expression pattern"],
    ['filename', '', "at 'filename' failed to satisfy constraint: Member must have length greater than or equal to 1"],
    ['filename', 'a'.repeat(33), "at 'filename' failed to satisfy constraint: Member must have length less than or equal to 32"],
    ['filename', 'a.b.c', "Value 'a.b.c' at 'filename' failed to satisfy constraint: Member must satisfy regular expression pattern"],
    ['filename', '.hidden', "at 'filename' failed to satisfy constraint: Member must satisfy regular expression pattern"],
    ['filename', '../x', "at 'filename' failed to satisfy constraint: Member must satisfy regular expression pattern"],
    ['endpointName', 'bad_name', "Value 'bad_name' at 'endpointName' failed to satisfy constraint: Member must satisfy regular expression pattern"],
    ['endpointName', 'e'.repeat(64), "at 'endpointName' failed to satisfy constraint: Member must have length less than or equal to 63"],
  ] as const)('%s = %j is refused', (field, value, expected) => {
    expect(messageOf({ [field]: value })).toContain(expected);
  });

  it.each([
    ['inputLocation', '', 'length greater than or equal to 1'],
    ['inputLocation', 'ftp://b/k', 'regular expression pattern: ^(https|s3)://([^/]+)/?(.*)$'],
    ['inputLocation', 's3:///k', 'regular expression pattern'],
    ['inputLocation', `s3://b/${'k'.repeat(1020)}`, 'length less than or equal to 1024'],
  ] as const)('inputLocation %j is refused', (_f, value, expected) => {
    expect(messageOf({ body: new Uint8Array(0), inputLocation: value })).toContain(expected);
  });

  it.each(['..', '../../other-bucket', 'a/../../b', './x', 'a/.', 'a//../b'])('refuses the path trick %j in s3OutputPathExtension', (ext) => {
    expect(messageOf({ s3OutputPathExtension: ext })).toBe(`1 validation error detected: Value '${ext}' at 's3OutputPathExtension' failed to satisfy constraint: ` +
      'Member must not have a "." or ".." path segment (the output must stay under the endpoint\'s S3OutputPath)');
  });

  it.each(['a..b/c.d', '...', '.hidden/x', 'x./y', '//'])('accepts dots that are part of a name in s3OutputPathExtension: %j', (ext) => {
    expect(validateInvokeAsync({ ...base, s3OutputPathExtension: ext }).s3OutputPathExtension).toBe(ext);
  });

  it('reports a pattern violation of s3OutputPathExtension once, not also as a path trick', () => {
    expect(messageOf({ s3OutputPathExtension: 's3:/../x' })).toMatch(/^1 validation error detected: .*regular expression pattern/);
  });

  it('reports every violation at once, counted', () => {
    const msg = messageOf({ requestTtlSeconds: '1', invocationTimeoutSeconds: '9999', filename: 'a.b.c' });
    expect(msg).toMatch(/^3 validation errors detected: /);
    expect(msg.split('; ')).toHaveLength(3);
  });

  it('accepts every bound exactly', () => {
    const v = validateInvokeAsync({
      ...base, requestTtlSeconds: '60', invocationTimeoutSeconds: '3600', inferenceId: 'x'.repeat(64),
      customAttributes: 'c'.repeat(1024), filename: 'a'.repeat(30) + '.b', s3OutputPathExtension: "a/b!_.*'()-",
    });
    expect(v.requestTtlSeconds).toBe(60);
    expect(v.invocationTimeoutSeconds).toBe(3600);
    expect(validateInvokeAsync({ ...base, requestTtlSeconds: '21600', invocationTimeoutSeconds: '1' }).requestTtlSeconds).toBe(21600);
  });

  it('never echoes the value of a sensitive member', () => {
    expect(messageOf({ customAttributes: 'secret\u00e9' })).not.toContain('secret');
  });
});

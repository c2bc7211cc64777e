/**
 * Every synchronous rejection, through the official SDK: a ValidationError the SDK parses, a
 * message that names the field and the rule, and nothing queued.
 */
import { connect } from 'node:net';
import { InvokeEndpointAsyncCommand, SageMakerRuntimeServiceException, ValidationError, type InvokeEndpointAsyncCommandInput } from '@aws-sdk/client-sagemaker-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlEndpoint, invocationRows, startServer, type ServerProcess } from './support/server.js';
import { signHeaders } from '../src/cli/signed-request.js';
import { signedFetch, TEST_CREDENTIALS } from './support/signing.js';

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer({ config: { endpoints: [controlEndpoint('ep')] } });
});

afterAll(async () => {
  await server.stop();
});

const body = Buffer.from('{"x":1}');

async function rejection(input: Partial<InvokeEndpointAsyncCommandInput>): Promise<ValidationError> {
  const before = invocationRows(server.dataDir).length;
  const err = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'ep', ...input } as InvokeEndpointAsyncCommandInput))
    .then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ValidationError);
  const v = err as ValidationError;
  expect(v.$metadata.httpStatusCode).toBe(400);
  expect(v.$fault).toBe('client');
  expect(v.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
  expect(invocationRows(server.dataDir).length).toBe(before);
  return v;
}

describe('InvokeEndpointAsync validation', () => {
  it('refuses a Body of 128001 bytes', async () => {
    const err = await rejection({ Body: Buffer.alloc(128_001) });
    expect(err.message).toBe("1 validation error detected: Value at 'body' failed to satisfy constraint: Member must have length less than or equal to 128000");
  });

  it('refuses Body with InputLocation, and neither', async () => {
    expect((await rejection({ Body: body, InputLocation: 's3://bucket/in/x' })).message).toMatch(/^Body and InputLocation cannot both be provided/);
    expect((await rejection({})).message).toMatch(/^Either Body or InputLocation must be provided/);
  });

  it('refuses an unknown endpoint the way SageMaker words it', async () => {
    expect((await rejection({ EndpointName: 'nope', Body: body })).message).toBe('Endpoint nope of account 123456789012 not found.');
  });

  it.each([
    ['RequestTTLSeconds', { RequestTTLSeconds: 59 }, "Value '59' at 'requestTTLSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"],
    ['RequestTTLSeconds', { RequestTTLSeconds: 21601 }, "Value '21601' at 'requestTTLSeconds' failed to satisfy constraint: Member must have value less than or equal to 21600"],
    ['InvocationTimeoutSeconds', { InvocationTimeoutSeconds: 0 }, "Value '0' at 'invocationTimeoutSeconds' failed to satisfy constraint: Member must have value greater than or equal to 1"],
    ['InvocationTimeoutSeconds', { InvocationTimeoutSeconds: 3601 }, "Value '3601' at 'invocationTimeoutSeconds' failed to satisfy constraint: Member must have value less than or equal to 3600"],
    ['InferenceId', { InferenceId: 'i'.repeat(65) }, "at 'inferenceId' failed to satisfy constraint: Member must have length less than or equal to 64"],
    ['InferenceId', { InferenceId: 'tab\there' }, "at 'inferenceId' failed to satisfy constraint: Member must satisfy regular expression pattern"],
    ['CustomAttributes', { CustomAttributes: 'c'.repeat(1025) }, "Value at 'customAttributes' failed to satisfy constraint: Member must have length less than or equal to 1024"],
    ['ContentType', { ContentType: 't'.repeat(1025) }, "at 'contentType' failed to satisfy constraint: Member must have length less than or equal to 1024"],
    ['Accept', { Accept: 'a'.repeat(1025) }, "at 'accept' failed to satisfy constraint: Member must have length less than or equal to 1024"],
    ['S3OutputPathExtension', { S3OutputPathExtension: 's3://bucket/x' }, "at 's3OutputPathExtension' failed to satisfy constraint: Member must satisfy regular expression pattern"],
    ['S3OutputPathExtension', { S3OutputPathExtension: 'e'.repeat(513) }, "at 's3OutputPathExtension' failed to satisfy constraint: Member must have length less than or equal to 512"],
    ['Filename', { Filename: 'a.b.c' }, "Value 'a.b.c' at 'filename' failed to satisfy constraint: Member must satisfy regular expression pattern"],
    ['Filename', { Filename: 'f'.repeat(33) }, "at 'filename' failed to satisfy constraint: Member must have length less than or equal to 32"],
    ['EndpointName', { EndpointName: 'bad_name' }, "Value 'bad_name' at 'endpointName' failed to satisfy constraint: Member must satisfy regular expression pattern"],
  ] as const)('refuses %s out of its rule: %j', async (_field, input, expected) => {
    expect((await rejection({ Body: body, ...input })).message).toContain(expected);
  });

  it.each([
    [{ InputLocation: 'ftp://bucket/k' }, 'regular expression pattern: ^(https|s3)://([^/]+)/?(.*)$'],
    [{ InputLocation: `s3://bucket/${'k'.repeat(1020)}` }, "at 'inputLocation' failed to satisfy constraint: Member must have length less than or equal to 1024"],
  ] as const)('refuses InputLocation %#', async (input, expected) => {
    expect((await rejection(input)).message).toContain(expected);
  });

  it('lists several violations in one error', async () => {
    const err = await rejection({ Body: body, RequestTTLSeconds: 1, InvocationTimeoutSeconds: 9999 });
    expect(err.message).toMatch(/^2 validation errors detected: .*requestTTLSeconds.*; .*invocationTimeoutSeconds/);
  });

  it('refuses a body far over the limit without reading it whole', async () => {
    const total = 64 * 1024 * 1024;
    const { port } = new URL(server.url);
    // Signed, so the request gets past authentication (before its body is read) to the size check.
    const headers = await signHeaders({ method: 'POST', url: 'http://localhost/endpoints/ep/async-invocations', region: 'us-east-1', service: 'sagemaker', credentials: TEST_CREDENTIALS });
    const signature = Object.entries(headers).filter(([name]) => name !== 'host').map(([name, value]) => `${name}: ${value}\r\n`).join('');
    // A raw socket, so the answer is read even though the server closes before the client is done sending.
    const result = await new Promise<{ response: string; sent: number }>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1');
      let response = '';
      let sent = 0;
      const done = () => {
        socket.destroy();
        resolve({ response, sent });
      };
      socket.on('data', (c: Buffer) => {
        response += c.toString();
        if (response.endsWith('}')) done();
      });
      socket.on('error', () => undefined);
      socket.on('close', done);
      socket.write(`POST /endpoints/ep/async-invocations HTTP/1.1\r\nHost: localhost\r\n${signature}Content-Length: ${total}\r\n\r\n`);
      const chunk = Buffer.alloc(64 * 1024);
      const pump = () => {
        while (sent < total && response === '' && !socket.destroyed) {
          sent += chunk.length;
          if (!socket.write(chunk)) {
            socket.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
    expect(result.response).toMatch(/^HTTP\/1\.1 400 /);
    expect(result.response.toLowerCase()).toContain('x-amzn-errortype: validationerror');
    expect(result.response).toContain("Value at 'body' failed to satisfy constraint: Member must have length less than or equal to 128000");
    // The answer came long before the client could push the whole 64 MB.
    expect(result.sent).toBeLessThan(total / 4);
  });

  it('puts the message in both message and Message, with the error type header and a request id', async () => {
    const res = await signedFetch(`${server.url}/endpoints/ep/async-invocations`, { method: 'POST', headers: { 'x-amzn-sagemaker-requestttlseconds': '5' }, body: '{}' });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('ValidationError');
    expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    const payload = await res.json() as Record<string, string>;
    expect(Object.keys(payload).sort()).toEqual(['Message', 'message']);
    expect(payload.Message).toBe(payload.message);
  });

  it('answers unknown paths with an AWS-shaped error', async () => {
    const err = await signedFetch(`${server.url}/endpoints/ep/nothing-here`, { method: 'POST' });
    expect(err.status).toBe(404);
    expect(err.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
    expect((await err.json() as { message: string }).message).toContain('POST /endpoints/{EndpointName}/async-invocations');
  });

  it('still serves after all of that', async () => {
    const res = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'ep', Body: body }));
    expect(res.$metadata.httpStatusCode).toBe(202);
    expect(SageMakerRuntimeServiceException).toBeDefined();
  });
});

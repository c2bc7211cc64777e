/**
 * InvokeEndpointAsync end to end with the official JS SDK: inline Body and InputLocation, what the
 * container receives, where the outputs land, and the 202 as SageMaker sends it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InvokeEndpointAsyncCommand } from '@aws-sdk/client-sagemaker-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  IRIS_MODEL, SENTIMENT_MODEL, controlEndpoint, objectFile, startServer, waitForObject, type ServerProcess,
} from './support/server.js';
import { signedFetch } from './support/signing.js';

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer({
    config: {
      endpoints: [
        controlEndpoint('control'),
        controlEndpoint('no-failure-path', {
          asyncInferenceConfig: { OutputConfig: { S3OutputPath: 's3://bucket/nofail/out/' } },
        }),
        {
          name: 'sentiment', model: { command: [process.execPath, SENTIMENT_MODEL] },
          asyncInferenceConfig: { OutputConfig: { S3OutputPath: 's3://models/sentiment/out', S3FailurePath: 's3://models/sentiment/fail' } },
        },
        {
          name: 'iris', model: { command: ['python3', IRIS_MODEL] },
          asyncInferenceConfig: { OutputConfig: { S3OutputPath: 's3://models/iris/out', S3FailurePath: 's3://models/iris/fail' } },
        },
      ],
    },
  });
}, 60_000);

afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

describe('InvokeEndpointAsync', () => {
  it('runs an inline Body on a real model and writes the output where the 202 said', async () => {
    const res = await server.client.send(new InvokeEndpointAsyncCommand({
      EndpointName: 'sentiment', ContentType: 'application/json',
      Body: Buffer.from(JSON.stringify({ text: 'I love this, it is wonderful' })),
    }));
    expect(res.$metadata.httpStatusCode).toBe(202);
    expect(res.InferenceId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.OutputLocation).toMatch(/^s3:\/\/models\/sentiment\/out\/[0-9a-f-]{36}\.out$/);
    // SageMaker names the output with its own UUID, not the InferenceId.
    expect(res.OutputLocation).not.toContain(res.InferenceId);
    const id = /([0-9a-f-]{36})\.out$/.exec(res.OutputLocation!)![1];
    expect(res.FailureLocation).toBe(`s3://models/sentiment/fail/${id}-error.out`);
    const output = JSON.parse((await waitForObject(server.dataDir, res.OutputLocation!)).toString());
    expect(output).toMatchObject({ label: 'positive' });
    expect(output.score).toBeGreaterThan(0.5);
  });

  it('reads an InputLocation from the embedded store and runs the Python model on it', async () => {
    const key = 'inputs/flowers.csv';
    mkdirSync(path.dirname(objectFile(server.dataDir, `s3://models/${key}`)), { recursive: true });
    writeFileSync(objectFile(server.dataDir, `s3://models/${key}`), '5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n5.9,3.0,4.2,1.5\n');
    const res = await server.client.send(new InvokeEndpointAsyncCommand({
      EndpointName: 'iris', ContentType: 'text/csv', Accept: 'text/csv', InputLocation: `s3://models/${key}`,
    }));
    expect(res.$metadata.httpStatusCode).toBe(202);
    const output = (await waitForObject(server.dataDir, res.OutputLocation!)).toString();
    expect(output.trim().split('\n')).toEqual(['setosa', 'virginica', 'versicolor']);
  });

  it('sends the container the bytes and the SageMaker headers, and nothing of the HTTP Content-Type', async () => {
    const body = Buffer.from([0, 1, 2, 250, 255]);
    const res = await server.client.send(new InvokeEndpointAsyncCommand({
      EndpointName: 'control', Body: body, ContentType: 'image/x-raw', Accept: 'application/json',
      CustomAttributes: 'trace=abc', InferenceId: 'my-inference-1',
    }));
    expect(res.InferenceId).toBe('my-inference-1');
    const seen = JSON.parse((await waitForObject(server.dataDir, res.OutputLocation!)).toString());
    expect(Buffer.from(seen.bodyBase64, 'base64')).toEqual(body);
    expect(seen.headers).toEqual({
      contentType: 'image/x-raw', accept: 'application/json', customAttributes: 'trace=abc',
      inferenceId: 'my-inference-1', contentLength: '5',
    });
  });

  it('sends application/octet-stream when no ContentType was given, and Content-Length for stored inputs', async () => {
    writeFileSync(objectFile(server.dataDir, 's3://models/inputs/flowers.csv'), 'x'.repeat(300_000));
    const res = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'control', InputLocation: 's3://models/inputs/flowers.csv' }));
    const seen = JSON.parse((await waitForObject(server.dataDir, res.OutputLocation!)).toString());
    expect(seen.bodyLength).toBe(300_000);
    expect(seen.headers.contentType).toBe('application/octet-stream');
    expect(seen.headers.contentLength).toBe('300000');
    expect(seen.headers.transferEncoding).toBeUndefined();
  });

  it('accepts a Body of exactly 128000 bytes', async () => {
    const res = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'control', Body: Buffer.alloc(128_000, 7) }));
    const seen = JSON.parse((await waitForObject(server.dataDir, res.OutputLocation!)).toString());
    expect(seen.bodyLength).toBe(128_000);
  });

  it('names objects with S3OutputPathExtension and Filename', async () => {
    const res = await server.client.send(new InvokeEndpointAsyncCommand({
      EndpointName: 'control', Body: Buffer.from('{}'), S3OutputPathExtension: 'day-1/batch', Filename: 'result.json',
    }));
    expect(res.OutputLocation).toBe('s3://bucket/control/out/day-1/batch/result.json');
    expect(res.FailureLocation).toBe('s3://bucket/control/fail/day-1/batch/result-error.out');
    await waitForObject(server.dataDir, res.OutputLocation!);
  });

  it('leaves FailureLocation out when the endpoint has no S3FailurePath', async () => {
    const res = await server.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'no-failure-path', Body: Buffer.from('{}') }));
    expect(res.OutputLocation).toMatch(/^s3:\/\/bucket\/nofail\/out\/[0-9a-f-]{36}\.out$/);
    expect(res.FailureLocation).toBeUndefined();
    await waitForObject(server.dataDir, res.OutputLocation!);
  });

  it('answers a raw HTTP client exactly as SageMaker does, whatever HTTP Content-Type it sends', async () => {
    const res = await signedFetch(`${server.url}/endpoints/control/async-invocations`, {
      method: 'POST', body: '{"a":1}',
      headers: { 'content-type': 'application/json', 'x-amzn-sagemaker-content-type': 'text/plain' },
    });
    expect(res.status).toBe(202);
    expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    const body = await res.json() as { InferenceId: string };
    expect(Object.keys(body)).toEqual(['InferenceId']);
    const seen = JSON.parse((await waitForObject(server.dataDir, res.headers.get('x-amzn-sagemaker-outputlocation')!)).toString());
    expect(Buffer.from(seen.bodyBase64, 'base64').toString()).toBe('{"a":1}');
    expect(seen.headers.contentType).toBe('text/plain');
  });
});

/**
 * The AWS CLI (Debian's awscli) against the server, for the InputLocation path: its botocore
 * predates inline Body, so InputLocation is the only way it can invoke.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IRIS_MODEL, objectFile, runCommand, startServer, waitForObject, type ServerProcess } from './support/server.js';
import { AWS_CLI_ENV } from './support/signing.js';

// Debian's package; a pip-installed aws earlier in PATH may be another major version.
const AWS = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws';

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer({
    config: {
      endpoints: [{
        name: 'iris', model: { command: ['python3', IRIS_MODEL] },
        asyncInferenceConfig: { OutputConfig: { S3OutputPath: 's3://cli-bucket/out', S3FailurePath: 's3://cli-bucket/fail' } },
      }],
    },
  });
});

afterAll(async () => {
  await server.stop();
});

function aws(...args: string[]) {
  const env = { ...process.env, ...AWS_CLI_ENV };
  return runCommand(AWS, [...args, '--endpoint-url', server.url, '--output', 'json'], env);
}

describe('aws sagemaker-runtime invoke-endpoint-async', () => {
  it('invokes with --input-location and the output appears where it says', async () => {
    const input = 's3://cli-bucket/in/flowers.csv';
    mkdirSync(path.dirname(objectFile(server.dataDir, input)), { recursive: true });
    writeFileSync(objectFile(server.dataDir, input), '6.7,3.0,5.2,2.3\n');
    const res = await aws('sagemaker-runtime', 'invoke-endpoint-async', '--endpoint-name', 'iris', '--input-location', input,
      '--content-type', 'text/csv', '--accept', 'text/csv', '--inference-id', 'cli-1', '--request-ttl-seconds', '600');
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as { InferenceId: string; OutputLocation: string };
    expect(out.InferenceId).toBe('cli-1');
    expect(out.OutputLocation).toMatch(/^s3:\/\/cli-bucket\/out\/[0-9a-f-]{36}\.out$/);
    // Debian's awscli 2.9 predates FailureLocation (2023-04) in its service model, so it does not print it;
    // the header itself is checked with the JS SDK in invoke-async.test.ts.
    expect((await waitForObject(server.dataDir, out.OutputLocation)).toString().trim()).toBe('virginica');
  });

  it('shows the server-side ValidationError as the CLI shows AWS errors', async () => {
    const res = await aws('sagemaker-runtime', 'invoke-endpoint-async', '--endpoint-name', 'nope', '--input-location', 's3://cli-bucket/in/x');
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('An error occurred (ValidationError) when calling the InvokeEndpointAsync operation: Endpoint nope of account 123456789012 not found.');
  });
});

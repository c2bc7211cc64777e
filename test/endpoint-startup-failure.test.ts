/**
 * An endpoint whose container never answers /ping within ContainerStartupHealthCheckTimeoutInSeconds
 * (60 s at the least, as on SageMaker) ends Failed with a FailureReason, and its instances stop.
 */
import { CreateEndpointCommand, CreateEndpointConfigCommand, CreateModelCommand, DescribeEndpointCommand, SageMakerClient, waitUntilEndpointInService } from '@aws-sdk/client-sagemaker';
import { expect, it } from 'vitest';
import { CONTROL_MODEL, isAlive, startServer, waitFor } from './support/server.js';
import { TEST_CREDENTIALS } from './support/signing.js';

it('fails the endpoint when the container misses the start-up health-check window', async () => {
  const server = await startServer({
    config: { images: { 'sick:1': { command: [process.execPath, CONTROL_MODEL], env: { PING_STATUS: '503' } } }, endpoints: [] },
    waitForReady: false,
  });
  try {
    const sm = new SageMakerClient({ endpoint: server.url, region: 'us-east-1', maxAttempts: 1, credentials: TEST_CREDENTIALS });
    await sm.send(new CreateModelCommand({ ModelName: 'sick', PrimaryContainer: { Image: 'sick:1' } }));
    await sm.send(new CreateEndpointConfigCommand({
      EndpointConfigName: 'sick-config',
      AsyncInferenceConfig: { OutputConfig: { S3OutputPath: 's3://bucket/out' } },
      ProductionVariants: [{ VariantName: 'v', ModelName: 'sick', InitialInstanceCount: 1, ContainerStartupHealthCheckTimeoutInSeconds: 60 }],
    }));
    await sm.send(new CreateEndpointCommand({ EndpointName: 'sick', EndpointConfigName: 'sick-config' }));
    const started = Date.now();
    const waited = await waitUntilEndpointInService({ client: sm, maxWaitTime: 90, minDelay: 2, maxDelay: 2 }, { EndpointName: 'sick' }).then(() => 'in service', () => 'failed');
    expect(waited).toBe('failed');
    expect(Date.now() - started).toBeGreaterThanOrEqual(59_000);
    const ep = await sm.send(new DescribeEndpointCommand({ EndpointName: 'sick' }));
    expect(ep.EndpointStatus).toBe('Failed');
    expect(ep.FailureReason).toBe('The container did not pass the ping health check (GET /ping answering 200 on all 1 instances) within ContainerStartupHealthCheckTimeoutInSeconds (60 s). Check the model\'s logs in the server log.');
    const pids = server.logs.filter((l) => l.msg === 'model instance starting').map((l) => l.pid as number);
    await waitFor(() => !pids.some(isAlive), 15_000, 'the instances to stop');
  } finally {
    await server.stop();
  }
}, 120_000);

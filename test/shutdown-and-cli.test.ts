/**
 * The command a user runs: help, config errors listed at once, one server per data dir, and a
 * graceful SIGTERM that finishes (or returns) running work, stops the instances and exits 0.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { InvokeEndpointAsyncCommand } from '@aws-sdk/client-sagemaker-runtime';
import { describe, expect, it } from 'vitest';
import { CLI, controlEndpoint, invocationRows, startServer, tempDir, waitFor, waitForObject, isAlive, runCommand } from './support/server.js';

function cli(...args: string[]) {
  return runCommand(process.execPath, [CLI, ...args]);
}

describe('asyncinfer CLI', () => {
  it('prints help like the AWS CLI', async () => {
    const main = await cli('--help');
    expect(main.code).toBe(0);
    expect(main.stdout).toMatch(/^NAME\n {7}asyncinfer - /);
    expect(main.stdout).toContain('SYNOPSIS');
    const serve = await cli('serve', '--help');
    expect(serve.code).toBe(0);
    for (const option of ['--config', '--host', '--port', '--data-dir', '--log-level']) expect(serve.stdout).toContain(option);
    expect(serve.stdout).toContain('EXAMPLES');
  });

  it('refuses unknown commands and flags with a hint, exit 2', async () => {
    const cmd = await cli('srve');
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toContain('unknown command "srve"');
    const flag = await cli('serve', '--prot', '1');
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("Unknown option '--prot'");
    expect(flag.stderr).toContain('asyncinfer serve --help');
  });

  it('fails at start on a bad config, listing every problem by its path', async () => {
    const file = path.join(tempDir(), 'bad.json');
    writeFileSync(file, JSON.stringify({
      port: 'x',
      endpoints: [{ name: 'ep', model: {}, asyncInferenceConfig: { OutputConfig: { S3OutputPath: 'not-s3' }, ClientConfig: { MaxConcurrentInvocationsPerInstance: 5000 } } }],
    }));
    const res = await cli('serve', '--config', file, '--data-dir', tempDir());
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('(4 problems)');
    expect(res.stderr).toContain('  - port: ');
    expect(res.stderr).toContain('  - endpoints[0].model: give exactly one of "command"');
    expect(res.stderr).toContain('  - endpoints[0].asyncInferenceConfig.OutputConfig.S3OutputPath: must be an s3:// URI');
    expect(res.stderr).toContain('  - endpoints[0].asyncInferenceConfig.ClientConfig.MaxConcurrentInvocationsPerInstance: ');
  });

  it('refuses a second server on the same data dir', async () => {
    const first = await startServer({ config: { endpoints: [] }, waitForReady: false });
    try {
      const second = await cli('serve', '--port', '0', '--data-dir', first.dataDir);
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(/Another asyncinfer process \(pid \d+\) is using .*queue\.lock\. Stop it, or give this one its own --data-dir\./);
    } finally {
      await first.stop();
    }
  });
});

describe('graceful shutdown', () => {
  it('lets running invocations finish, stops the instances and exits 0', async () => {
    const server = await startServer({ config: { endpoints: [controlEndpoint('ep')] } });
    const pids = server.logs.filter((l) => l.msg === 'model instance starting').map((l) => l.pid as number);
    const accepted = await Promise.all(Array.from({ length: 4 }, () => server.client.send(
      new InvokeEndpointAsyncCommand({ EndpointName: 'ep', Body: Buffer.from('{}'), CustomAttributes: 'sleep_ms=1000' }))));
    await waitFor(() => invocationRows(server.dataDir).filter((r) => r.state === 'running').length === 4, 5000, 'four running');
    expect(await server.stop('SIGTERM')).toBe(0);
    for (const r of accepted) await waitForObject(server.dataDir, r.OutputLocation!, 1);
    expect(invocationRows(server.dataDir).every((r) => r.state === 'completed')).toBe(true);
    expect(pids.some(isAlive)).toBe(false);
  });

  it('returns what cannot finish within shutdownGraceSeconds to the queue, and runs it after a restart', async () => {
    const config = { shutdownGraceSeconds: 0, endpoints: [controlEndpoint('ep')] };
    const first = await startServer({ config });
    const res = await first.client.send(new InvokeEndpointAsyncCommand({ EndpointName: 'ep', Body: Buffer.from('{}'), CustomAttributes: 'sleep_ms=3000' }));
    await waitFor(() => invocationRows(first.dataDir)[0]?.state === 'running', 5000, 'running');
    const t = Date.now();
    expect(await first.stop('SIGINT')).toBe(0);
    expect(Date.now() - t).toBeLessThan(2500);
    expect(invocationRows(first.dataDir)[0]?.state).toBe('queued');
    const second = await startServer({ config, dataDir: first.dataDir });
    try {
      await waitForObject(second.dataDir, res.OutputLocation!, 10_000);
    } finally {
      await second.stop();
    }
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './load.js';

function writeConfig(name: string, text: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'asyncinfer-config-')), name);
  writeFileSync(file, text);
  return file;
}

const endpoint = {
  name: 'my-ep',
  model: { command: ['python3', 'serve.py'], env: { K: 'V' } },
  instances: { initial: 1 },
  asyncInferenceConfig: {
    OutputConfig: { S3OutputPath: 's3://bucket/out', S3FailurePath: 's3://bucket/fail' },
    ClientConfig: { MaxConcurrentInvocationsPerInstance: 4 },
  },
};

describe('loadConfig', () => {
  it('reads the documented JSON shape and fills defaults', () => {
    const config = loadConfig({ file: writeConfig('c.json', JSON.stringify({ endpoints: [endpoint] })) });
    expect(config.host).toBe('127.0.0.1');
    expect(config.port).toBe(8080);
    expect(path.isAbsolute(config.dataDir)).toBe(true);
    expect(config.endpoints[0]?.variantName).toBe('AllTraffic');
    expect(config.endpoints[0]?.model.startupTimeoutSeconds).toBe(240);
    expect(Object.isFrozen(config.endpoints[0]?.model)).toBe(true);
  });

  it('reads YAML', () => {
    const file = writeConfig('c.yaml', `
endpoints:
  - name: y
    model: { url: "http://127.0.0.1:9000" }
    asyncInferenceConfig:
      OutputConfig: { S3OutputPath: "s3://bucket/o" }
`);
    expect(loadConfig({ file }).endpoints[0]?.model.url).toBe('http://127.0.0.1:9000');
  });

  it('flags beat environment, which beats the file', () => {
    const file = writeConfig('c.json', JSON.stringify({ port: 1000, host: 'h-file', endpoints: [] }));
    const config = loadConfig({ file, env: { ASYNCINFER_PORT: '2000', ASYNCINFER_HOST: 'h-env' }, flags: { port: 3000 } });
    expect(config.port).toBe(3000);
    expect(config.host).toBe('h-env');
  });

  it('serves the demo endpoint without a file', () => {
    const config = loadConfig({});
    expect(config.demo).toBe(true);
    expect(config.endpoints.map((e) => e.name)).toEqual(['demo']);
  });

  it('lists every problem with its path at once', () => {
    const bad = {
      prot: 1,
      endpoints: [
        { ...endpoint, name: 'bad_name', model: { command: ['x'], url: 'http://x' } },
        { ...endpoint, asyncInferenceConfig: { OutputConfig: { S3OutputPath: 'https://x/y' }, ClientConfig: { MaxConcurrentInvocationsPerInstance: 0 } } },
        { ...endpoint, name: 'bad_name' },
      ],
    };
    let message = '';
    try {
      loadConfig({ file: writeConfig('c.json', JSON.stringify(bad)) });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/Invalid configuration in .*c\.json \(\d+ problems\)/);
    expect(message).toContain('(top level): Unrecognized key: "prot"');
    expect(message).toContain('endpoints[0].name: must be 1-63 letters');
    expect(message).toContain('endpoints[0].model: give exactly one of "command"');
    expect(message).toContain('endpoints[1].asyncInferenceConfig.OutputConfig.S3OutputPath: must be an s3:// URI');
    expect(message).toContain('endpoints[1].asyncInferenceConfig.ClientConfig.MaxConcurrentInvocationsPerInstance');
    expect(message).toContain('endpoints[2].name: must be 1-63');
  });

  it('reports a bad port from the environment', () => {
    expect(() => loadConfig({ env: { ASYNCINFER_PORT: 'eighty' } })).toThrow(/port: /);
  });

  it('says when the file is missing or unparsable', () => {
    expect(() => loadConfig({ file: '/nonexistent/c.json' })).toThrow(/Cannot read the config file/);
    expect(() => loadConfig({ file: writeConfig('c.yaml', 'a: [1,\n') })).toThrow(/neither valid JSON nor valid YAML/);
  });
});

it('refuses an output path whose bucket S3 could not hold', () => {
  const bad = { endpoints: [{ ...endpoint, asyncInferenceConfig: { OutputConfig: { S3OutputPath: 's3://b/out', S3FailurePath: 's3://Bad_Bucket/x' } } }] };
  let message = '';
  try {
    loadConfig({ file: writeConfig('c.json', JSON.stringify(bad)) });
  } catch (err) {
    message = (err as Error).message;
  }
  expect(message).toContain('endpoints[0].asyncInferenceConfig.OutputConfig.S3OutputPath: the bucket must be an S3 bucket name');
  expect(message).toContain('endpoints[0].asyncInferenceConfig.OutputConfig.S3FailurePath: the bucket must be an S3 bucket name');
});

describe('instances and autoscaling', () => {
  const load = (instances: object, extra: object = {}) =>
    loadConfig({ file: writeConfig('c.json', JSON.stringify({ endpoints: [{ ...endpoint, instances, ...extra }] })) });

  it('fills the autoscaling defaults and reads durations', () => {
    const i = load({ initial: 0, min: 0, max: 3, scaleInCooldown: '90s', idleBeforeZero: '1m' }).endpoints[0]!.instances;
    expect(i).toEqual({ initial: 0, min: 0, max: 3, targetBacklogPerInstance: 5, scaleOutCooldown: 30_000, scaleInCooldown: 90_000, idleBeforeZero: 60_000 });
    expect(load({}).endpoints[0]!.instances).toMatchObject({ initial: 1 });
  });

  it('names the rule each bad setting breaks', () => {
    expect(() => load({ min: 3, max: 2, initial: 2 })).toThrow(/instances\.min: min \(3\) must not be above max \(2\)/);
    expect(() => load({ initial: 0, max: 2 })).toThrow(/instances\.initial: initial \(0\) must be between min \(1, the default\) and max \(2\); set "min": 0/);
    expect(() => load({ min: 0 })).toThrow(/instances\.max: autoscaling needs "max"/);
    expect(() => load({ max: 2, scaleOutCooldown: 'soon' })).toThrow(/scaleOutCooldown: must be a duration/);
    expect(() => load({ max: 2 }, { asyncInferenceConfig: undefined })).toThrow(/instances\.max: autoscaling follows the queue backlog/);
    expect(() => load({ max: 1 }, { model: { url: 'http://127.0.0.1:9000' } })).toThrow(/instances\.max: an endpoint with model\.url is not scaled/);
  });
});

describe('loadConfig: access', () => {
  const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sagemaker:InvokeEndpointAsync', Resource: '*' }] };

  it('defaults to signed requests, signed /metrics, no extra hosts or origins, no TLS', () => {
    const config = loadConfig({ file: writeConfig('c.json', '{}') });
    expect(config.auth).toEqual({ mode: 'sigv4', keys: [], metrics: 'signed' });
    expect(config.allowedHosts).toEqual([]);
    expect(config.cors.allowedOrigins).toEqual([]);
    expect(config.tls).toBeUndefined();
  });

  it('reads each secret from where the key says: inline, a file, an environment variable; and a root key from ASYNCINFER_*', () => {
    const secretFile = writeConfig('secret', 'from-a-file-0123456789\n');
    const config = loadConfig({
      file: writeConfig('c.json', JSON.stringify({
        auth: {
          keys: [
            { accessKeyId: 'INLINE', secretAccessKey: 'inline-secret-0123456789', policy },
            { accessKeyId: 'FILE', secretAccessKeyFile: secretFile },
            { accessKeyId: 'ENV', secretAccessKeyEnv: 'MY_SECRET' },
          ],
        },
      })),
      env: { MY_SECRET: 'from-the-environment-0123', ASYNCINFER_ACCESS_KEY_ID: 'ROOT', ASYNCINFER_SECRET_ACCESS_KEY: 'root-secret-0123456789' },
    });
    expect(config.auth.keys.map((k) => [k.accessKeyId, k.secretAccessKey, k.policy !== undefined])).toEqual([
      ['INLINE', 'inline-secret-0123456789', true],
      ['FILE', 'from-a-file-0123456789', false],
      ['ENV', 'from-the-environment-0123', false],
      ['ROOT', 'root-secret-0123456789', false],
    ]);
  });

  it('reports key problems with their paths: two sources, a bad policy; a duplicate id; a short secret and a missing variable', () => {
    const duplicate = { accessKeyId: 'DUP', secretAccessKey: 'dup-secret-0123456789' };
    expect(() => loadConfig({ file: writeConfig('c.json', JSON.stringify({ auth: { keys: [duplicate, duplicate] } })) }))
      .toThrow('auth.keys[1].accessKeyId: duplicate access key id "DUP"');
    const file = writeConfig('c.json', JSON.stringify({
      auth: {
        keys: [
          { accessKeyId: 'OK', secretAccessKey: 'ok-secret-0123456789' },
          { accessKeyId: 'OK2', secretAccessKey: 'ok2-secret-0123456789' },
          { accessKeyId: 'BOTH', secretAccessKey: 'x', secretAccessKeyEnv: 'X' },
          { accessKeyId: 'BADPOLICY', secretAccessKey: 'bad-policy-0123456789', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ec2:*', Resource: '*' }] } },
        ],
      },
    }));
    let message = '';
    try {
      loadConfig({ file });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('auth.keys[2]: give exactly one of "secretAccessKey", "secretAccessKeyFile" or "secretAccessKeyEnv"');
    expect(message).toContain('service is one of sagemaker, s3, asyncinfer');

    const weak = () => loadConfig({ file: writeConfig('c.json', JSON.stringify({ auth: { keys: [{ accessKeyId: 'WEAK', secretAccessKey: 'short' }, { accessKeyId: 'UNSET', secretAccessKeyEnv: 'NOT_SET' }] } })), env: {} });
    expect(weak).toThrow(/auth\.keys\[0\] \(WEAK\): a secret access key must be 16-128 characters[\s\S]*auth\.keys\[1\]\.secretAccessKeyEnv: the environment variable NOT_SET is not set/);
  });

  it('allows auth off only on a loopback address', () => {
    const off = (host: string) => () => loadConfig({ file: writeConfig('c.json', JSON.stringify({ host, auth: { mode: 'off' } })) });
    for (const host of ['127.0.0.1', '127.0.0.5', 'localhost', '::1']) expect(off(host)).not.toThrow();
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'asyncinfer.internal']) expect(off(host)).toThrow(/auth\.mode: "off" serves every request unauthenticated/);
  });

  it('takes TLS files from the flags, over the file', () => {
    const config = loadConfig({ file: writeConfig('c.json', JSON.stringify({ tls: { cert: 'a.pem', key: 'a.key' } })), flags: { tlsCert: 'b.pem' } });
    expect(config.tls).toEqual({ cert: 'b.pem', key: 'a.key' });
  });
});

import { describe, expect, it } from 'vitest';
import { isAppError } from '../errors.js';
import {
  compilePolicy, denialMessage, evaluatePolicy, PolicyDocumentSchema, s3Arn, sagemakerArn,
  type Decision, type PolicyDocument, type Statement,
} from './policy.js';

const account = '123456789012';
const endpoint = (name: string) => sagemakerArn({ region: 'us-east-1', accountId: account, type: 'endpoint', name });
const policy = (...Statement: Statement[]): PolicyDocument => ({ Version: '2012-10-17', Statement });

const invokeOnlyA = policy({ Effect: 'Allow', Action: 'sagemaker:InvokeEndpointAsync', Resource: endpoint('endpoint-a') });
const readOnlyOutputs = policy({
  Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: ['arn:aws:s3:::outputs', 'arn:aws:s3:::outputs/*'],
});
const allowAll = { Effect: 'Allow', Action: 'sagemaker:*', Resource: '*' } as const;
const denyDeletes = { Effect: 'Deny', Action: 'sagemaker:Delete*', Resource: '*' } as const;
const metaKey = 'arn:aws:s3:::b/a.b+c(d)$e[f]{g}|h^i\\j';

describe('evaluatePolicy', () => {
  it.each<[string, PolicyDocument, string, string, Decision]>([
    ['invoke-only: endpoint A', invokeOnlyA, 'sagemaker:InvokeEndpointAsync', endpoint('Endpoint-A'), 'allow'],
    ['invoke-only: endpoint B', invokeOnlyA, 'sagemaker:InvokeEndpointAsync', endpoint('endpoint-b'), 'implicit-deny'],
    ['invoke-only: a longer name is another endpoint', invokeOnlyA, 'sagemaker:InvokeEndpointAsync', endpoint('endpoint-a2'), 'implicit-deny'],
    ['invoke-only: control plane', invokeOnlyA, 'sagemaker:DeleteEndpoint', endpoint('endpoint-a'), 'implicit-deny'],
    ['invoke-only: s3', invokeOnlyA, 's3:GetObject', s3Arn('outputs', 'x.out'), 'implicit-deny'],

    ['read-only s3: get object', readOnlyOutputs, 's3:GetObject', s3Arn('outputs', 'ep/1.out'), 'allow'],
    ['read-only s3: list bucket', readOnlyOutputs, 's3:ListBucket', s3Arn('outputs'), 'allow'],
    ['read-only s3: put object', readOnlyOutputs, 's3:PutObject', s3Arn('outputs', 'x'), 'implicit-deny'],
    ['read-only s3: other bucket', readOnlyOutputs, 's3:GetObject', s3Arn('inputs', 'x'), 'implicit-deny'],
    ['read-only s3: bucket sharing the prefix', readOnlyOutputs, 's3:GetObject', s3Arn('outputs-evil', 'x'), 'implicit-deny'],
    ['read-only s3: list all buckets', readOnlyOutputs, 's3:ListAllMyBuckets', s3Arn(), 'implicit-deny'],

    ['deny wins: delete', policy(allowAll, denyDeletes), 'sagemaker:DeleteEndpoint', endpoint('a'), 'explicit-deny'],
    ['deny wins whatever the order', policy(denyDeletes, allowAll), 'sagemaker:DeleteModel', endpoint('a'), 'explicit-deny'],
    ['deny wins: create still allowed', policy(denyDeletes, allowAll), 'sagemaker:CreateEndpoint', endpoint('a'), 'allow'],
    ['deny wins: other service not granted', policy(allowAll, denyDeletes), 's3:GetObject', s3Arn('b', 'k'), 'implicit-deny'],
    ['deny alone is still no allow', policy(denyDeletes), 'sagemaker:CreateEndpoint', endpoint('a'), 'implicit-deny'],

    ['? matches one character', policy({ Effect: 'Allow', Action: 's3:Get?bject', Resource: 'arn:aws:s3:::b/log-202?.txt' }), 's3:GetObject', 'arn:aws:s3:::b/log-2024.txt', 'allow'],
    ['? matches one code point', policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/log-202?.txt' }), 's3:GetObject', 'arn:aws:s3:::b/log-202😀.txt', 'allow'],
    ['? does not match two', policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/log-202?.txt' }), 's3:GetObject', 'arn:aws:s3:::b/log-20245.txt', 'implicit-deny'],
    ['? does not match none', policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/log-202?.txt' }), 's3:GetObject', 'arn:aws:s3:::b/log-202.txt', 'implicit-deny'],
    ['? in an action', policy({ Effect: 'Allow', Action: 's3:Get?bject', Resource: '*' }), 's3:GetObjects', '*', 'implicit-deny'],

    ['NotAction: everything else allowed', policy({ Effect: 'Allow', NotAction: 'sagemaker:Delete*', Resource: '*' }), 's3:GetObject', s3Arn('b', 'k'), 'allow'],
    ['NotAction: the excluded action', policy({ Effect: 'Allow', NotAction: 'sagemaker:Delete*', Resource: '*' }), 'sagemaker:DeleteEndpoint', endpoint('a'), 'implicit-deny'],
    ['NotResource: inside the exception', policy({ Effect: 'Allow', Action: 's3:*', Resource: '*' }, { Effect: 'Deny', Action: 's3:*', NotResource: 'arn:aws:s3:::outputs/*' }),
      's3:GetObject', s3Arn('outputs', 'k'), 'allow'],
    ['NotResource: outside the exception', policy({ Effect: 'Allow', Action: 's3:*', Resource: '*' }, { Effect: 'Deny', Action: 's3:*', NotResource: 'arn:aws:s3:::outputs/*' }),
      's3:GetObject', s3Arn('inputs', 'k'), 'explicit-deny'],

    ['actions ignore case', policy({ Effect: 'Allow', Action: 'SageMaker:invokeendpoint*', Resource: 'arn:aws:sagemaker:*:*:endpoint/my-endpoint' }), 'sagemaker:InvokeEndpointAsync', endpoint('my-endpoint'), 'allow'],
    ['resources keep case', policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/Report.csv' }), 's3:GetObject', 'arn:aws:s3:::b/report.csv', 'implicit-deny'],
    ['actions fold ASCII only', policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }), 'ſ3:GetObject', '*', 'implicit-deny'],

    ['* in a resource crosses / and :', policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }), 's3:GetObject', 'arn:aws:s3:::b/x/y:z', 'allow'],
    ['bare * matches every action', policy({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:s3:::b' }), 'asyncinfer:AnythingAtAll', 'arn:aws:s3:::b', 'allow'],
    ['metacharacters are literal: exact', policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: metaKey }), 's3:GetObject', metaKey, 'allow'],
    ['metacharacters are literal: "." is not any character', policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: metaKey }), 's3:GetObject', metaKey.replace('a.b', 'aXb'), 'implicit-deny'],
    ['metacharacters are literal: "+" is not repetition', policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/a+c' }), 's3:GetObject', 'arn:aws:s3:::b/aac', 'implicit-deny'],
    ['metacharacters are literal: "|" is not alternation', policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/x|arn:*' }), 's3:GetObject', 'arn:aws:s3:::other', 'implicit-deny'],
    ['metacharacters around a wildcard', policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/(v1)*$.json' }), 's3:GetObject', 'arn:aws:s3:::b/(v1)/day/$.json', 'allow'],
  ])('%s', (_name, doc, action, resource, expected) => {
    expect(evaluatePolicy(compilePolicy(doc), action, resource)).toBe(expected);
  });

  it('allows everything for a key without a policy (a root key)', () => {
    expect(evaluatePolicy(undefined, 'sagemaker:DeleteEndpoint', endpoint('a'))).toBe('allow');
  });

  it('accepts Version 2008-10-17 and a single Statement object', () => {
    const doc = PolicyDocumentSchema.parse({ Version: '2008-10-17', Statement: { Effect: 'Allow', Action: 's3:GetObject', Resource: '*' } });
    expect(evaluatePolicy(compilePolicy(doc), 's3:GetObject', s3Arn('b', 'k'))).toBe('allow');
  });

  it('does not backtrack catastrophically on many wildcards', () => {
    const compiled = compilePolicy(policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::b/${'*a'.repeat(12)}*b` }));
    const key = `arn:aws:s3:::b/${'a'.repeat(20_000)}`;
    expect(evaluatePolicy(compiled, 's3:GetObject', key)).toBe('implicit-deny');
    expect(evaluatePolicy(compiled, 's3:GetObject', `${key}b`)).toBe('allow');
  });

  it('agrees with a naive glob on random patterns', () => {
    let seed = 42; // deterministic, so a failure reproduces
    const pick = (chars: string, max: number) => {
      let out = '';
      for (let n = 0; n < max; n++) { seed = (seed * 1103515245 + 12345) % 2 ** 31; out += chars[seed % chars.length]; }
      return out;
    };
    for (let i = 0; i < 2000; i++) {
      const pattern = pick('ab*?/', 1 + (i % 7));
      const value = pick('ab/', i % 9);
      const naive = new RegExp(`^${pattern.replace(/\*/g, '.*').replace(/\?/g, '.').replace(/\//g, '\\/')}$`, 's').test(value);
      const compiled = compilePolicy(policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:${pattern}` }));
      expect([pattern, value, evaluatePolicy(compiled, 's3:GetObject', `arn:${value}`)]).toEqual([pattern, value, naive ? 'allow' : 'implicit-deny']);
    }
  });
});

describe('PolicyDocumentSchema', () => {
  const ok = { Effect: 'Allow', Action: 's3:GetObject', Resource: '*' };
  it.each<[string, unknown, RegExp]>([
    ['missing Effect', { Statement: [{ Action: 's3:GetObject', Resource: '*' }] }, /Effect is required/],
    ['lower-case Effect', { Statement: [{ ...ok, Effect: 'allow' }] }, /Effect must be "Allow" or "Deny"/],
    ['Condition present', { Statement: [{ ...ok, Condition: { Bool: { 'aws:SecureTransport': 'true' } } }] }, /"Condition" is not supported/],
    ['Principal present', { Statement: [{ ...ok, Principal: '*' }] }, /"Principal" is not supported/],
    ['unknown key', { Statement: [{ ...ok, Actions: 's3:GetObject' }] }, /unknown key "Actions"/],
    ['bad action prefix', { Statement: [{ ...ok, Action: 'ec2:RunInstances' }] }, /one of sagemaker, s3, asyncinfer.*"ec2:RunInstances"/],
    ['action without a prefix', { Statement: [{ ...ok, Action: ['s3:GetObject', 'InvokeEndpoint'] }] }, /one of sagemaker, s3, asyncinfer.*"InvokeEndpoint"/],
    ['both Action and NotAction', { Statement: [{ ...ok, NotAction: 's3:PutObject' }] }, /exactly one of "Action" or "NotAction"/],
    ['neither Action nor NotAction', { Statement: [{ Effect: 'Allow', Resource: '*' }] }, /exactly one of "Action" or "NotAction"/],
    ['no Resource', { Statement: [{ Effect: 'Allow', Action: 's3:GetObject' }] }, /exactly one of "Resource" or "NotResource"/],
    ['resource not an ARN', { Statement: [{ ...ok, Resource: 'my-bucket/*' }] }, /must be "\*" or an ARN/],
    ['policy variable', { Statement: [{ ...ok, Resource: 'arn:aws:s3:::b/${aws:username}/*' }] }, /policy variables .* are not supported/],
    ['empty Action list', { Statement: [{ ...ok, Action: [] }] }, /must not be an empty list/],
    ['no statements', { Statement: [] }, /at least one statement/],
    ['no Statement key', {}, /is required/],
    ['unknown Version', { Version: '2012-10-18', Statement: ok }, /Version must be "2012-10-17"/],
  ])('rejects %s', (_name, doc, message) => {
    const result = PolicyDocumentSchema.safeParse({ Version: '2012-10-17', ...(doc as object) });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.message).join('\n')).toMatch(message);
  });

  it('reports every problem at once, with its path', () => {
    const result = PolicyDocumentSchema.safeParse({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'ec2:*', Condition: {} }, { Effect: 'Deny', Action: 's3:*', NotAction: 's3:Get*', Resource: '*' }],
    });
    expect(result.error?.issues.map((issue) => issue.path.join('.')).sort()).toEqual(['Statement.0', 'Statement.0', 'Statement.0.Action', 'Statement.1']);
  });

  it('compilePolicy refuses a malformed typed document', () => {
    const bad = policy({ Effect: 'Allow', Action: 'sagemaker:Invoke Endpoint', Resource: '*' });
    let thrown: unknown;
    try { compilePolicy(bad); } catch (err) { thrown = err; }
    expect(isAppError(thrown, 'ConfigInvalid')).toBe(true);
    expect(String(thrown)).toMatch(/"sagemaker:Invoke Endpoint"/);
  });
});

describe('denialMessage and ARNs', () => {
  it.each([
    ['implicit-deny', 'User: arn:aws:iam::123456789012:user/AKIDEXAMPLE is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::b/k because no identity-based policy allows the s3:GetObject action'],
    ['explicit-deny', 'User: arn:aws:iam::123456789012:user/AKIDEXAMPLE is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::b/k with an explicit deny in an identity-based policy'],
  ] as const)('%s', (decision, message) => {
    expect(denialMessage({ accountId: account, accessKeyId: 'AKIDEXAMPLE', action: 's3:GetObject', resource: s3Arn('b', 'k'), decision })).toBe(message);
  });

  it.each([
    [sagemakerArn({ region: 'eu-west-1', accountId: account, type: 'endpoint', name: 'My-Endpoint' }), 'arn:aws:sagemaker:eu-west-1:123456789012:endpoint/my-endpoint'],
    [sagemakerArn({ region: 'us-east-1', accountId: account, type: 'endpoint-config', name: 'Cfg' }), 'arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/cfg'],
    [s3Arn(), 'arn:aws:s3:::*'],
    [s3Arn('bucket'), 'arn:aws:s3:::bucket'],
    [s3Arn('bucket', 'a/b.out'), 'arn:aws:s3:::bucket/a/b.out'],
  ])('%s', (got, want) => {
    expect(got).toBe(want);
  });
});

import { describe, expect, it } from 'vitest';
import { outputLocations } from './output-naming.js';

const id = '557808d6-f91b-4b83-959f-041cf827c2e0';

describe('outputLocations', () => {
  it.each([
    ['default names', { s3OutputPath: 's3://b/out', s3FailurePath: 's3://b/fail' },
      `s3://b/out/${id}.out`, `s3://b/fail/${id}-error.out`],
    ['no failure path gives no failure location', { s3OutputPath: 's3://b/out' }, `s3://b/out/${id}.out`, undefined],
    ['trailing slash on the configured path', { s3OutputPath: 's3://b/out/', s3FailurePath: 's3://b/fail/' },
      `s3://b/out/${id}.out`, `s3://b/fail/${id}-error.out`],
    ['bucket-only path', { s3OutputPath: 's3://b', s3FailurePath: 's3://b/' }, `s3://b/${id}.out`, `s3://b/${id}-error.out`],
    ['extension on both paths', { s3OutputPath: 's3://b/out', s3FailurePath: 's3://b/fail', s3OutputPathExtension: 'x/y' },
      `s3://b/out/x/y/${id}.out`, `s3://b/fail/x/y/${id}-error.out`],
    ['extension slashes collapsed', { s3OutputPath: 's3://b/out', s3OutputPathExtension: '/x//y/' }, `s3://b/out/x/y/${id}.out`, undefined],
    ['filename replaces the generated name', { s3OutputPath: 's3://b/out', s3FailurePath: 's3://b/fail', filename: 'result.json' },
      's3://b/out/result.json', 's3://b/fail/result-error.out'],
    ['filename without a dot', { s3OutputPath: 's3://b/out', s3FailurePath: 's3://b/fail', filename: 'r1' },
      's3://b/out/r1', 's3://b/fail/r1-error.out'],
    ['filename and extension', { s3OutputPath: 's3://b/o', s3FailurePath: 's3://b/f', filename: 'a.txt', s3OutputPathExtension: 'day1' },
      's3://b/o/day1/a.txt', 's3://b/f/day1/a-error.out'],
  ])('%s', (_name, input, output, failure) => {
    const got = outputLocations({ id, ...input });
    expect(got.outputLocation).toBe(output);
    expect(got.failureLocation).toBe(failure);
  });
});

import { describe, expect, it } from 'vitest';
import { isRefusedEnvironmentVariable, refusedEnvironmentVariables } from './refused-environment.js';

describe('refusedEnvironmentVariables', () => {
  it('names the variables that load code, in the order given, any case, every LD_ and DYLD_', () => {
    expect(refusedEnvironmentVariables({ THREADS: '2', NODE_OPTIONS: 'x', LD_AUDIT: 'y', DYLD_INSERT_LIBRARIES: 'z', python_path: 'no', PYTHONPATH: 'p' }))
      .toEqual(['NODE_OPTIONS', 'LD_AUDIT', 'DYLD_INSERT_LIBRARIES', 'PYTHONPATH']);
    expect(isRefusedEnvironmentVariable('ld_preload')).toBe(true);
    expect(isRefusedEnvironmentVariable('PYTHONUNBUFFERED')).toBe(false);
    expect(isRefusedEnvironmentVariable('SAGEMAKER_PROGRAM')).toBe(false);
  });

  it('lets through what the operator allowed, by exact name', () => {
    expect(refusedEnvironmentVariables({ NODE_OPTIONS: 'x', LD_PRELOAD: 'y' }, ['NODE_OPTIONS'])).toEqual(['LD_PRELOAD']);
    expect(refusedEnvironmentVariables({ node_options: 'x' }, ['NODE_OPTIONS'])).toEqual(['node_options']);
  });
});

import { describe, expect, it } from 'vitest';
import { backoffMs } from './backoff.js';

const policy = { initialMs: 1000, maxMs: 300_000 };

describe('backoffMs', () => {
  it.each([
    // attempt, random, expected
    [1, 0, 1000], [1, 1, 1000],
    [2, 0, 1000], [2, 1, 2000], [2, 0.5, 1500],
    [3, 1, 4000], [5, 1, 16_000],
    [9, 1, 256_000], [10, 1, 300_000], [60, 1, 300_000], [60, 0, 1000],
  ])('attempt %i, random %d → %i ms', (attempt, random, expected) => {
    expect(backoffMs(attempt, policy, () => random)).toBe(expected);
  });

  it('never goes below the floor or above the cap', () => {
    for (let attempt = 1; attempt < 100; attempt++) {
      const ms = backoffMs(attempt, policy);
      expect(ms).toBeGreaterThanOrEqual(1000);
      expect(ms).toBeLessThanOrEqual(300_000);
    }
  });

  it('caps at maxBackoff even when it is below initialBackoff', () => {
    expect(backoffMs(3, { initialMs: 500, maxMs: 100 }, () => 1)).toBe(100);
  });
});

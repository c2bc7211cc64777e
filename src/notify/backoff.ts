/**
 * The wait before retry number `attempt` (1 = the first retry): the ceiling doubles from
 * `initialMs` up to `maxMs`, and the wait is drawn uniformly between `initialMs` and that ceiling
 * ("full jitter", with initialBackoff as its floor so no retry comes sooner than configured).
 * Jitter spreads the retries of many events that failed together (a receiver that was down).
 */
export function backoffMs(attempt: number, policy: { initialMs: number; maxMs: number }, random: () => number = Math.random): number {
  const floor = Math.min(policy.initialMs, policy.maxMs);
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, Math.min(attempt - 1, 52)));
  return Math.round(floor + random() * (ceiling - floor));
}

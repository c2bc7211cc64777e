/**
 * Group commit for an action that makes "everything done so far" durable, such as an fsync.
 * A call is served by a run that starts after the call, so it covers the caller's writes; while
 * one run is under way, every caller that arrives shares the single next run.
 */
export interface Coalesced {
  run(): Promise<void>;
  /** Resolves when no run is under way or waiting (for closing what the action uses). */
  idle(): Promise<void>;
}

export function coalesced(action: () => Promise<void>): Coalesced {
  let current: Promise<void> | undefined;
  let next: Promise<void> | undefined;

  async function startAfter(previous: Promise<void> | undefined): Promise<void> {
    await previous?.catch(() => undefined);
    // From here on, new callers need a newer run than this one.
    next = undefined;
    const mine = action();
    current = mine;
    try {
      await mine;
    } finally {
      if (current === mine) current = undefined;
    }
  }

  return {
    run() {
      next ??= startAfter(current);
      return next;
    },
    async idle() {
      while (current || next) await Promise.all([current, next].map((p) => p?.catch(() => undefined)));
    },
  };
}

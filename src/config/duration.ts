/**
 * Durations in the config: `"500ms"`, `"30s"`, `"5m"`, `"1h"`, or a bare number of seconds.
 * They resolve to milliseconds, so code reads `timeoutMs` and never guesses the unit.
 */
import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

export function parseDurationMs(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]);
}

/** A duration between `minMs` and `maxMs`, resolved to milliseconds. */
export function durationMs(minMs: number, maxMs: number) {
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    const ms = typeof value === 'number' ? Math.round(value * 1000) : parseDurationMs(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `must be a duration such as "500ms", "30s", "5m" or "1h", or a number of seconds; got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    if (ms < minMs || ms > maxMs) {
      ctx.addIssue({ code: 'custom', message: `must be between ${formatMs(minMs)} and ${formatMs(maxMs)}; got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return ms;
  });
}

function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

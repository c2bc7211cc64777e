/** Reading GET /metrics in tests: the Prometheus text format parsed, and polled until a condition holds. */
import { expect } from 'vitest';
import { waitFor } from './server.js';
import { signedFetch } from './signing.js';

export interface Sample { name: string; labels: Record<string, string>; value: number }

/** A scrape: the value of the first sample with this name and (at least) these labels. */
export type Scrape = (name: string, labels?: Record<string, string>) => number | undefined;

/** The Prometheus text format, enough of it for our series. */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

export async function scrape(serverUrl: string): Promise<Scrape> {
  const res = await signedFetch(`${serverUrl}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  const samples = parseMetrics(await res.text());
  return (name, labels = {}) => samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

/** Polls the scrape until `check` holds, and hands back that scrape. */
export async function scrapeUntil(serverUrl: string, check: (m: Scrape) => boolean, what: string, timeoutMs = 15_000): Promise<Scrape> {
  let last: Scrape | undefined;
  await waitFor(async () => check((last = await scrape(serverUrl))), timeoutMs, what);
  return last!;
}

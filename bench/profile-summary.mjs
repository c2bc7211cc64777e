// Where did a V8 CPU profile's time go? Used by `node bench/ingest.mjs --profile`; also standalone:
//   node bench/profile-summary.mjs path/to/file.cpuprofile [--top 20]
// Time per sample follows Chrome DevTools: sample i lasts until sample i+1. "Self" is time with the
// function on top of the stack; "inclusive" is time with it anywhere on the stack (counted once).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

export function summarizeProfile(file, { root = process.cwd(), top = 15 } = {}) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const { samples, timeDeltas } = profile;
  const sampleUs = samples.map((_, i) => (i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0));
  const totalUs = sampleUs.reduce((a, b) => a + b, 0);

  const self = new Map();
  const inclusive = new Map();
  const byCategory = new Map();
  let idleUs = 0;
  samples.forEach((id, i) => {
    const us = sampleUs[i];
    const node = nodes.get(id);
    const key = frameKey(node.callFrame, root);
    if (node.callFrame.functionName === '(idle)') idleUs += us;
    add(self, key, us);
    add(byCategory, category(node.callFrame, root), us);
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const k = frameKey(nodes.get(cur).callFrame, root);
      if (!seen.has(k)) {
        seen.add(k);
        add(inclusive, k, us);
      }
    }
  });
  const busyUs = totalUs - idleUs;
  const rank = (map, filter = () => true) => [...map].filter(([k]) => filter(k)).sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([name, us]) => ({ name, ms: Math.round(us / 1000), percentOfBusy: pct(us, busyUs) }));
  return {
    totalMs: Math.round(totalUs / 1000),
    busyMs: Math.round(busyUs / 1000),
    idlePercent: pct(idleUs, totalUs),
    categoriesBySelfTime: rank(byCategory, (k) => k !== '(idle)'),
    functionsBySelfTime: rank(self, (k) => k !== '(idle)'),
    functionsByInclusiveTime: rank(inclusive, (k) => !SPECIAL.has(k.split(' ')[0]) && k !== '(idle)'),
  };
}

export function printProfileSummary(s, out = (t) => process.stdout.write(`${t}\n`)) {
  out(`profile ${s.totalMs} ms, busy ${s.busyMs} ms (idle ${s.idlePercent}%). Percentages are of busy time.`);
  const table = (title, rows) => {
    out(`  ${title}:`);
    for (const r of rows) out(`    ${String(r.percentOfBusy).padStart(5)}%  ${String(r.ms).padStart(6)} ms  ${r.name}`);
  };
  table('self time by area', s.categoriesBySelfTime);
  table('self time by function', s.functionsBySelfTime);
  table('inclusive time by function', s.functionsByInclusiveTime);
}

function frameKey(cf, root) {
  const name = cf.functionName || '(anonymous)';
  if (!cf.url) return name;
  return `${name} ${shortUrl(cf.url, root)}:${cf.lineNumber + 1}`;
}

function shortUrl(url, root) {
  let p = url;
  if (p.startsWith('file://')) p = fileURLToPath(p);
  if (path.isAbsolute(p)) {
    const nm = p.lastIndexOf(`${path.sep}node_modules${path.sep}`);
    if (nm >= 0) return p.slice(nm + 1);
    return path.relative(root, p);
  }
  return p;
}

/** Coarse area of a frame: node core, an npm package, a folder of asyncinfer, or a V8 pseudo-frame. */
function category(cf, root) {
  if (!cf.url) return SPECIAL.has(cf.functionName) || cf.functionName === '(idle)' ? cf.functionName : `native: ${cf.functionName || '(anonymous)'}`;
  if (cf.url.startsWith('node:')) return 'node core (node:*)';
  const p = shortUrl(cf.url, root);
  const nm = p.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (nm) return `package ${nm[1]}`;
  const own = p.match(/^dist\/src\/([^/]+)/);
  if (own) return `asyncinfer dist/src/${own[1]}`;
  return p;
}

function add(map, key, us) {
  map.set(key, (map.get(key) ?? 0) + us);
}

function pct(part, whole) {
  return whole > 0 ? Math.round((1000 * part) / whole) / 10 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values, positionals } = parseArgs({ options: { top: { type: 'string', default: '20' } }, allowPositionals: true });
  for (const file of positionals) {
    process.stdout.write(`==== ${file}\n`);
    printProfileSummary(summarizeProfile(file, { top: Number(values.top) }));
  }
}

// The folders tell the flow: each top-level folder is one stage, and imports point one way only,
// from the composition root (app/) down through the stages to the kernel and protocol. This test
// reads every import in the repository and fails on an edge that points back up, or on a circle.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '..');

/** What each top-level folder may import, besides itself. */
const MAY_IMPORT: Record<string, readonly string[]> = {
  protocol: [],
  kernel: ['protocol'],
  drivers: ['kernel', 'protocol'],
  gateway: ['kernel', 'protocol'],
  models: ['kernel', 'protocol'],
  runtime: ['kernel', 'protocol'],
  'cloud-sink': ['kernel', 'protocol'],
  bench: ['runtime', 'cloud-sink', 'drivers', 'gateway', 'models', 'kernel', 'protocol'],
  app: ['bench', 'runtime', 'cloud-sink', 'drivers', 'gateway', 'models', 'kernel', 'protocol'],
  deploy: ['app', 'runtime', 'kernel', 'protocol'],
  bin: ['app'],
};

const SOURCE = /\.(ts|js|mjs)$/;
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (SOURCE.test(e.name)) out.push(p);
  }
  return out;
}

const top = (file: string) => relative(ROOT, file).split(sep)[0]!;
/** test/ (integration tests and their support) and docs/ (the spec's examples checked against the code) sit above everything. */
const isAboveEverything = (file: string) => relative(ROOT, file).startsWith(`test${sep}`) || relative(ROOT, file).startsWith(`docs${sep}`);
const isTestSupport = (file: string) => relative(ROOT, file).startsWith(`test${sep}support${sep}`);
const isTest = (file: string) => /\.test\.ts$/.test(file);

interface Edge { from: string; to: string }
function edges(): Edge[] {
  const out: Edge[] = [];
  for (const file of sourceFiles(ROOT)) {
    for (const m of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
      out.push({ from: file, to: resolve(dirname(file), m[1]!) });
    }
  }
  return out;
}

test('no import points back up the flow', () => {
  const wrong: string[] = [];
  for (const { from, to } of edges()) {
    if (isAboveEverything(from)) continue;
    const a = top(from);
    const b = top(to);
    if (a === b) continue;
    // Any test may use the shared test support, and the kernel's seeded PRNG and free ports.
    if (isTest(from) && (isTestSupport(to) || b === 'kernel')) continue;
    const allowed = MAY_IMPORT[a];
    assert.ok(allowed, `${a}/ is not in the layout; add it to MAY_IMPORT with a reason`);
    if (!allowed.includes(b)) wrong.push(`${relative(ROOT, from)} -> ${relative(ROOT, to)}`);
  }
  assert.deepEqual(wrong, [], 'imports that point back up the flow');
});

test('no circle between source files', () => {
  const graph = new Map<string, string[]>();
  for (const { from, to } of edges()) {
    if (!graph.has(from)) graph.set(from, []);
    graph.get(from)!.push(to);
  }
  const state = new Map<string, 'open' | 'done'>();
  const circles: string[] = [];
  const visit = (node: string, path: string[]) => {
    if (state.get(node) === 'done') return;
    if (state.get(node) === 'open') {
      circles.push([...path.slice(path.indexOf(node)), node].map((p) => relative(ROOT, p)).join(' -> '));
      return;
    }
    state.set(node, 'open');
    for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
    state.set(node, 'done');
  };
  for (const node of graph.keys()) visit(node, []);
  assert.deepEqual(circles, []);
});

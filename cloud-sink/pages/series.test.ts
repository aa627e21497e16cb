// The device page's chart columns (www/series.js): a bucket the readings API left out is drawn as
// a gap, and a range is drawn in at most a few hundred steps.
import assert from 'node:assert/strict';
import { test } from 'node:test';
// @ts-expect-error: a browser module in plain JavaScript, without type declarations
import { chooseStep, columns } from './www/series.js';

type Columns = { data: (number | null)[][]; gaps: number };

test('a missing bucket becomes a null point that breaks the line; adjacent buckets do not', () => {
  const p = (t: number, v: number) => ({ t, min: v - 1, avg: v, max: v + 1, n: 3 });
  const out = columns([p(0, 5), p(60_000, 6), p(300_000, 7), p(360_000, 8)], 60_000) as Columns;
  assert.equal(out.gaps, 1);
  assert.deepEqual(out.data[0], [0, 60, 120, 300, 360]);
  assert.deepEqual(out.data[2], [5, 6, null, 7, 8]);
  assert.deepEqual((columns([], 1000) as Columns).data, [[], [], [], []]);
});

test('the step keeps a range within 600 buckets', () => {
  assert.equal(chooseStep(3_600_000), 10_000);
  assert.equal(chooseStep(6 * 3_600_000), 60_000);
  assert.equal(chooseStep(30 * 86_400_000), 6 * 3_600_000);
});

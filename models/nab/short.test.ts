// Short streams: the cut files are labelled as NAB's labeller labels a file of their length.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { categoryOf } from './crossval.ts';
import { listNabFiles, readNabSeries, readNabWindows } from './corpus.ts';
import { labelWindows, readNabAnomalies, shortStreams, splitStreams } from './short.ts';

const dir = join(import.meta.dirname, 'testdata');
const STEP = 300_000;

test('on whole files the rebuilt windows are the published ones', () => {
  const published = readNabWindows(join(dir, 'windows.json'));
  const anomalies = readNabAnomalies(join(dir, 'labels.json'));
  for (const f of listNabFiles(join(dir, 'data'))) {
    const s = readNabSeries(f.path, f.name);
    assert.deepEqual(labelWindows(s.timestamps, anomalies[f.name]!), published[f.name], f.name);
  }
});

test('a cut file keeps only its own anomalies, with windows sized by its own length', () => {
  const timestamps = Array.from({ length: 5000 }, (_, i) => i * STEP);
  const values = timestamps.map(() => 0);
  const anomalies = { 'a/x.csv': [1000 * STEP, 4000 * STEP] };
  const { series, windows } = shortStreams([{ name: 'a/x.csv', timestamps, values }], anomalies, 2000);
  assert.equal(series[0]!.timestamps.length, 2000);
  assert.equal(series[0]!.values.length, 2000);
  // one anomaly in the first 2000 rows: a window of 10% of 2000 rows centred on it
  assert.deepEqual(windows['a/x.csv'], [[900 * STEP, 1100 * STEP]]);
  // whole, both anomalies share 10% of 5000 rows
  assert.deepEqual(labelWindows(timestamps, anomalies['a/x.csv']), [
    [875 * STEP, 1125 * STEP],
    [3875 * STEP, 4125 * STEP],
  ]);
});

test('overlapping windows merge and windows are clipped to the file', () => {
  const timestamps = Array.from({ length: 1000 }, (_, i) => i * STEP);
  assert.deepEqual(labelWindows(timestamps, [10 * STEP, 40 * STEP, 990 * STEP]), [
    [0, 56 * STEP],
    [974 * STEP, 999 * STEP],
  ]);
});

test('a file split into pieces: each piece a stream of its own, labelled by its own length', () => {
  const timestamps = Array.from({ length: 5300 }, (_, i) => i * STEP);
  const values = timestamps.map((t) => t);
  const { series, windows } = splitStreams([{ name: 'a/x.csv', timestamps, values }], { 'a/x.csv': [1000 * STEP, 4000 * STEP] }, 2500);
  // two whole pieces of 2500 fit: the 5300 rows are shared out as 2650 and 2650
  assert.deepEqual(series.map((s) => [s.name, s.timestamps.length, s.timestamps[0]]), [
    ['a/x.csv#1', 2650, 0],
    ['a/x.csv#2', 2650, 2650 * STEP],
  ]);
  assert.deepEqual(series[1]!.values, values.slice(2650));
  // the pieces of a file stay in its category: a fold holds out all of them or none
  for (const p of series) assert.equal(categoryOf(p.name), 'a');
  assert.deepEqual(windows['a/x.csv#1'], [[(1000 - 132) * STEP, (1000 + 132) * STEP]]);
  assert.deepEqual(windows['a/x.csv#2'], [[(4000 - 132) * STEP, (4000 + 132) * STEP]]);
  // a file shorter than a piece stays whole
  assert.equal(splitStreams([{ name: 'a/x.csv', timestamps: timestamps.slice(0, 900), values: values.slice(0, 900) }], { 'a/x.csv': [] }, 2500).series.length, 1);
});

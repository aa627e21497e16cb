// Streams that lose readings: which rows go, and how their windows and probation follow.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { listNabFiles, readNabSeries, readNabWindows } from './corpus.ts';
import { dropReadings, keptRows, windowsOverRows } from './drops.ts';
import { NAB_PROFILES, scoreCorpus } from './evaluate.ts';
import { probationaryLength, sweepFile } from './sweeper.ts';

const dir = join(import.meta.dirname, 'testdata');
const STEP = 300_000;

function stream(name: string, rows: number) {
  const timestamps = Array.from({ length: rows }, (_, i) => i * STEP);
  return { name, timestamps, values: timestamps.map((_, i) => i) };
}

/** lengths of the runs of zeros in `kept` */
function lossRuns(kept: Uint8Array): number[] {
  const runs: number[] = [];
  let run = 0;
  for (const k of kept) {
    if (k === 0) run++;
    else if (run > 0) {
      runs.push(run);
      run = 0;
    }
  }
  if (run > 0) runs.push(run);
  return runs;
}

test('the same seed and stream lose the same rows; another seed or stream loses others', () => {
  const plan = { share: 0.2, seed: 7 };
  const a = keptRows(5000, plan, 'a/x.csv');
  assert.deepEqual(keptRows(5000, plan, 'a/x.csv'), a);
  assert.notDeepEqual(keptRows(5000, { ...plan, seed: 8 }, 'a/x.csv'), a);
  assert.notDeepEqual(keptRows(5000, plan, 'a/y.csv'), a);
  // a stream's losses do not depend on which other streams run with it
  const alone = dropReadings([stream('a/x.csv', 5000)], { 'a/x.csv': [] }, plan).series[0]!;
  const together = dropReadings([stream('a/w.csv', 3000), stream('a/x.csv', 5000)], { 'a/w.csv': [], 'a/x.csv': [] }, plan).series[1]!;
  assert.deepEqual(together, alone);
});

test('the share lost is the plan\'s, independent losses in short runs, bursts in long ones', () => {
  const rows = 200_000;
  const independent = keptRows(rows, { share: 0.2, seed: 1 }, 'a/x.csv');
  const lost = rows - independent.reduce((s, k) => s + k, 0);
  assert.ok(Math.abs(lost / rows - 0.2) < 0.01, `lost ${lost / rows}`);
  const runs = lossRuns(independent);
  const mean = runs.reduce((s, r) => s + r, 0) / runs.length;
  assert.ok(Math.abs(mean - 1 / 0.8) < 0.05, `independent losses: runs of mean ${mean}, expected 1.25`);

  const bursts = keptRows(rows, { share: 0.2, burst: 12, seed: 1 }, 'a/x.csv');
  const lostInBursts = rows - bursts.reduce((s, k) => s + k, 0);
  assert.ok(Math.abs(lostInBursts / rows - 0.2) < 0.02, `lost ${lostInBursts / rows}`);
  const burstRuns = lossRuns(bursts);
  const burstMean = burstRuns.reduce((s, r) => s + r, 0) / burstRuns.length;
  assert.ok(Math.abs(burstMean - 12) < 1, `bursts: runs of mean ${burstMean}, expected 12`);
});

test('at share 0 nothing changes: the same rows, windows and scores', () => {
  const windows = readNabWindows(join(dir, 'windows.json'));
  const series = listNabFiles(join(dir, 'data')).map((f) => readNabSeries(f.path, f.name));
  const dropped = dropReadings(series, windows, { share: 0, seed: 3 });
  assert.deepEqual(dropped.series, series);
  assert.deepEqual(dropped.windows, windows);
  const scored = (s: typeof series) => s.map((x) => ({ name: x.name, timestamps: x.timestamps, scores: x.values.map((_, i) => (i % 97 === 0 ? 1 : 0)) }));
  assert.deepEqual(scoreCorpus(scored(dropped.series), dropped.windows, 'standard', NAB_PROFILES.standard!), scoreCorpus(scored(series), windows, 'standard', NAB_PROFILES.standard!));
});

test('a window keeps the rows left inside its span: its limits move in to them, an empty one goes', () => {
  const timestamps = [0, 2, 3, 5, 9, 10].map((i) => i * STEP);
  assert.deepEqual(
    windowsOverRows(timestamps, [
      [1 * STEP, 4 * STEP], // rows 1 and 4 lost: the window runs from 2 to 3
      [6 * STEP, 8 * STEP], // every row in it lost
      [9 * STEP, 10 * STEP], // untouched
      [10 * STEP, 12 * STEP], // runs past the end
    ]),
    [
      [2 * STEP, 3 * STEP],
      [9 * STEP, 10 * STEP],
      [10 * STEP, 10 * STEP],
    ],
  );
});

test('a dropped stream is scored on the rows left: its windows are rows, its probation 15% of them', () => {
  const s = stream('a/x.csv', 3000);
  const windows = { 'a/x.csv': [[1500 * STEP, 1700 * STEP] as [number, number]] };
  const { series, windows: left } = dropReadings([s], windows, { share: 0.3, burst: 20, seed: 5 });
  const d = series[0]!;
  const kept = keptRows(3000, { share: 0.3, burst: 20, seed: 5 }, 'a/x.csv');
  assert.equal(d.timestamps.length, kept.reduce((a, k) => a + k, 0));
  // the values go with their timestamps
  d.timestamps.forEach((t, i) => assert.equal(d.values[i], t / STEP));
  const [[start, end]] = left['a/x.csv']! as [[number, number]];
  assert.ok(start >= 1500 * STEP && end <= 1700 * STEP);
  assert.ok(d.timestamps.includes(start) && d.timestamps.includes(end));
  // every row left in the span is in the window, no row outside it is
  const inside = d.timestamps.filter((t) => t >= 1500 * STEP && t <= 1700 * STEP).length;
  const swept = sweepFile('a/x.csv', d.timestamps, new Float64Array(d.timestamps.length), left['a/x.csv']!, NAB_PROFILES.standard!);
  assert.equal(swept.rows, d.timestamps.length);
  assert.equal(swept.scores.length, d.timestamps.length - Math.ceil(probationaryLength(d.timestamps.length)));
  assert.equal(swept.window.filter((w) => w === 0).length, inside);
  assert.equal(swept.windows, 1);
});

test('bad plans are refused', () => {
  assert.throws(() => keptRows(10, { share: 0.95, seed: 1 }, 'a'), /share/);
  assert.throws(() => keptRows(10, { share: -0.1, seed: 1 }, 'a'), /share/);
  assert.throws(() => keptRows(10, { share: 0.8, burst: 2, seed: 1 }, 'a'), /burst length must be at least 4/);
  assert.throws(() => keptRows(10, { share: 0.2, seed: 1.5 }, 'a'), /seed/);
});

// The scorer against NAB's published results: fed the published anomaly_score outputs of the
// numenta (HTM) and windowedGaussian detectors at their published thresholds, it must give the
// published per-file scores and counts, under all three profiles.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readNabSeries, readNabWindows } from './corpus.ts';
import { NAB_PROFILES } from './evaluate.ts';
import { normalizedScore, probationaryLength, scaledSigmoid, scoreAtThreshold, sweepFile, sweepThresholds } from './sweeper.ts';

const dir = join(import.meta.dirname, 'testdata');
const windows = readNabWindows(join(dir, 'windows.json'));
const thresholds = JSON.parse(readFileSync(join(dir, 'thresholds.json'), 'utf8')) as Record<string, Record<string, { threshold: number }>>;

function published(detector: string, profile: string) {
  const lines = readFileSync(join(dir, 'results', detector, `${detector}_${profile}_scores.csv`), 'utf8').trim().split(/\r?\n/).slice(1);
  return lines.map((l) => {
    const c = l.split(',');
    return { file: c[2]!, score: Number(c[4]), tp: Number(c[5]), tn: Number(c[6]), fp: Number(c[7]), fn: Number(c[8]), total: Number(c[9]) };
  });
}

for (const detector of ['numenta', 'windowedGaussian']) {
  for (const profile of Object.keys(NAB_PROFILES)) {
    test(`reproduces the published ${detector} ${profile} per-file scores`, () => {
      const rows = published(detector, profile);
      assert.equal(rows.length, 3);
      const cost = NAB_PROFILES[profile]!;
      const threshold = thresholds[detector]![profile]!.threshold;
      for (const row of rows) {
        const [category, base] = row.file.split('/') as [string, string];
        const s = readNabSeries(join(dir, 'results', detector, category, `${detector}_${base}`), row.file, 'anomaly_score');
        const got = scoreAtThreshold(sweepFile(row.file, s.timestamps, s.values, windows[row.file]!, cost), threshold, cost);
        assert.ok(Math.abs(got.score - row.score) < 1e-6, `${row.file}: ${got.score} != ${row.score}`);
        assert.deepEqual({ tp: got.tp, tn: got.tn, fp: got.fp, fn: got.fn, total: got.total }, { tp: row.tp, tn: row.tn, fp: row.fp, fn: row.fn, total: row.total }, row.file);
      }
    });
  }
}

test('scaled sigmoid and probation follow the NAB definitions', () => {
  assert.ok(Math.abs(scaledSigmoid(-1) - 0.98661) < 1e-5);
  assert.ok(Math.abs(scaledSigmoid(-0.5) - 0.84828) < 1e-5);
  assert.equal(scaledSigmoid(0), 0);
  assert.equal(scaledSigmoid(3), -1);
  assert.equal(probationaryLength(4032), 604);
  assert.equal(probationaryLength(22695), 750);
});

test('a hand-made file: early detection earns the most, misses cost fnWeight, FPs after a window cost little', () => {
  const cost = NAB_PROFILES.standard!;
  const ts = Array.from({ length: 200 }, (_, i) => i * 60_000);
  const win: [number, number][] = [[ts[100]!, ts[119]!]];
  const none = sweepFile('f', ts, new Array(200).fill(0), win, cost);
  assert.equal(scoreAtThreshold(none, 0.5, cost).score, -1);
  const early = new Array(200).fill(0);
  early[100] = 1;
  const late = new Array(200).fill(0);
  late[118] = 1;
  const e = scoreAtThreshold(sweepFile('f', ts, early, win, cost), 0.5, cost).score;
  const l = scoreAtThreshold(sweepFile('f', ts, late, win, cost), 0.5, cost).score;
  assert.ok(Math.abs(e - 1) < 1e-9, `window start scores tpWeight, got ${e}`);
  assert.ok(l > 0 && l < 0.3, `near the end scores little, got ${l}`);
  const fpBefore = new Array(200).fill(0);
  fpBefore[50] = 1;
  assert.ok(Math.abs(scoreAtThreshold(sweepFile('f', ts, fpBefore, win, cost), 0.5, cost).score - (-1 - 0.11)) < 1e-9);
  // points in the probation period are not scored
  const inProbation = new Array(200).fill(0);
  inProbation[10] = 1;
  assert.equal(scoreAtThreshold(sweepFile('f', ts, inProbation, win, cost), 0.5, cost).fp, 0);
});

test('the threshold sweep finds the best threshold and normalises against the null detector', () => {
  const cost = NAB_PROFILES.standard!;
  const ts = Array.from({ length: 200 }, (_, i) => i * 60_000);
  const win: [number, number][] = [[ts[100]!, ts[119]!]];
  const scores = new Array(200).fill(0.1);
  scores[60] = 0.9; // a false positive, higher than the true one
  scores[101] = 0.7;
  const f = sweepFile('f', ts, scores, win, cost);
  const { best, curve } = sweepThresholds([f], cost);
  assert.equal(best.threshold, 0.7);
  assert.ok(Math.abs(best.score - scoreAtThreshold(f, 0.7, cost).score) < 1e-12);
  assert.equal(curve[0]!.score, -1); // above every score: nothing detected
  assert.equal(normalizedScore(-1, 1, 1, cost), 0);
  assert.equal(normalizedScore(1, 1, 1, cost), 100);
});

// The full grid of `eval nab --cv category`: its first-stage settings run beside the detector give
// what a run with each setting gives, and the cross-validation's bookkeeping holds for every
// candidate, first-stage ones included: nothing of a held-out category reaches its choice.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prng } from '../../kernel/prng.ts';
import type { NabSeries, NabWindows } from './corpus.ts';
import { bestOnTraining, categoryOf, crossValidate, type Chooser } from './crossval.ts';
import { gridCandidates, NAB_PROFILES } from './evaluate.ts';
import { scoreSeries, scoreStreams } from './runs.ts';
import { runApart } from './apart-runs.ts';
import { cvGrid, FIRST_STAGE_STEPS, FORECASTER_STEPS, JUDGE_STEPS, retrains } from './grid.ts';
import { defaultTrainOptions } from '../model/train.ts';
import { defaultDetectorParams } from '../detector/detector.ts';

const cost = NAB_PROFILES.standard!;
const STEP = 300_000;
const T0 = 1_400_000_000_000;

test('the full grid moves each data-picked setting one step either side, one at a time, crossed with the tail share', () => {
  const grid = cvGrid('full', defaultDetectorParams);
  const moved = Object.keys(FIRST_STAGE_STEPS).length + Object.keys(JUDGE_STEPS).length;
  assert.equal(grid.points.length, 3 * (1 + 2 * moved));
  assert.equal(grid.stages.length, 1 + 2 * Object.keys(FIRST_STAGE_STEPS).length);
  assert.deepEqual(grid.points.slice(0, 3).map((p) => p.label), ['default', 'contextTailShare=0.005', 'contextTailShare=0.02']);
  assert.equal(new Set(grid.points.map((p) => p.label)).size, grid.points.length);
  for (const p of grid.points) assert.ok(Object.keys(p.moved).filter((k) => k !== 'contextTailShare').length <= 1, p.label);
  assert.deepEqual(grid.settings.levelWindow, [400, 288, 576]);
  // the narrow grid is the tail share alone, on the detector's own first stage
  const tail = cvGrid('tail', defaultDetectorParams);
  assert.deepEqual(tail.points.map((p) => p.label), ['default', 'contextTailShare=0.005', 'contextTailShare=0.02']);
  assert.equal(tail.stages.length, 1);
  assert.ok(!grid.stages.some(retrains), 'without the model there is no forecaster to set');
});

test("with the model, the full grid also moves the forecaster's settings, each a run of its own", () => {
  const grid = cvGrid('full', defaultDetectorParams, defaultTrainOptions);
  const moved = Object.keys(FIRST_STAGE_STEPS).length + Object.keys(JUDGE_STEPS).length + Object.keys(FORECASTER_STEPS).length;
  assert.equal(grid.points.length, 3 * (1 + 2 * moved));
  const retrained = grid.stages.filter(retrains);
  assert.equal(retrained.length, 2 * Object.keys(FORECASTER_STEPS).length);
  // a forecaster stage moves the training alone, a surprise stage the surprises alone
  for (const s of retrained) assert.deepEqual(s.surprise, {});
  for (const s of grid.stages.filter((s) => !retrains(s))) assert.deepEqual(s.training, {});
  assert.deepEqual(grid.settings.taps, [5, 3, 7]);
  assert.deepEqual(grid.settings.minCorrelation, [0.5, 0.4, 0.6]);
  const p = grid.points.find((q) => q.label === 'hidden=32 contextTailShare=0.02')!;
  assert.deepEqual(grid.stages[p.stage], { surprise: {}, training: { hidden: 32 } });
  assert.deepEqual(p.judge, { contextTailShare: 0.02 });
});

test("a first-stage setting run beside the detector gives what the detector run with it gives, the forecaster's trainings included", { timeout: 120_000 }, async () => {
  // a daily cycle long enough for the forecaster to train (400 steps) and retrain (800, 1600)
  const rand = prng(11);
  const n = 1700;
  const values = Array.from({ length: n }, (_, i) => 10 + 4 * Math.sin((2 * Math.PI * i) / 288) + rand() * 0.5 + (i === 1500 ? 6 : 0));
  const timestamps = Array.from({ length: n }, (_, i) => T0 + i * STEP);
  const firstStages = cvGrid('full', defaultDetectorParams).stages.slice(1).map((s) => s.surprise);
  const beside = await scoreSeries(values, timestamps, { model: true, firstStages });
  assert.ok(beside.surprises[0]!.forecast.some(Number.isFinite), 'the forecaster was trained and judged');
  for (const [k, setting] of firstStages.entries()) {
    const alone = await scoreSeries(values, timestamps, { model: true, params: { ...defaultDetectorParams, ...setting } });
    assert.deepEqual(beside.surprises[k + 1], alone.surprises[0], JSON.stringify(setting));
  }
  // and the settings do change the figures: the comparison can fail
  assert.notDeepEqual(beside.surprises[1]!.novelty, beside.surprises[0]!.novelty);
});

test("a forecaster setting's run in a worker thread gives what the same run gives in this thread, and differs from the detector's", { timeout: 120_000 }, async () => {
  const rand = prng(12);
  const n = 1700;
  const timestamps = Array.from({ length: n }, (_, i) => T0 + i * STEP);
  const data: NabSeries[] = ['a/one.csv', 'b/two.csv'].map((name) => ({ name, timestamps, values: timestamps.map((_, i) => 10 + 4 * Math.sin((2 * Math.PI * i) / 288) + rand() * 4) }));
  const settings = [{ taps: 3 }, { minCorrelation: 0.99 }];
  const apart = await runApart(data, settings.map((training) => ({ label: JSON.stringify(training), run: { model: true, training } })), undefined, 2);
  const mine = await scoreStreams(data, { model: true });
  for (const [k, training] of settings.entries()) {
    const here = await scoreStreams(data, { model: true, training });
    assert.deepEqual(apart[k], here.kept[0], JSON.stringify(training));
    assert.notDeepEqual(apart[k]!.map((f) => f.forecast), mine.kept[0]!.map((f) => f.forecast), JSON.stringify(training));
  }
  // a period held to a correlation of 0.99 is never used: no model, no forecast surprise
  assert.ok(apart[1]!.every((f) => f.forecast.every(Number.isNaN)));
  assert.ok(mine.kept[0]!.every((f) => f.forecast.some(Number.isFinite)));
});

/** Three categories of two files, each with a labelled window around a level shift. */
function corpus(seed: number): { data: NabSeries[]; windows: NabWindows } {
  const rand = prng(seed);
  const data: NabSeries[] = [];
  const windows: NabWindows = {};
  const n = 1400;
  const timestamps = Array.from({ length: n }, (_, i) => T0 + i * STEP);
  for (const c of ['alpha', 'beta', 'gamma']) {
    for (const f of ['one', 'two']) {
      const name = `${c}/${f}.csv`;
      const at = 600 + Math.floor(rand() * 600);
      const amp = 1 + rand() * 3;
      const values = timestamps.map((_, i) => amp * Math.sin((2 * Math.PI * i) / 288) + rand() + (i >= at && i < at + 12 ? 8 * rand() : 0));
      data.push({ name, timestamps, values });
      windows[name] = [[timestamps[at - 30]!, timestamps[at + 30]!]];
    }
  }
  return { data, windows };
}

/** The full grid's candidates on a corpus, cross-validated with a chooser that records what it is shown. */
async function crossValidateGrid(data: NabSeries[], windows: NabWindows) {
  const grid = cvGrid('full', defaultDetectorParams);
  const { series, kept } = await scoreStreams(data, { model: false, firstStages: grid.stages.slice(1).map((s) => s.surprise) });
  const candidates = gridCandidates(grid, series, kept, defaultDetectorParams);
  const shown: { names: string[]; candidates: number; raw: number }[] = [];
  const chooser: Chooser = (train, c) => {
    const names = new Set<string>();
    for (const files of train) for (const f of files) names.add(f.name);
    const choice = bestOnTraining(train, c);
    shown.push({ names: [...names].sort(), candidates: train.length, raw: choice.raw });
    return choice;
  };
  const cv = crossValidate(candidates, windows, cost, { chooser });
  return { grid, candidates, cv, shown };
}

test('with the full grid, a held-out category reaches nothing of the choice made for it, first-stage candidates included', { timeout: 60_000 }, async () => {
  const base = corpus(5);
  const before = await crossValidateGrid(base.data, base.windows);
  const all = base.data.map((s) => s.name);
  assert.equal(before.candidates.length, before.grid.points.length);
  before.cv.parts.forEach((part, i) => {
    assert.equal(before.shown[i]!.candidates, before.grid.points.length);
    assert.deepEqual(before.shown[i]!.names, all.filter((n) => categoryOf(n) !== part.category).sort());
  });
  // the first-stage candidates differ from the default: they are in play
  const levelWindow = before.candidates.find((c) => c.label === 'levelWindow=288')!;
  assert.notDeepEqual(levelWindow.series.map((s) => Array.from(s.scores)), before.candidates[0]!.series.map((s) => Array.from(s.scores)));

  // scramble everything of "beta", values and labels, and run the whole grid again on it: the
  // first stage of every setting sees the scrambled streams
  const rand = prng(77);
  const windows: NabWindows = { ...base.windows };
  const data = base.data.map((s) => {
    if (categoryOf(s.name) !== 'beta') return s;
    windows[s.name] = [[s.timestamps[300]!, s.timestamps[340]!]];
    return { ...s, values: s.values.map(() => 20 * rand()) };
  });
  const after = await crossValidateGrid(data, windows);
  const beta = before.cv.parts.findIndex((p) => p.category === 'beta');
  assert.equal(after.cv.parts[beta]!.candidate, before.cv.parts[beta]!.candidate);
  assert.equal(after.cv.parts[beta]!.threshold, before.cv.parts[beta]!.threshold);
  assert.equal(after.shown[beta]!.raw, before.shown[beta]!.raw);
  // the folds that train on beta did see the scramble: the test can fail
  for (let i = 0; i < 3; i++) if (i !== beta) assert.notEqual(after.shown[i]!.raw, before.shown[i]!.raw);
});

// The cross-validation's bookkeeping: a choice made for a held-out category never sees anything of
// that category (its files, scores or labels), and the held-out parts add up to the reported score.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prng } from '../../kernel/prng.ts';
import type { NabWindows } from './corpus.ts';
import { atFireLevels, bestOnTraining, categoryOf, crossValidate, type Candidate, type Chooser, type ScoredSeries } from './crossval.ts';
import { judge, NAB_PROFILES, scoreCorpus, type SeriesSurprises } from './evaluate.ts';
import { cvGrid } from './grid.ts';
import { defaultDetectorParams, StreamDetector } from '../detector/detector.ts';

const cost = NAB_PROFILES.standard!;
const STEP = 300_000;

/** A small corpus: three categories of two files, each file with one labelled window. */
function corpus(seed: number): { windows: NabWindows; candidates: Candidate[] } {
  const rand = prng(seed);
  const windows: NabWindows = {};
  const names: string[] = [];
  for (const c of ['alpha', 'beta', 'gamma']) for (const f of ['one', 'two']) names.push(`${c}/${f}.csv`);
  const timestamps = Array.from({ length: 600 }, (_, i) => 1_400_000_000_000 + i * STEP);
  const starts = new Map<string, number>();
  for (const n of names) {
    const start = 200 + Math.floor(rand() * 300);
    starts.set(n, start);
    windows[n] = [[timestamps[start]!, timestamps[start + 40]!]];
  }
  // each candidate finds the window with its own strength, against its own level of noise
  const candidates: Candidate[] = [0.3, 0.6].map((noise, k) => ({
    label: `noise-${noise}`,
    series: names.map((name): ScoredSeries => {
      const scores = Float64Array.from({ length: timestamps.length }, () => rand() * noise);
      scores[starts.get(name)! + 2 + k] = 0.8 + rand() * 0.2;
      return { name, timestamps, scores };
    }),
  }));
  return { windows, candidates };
}

/** A chooser that records what it was shown and delegates to the real one. */
function spy() {
  const shown: string[][] = [];
  const chooser: Chooser = (train, c) => {
    const names = new Set<string>();
    for (const files of train) for (const f of files) names.add(f.name);
    shown.push([...names].sort());
    return bestOnTraining(train, c);
  };
  return { shown, chooser };
}

test('each held-out category is chosen for on the other categories only', () => {
  const { windows, candidates } = corpus(1);
  const { shown, chooser } = spy();
  const cv = crossValidate(candidates, windows, cost, { chooser });
  assert.deepEqual(cv.parts.map((p) => p.category), ['alpha', 'beta', 'gamma']);
  assert.equal(shown.length, 3);
  const all = candidates[0]!.series.map((s) => s.name);
  cv.parts.forEach((part, i) => {
    // every training file is shown, and nothing of the held-out one
    assert.deepEqual(shown[i], all.filter((n) => categoryOf(n) !== part.category).sort());
  });
});

test("a held-out category's scores and labels do not move the choice made for it", () => {
  const base = corpus(2);
  // what each fold's choice earned on its training files: it moves whenever the training data does
  const earned = (cands: Candidate[], w: NabWindows) => {
    const raws: number[] = [];
    const cv = crossValidate(cands, w, cost, { chooser: (train, c) => {
      const choice = bestOnTraining(train, c);
      raws.push(choice.raw);
      return choice;
    } });
    return { cv, raws };
  };
  const before = earned(base.candidates, base.windows);
  // scramble everything of "beta": other scores, windows elsewhere
  const rand = prng(99);
  const windows: NabWindows = { ...base.windows };
  const candidates = base.candidates.map((c) => ({
    label: c.label,
    series: c.series.map((s) => {
      if (categoryOf(s.name) !== 'beta') return s;
      windows[s.name] = [[s.timestamps[100]!, s.timestamps[130]!]];
      return { ...s, scores: Float64Array.from({ length: s.timestamps.length }, () => rand()) };
    }),
  }));
  const after = earned(candidates, windows);
  const beta = before.cv.parts.findIndex((p) => p.category === 'beta');
  assert.equal(after.cv.parts[beta]!.threshold, before.cv.parts[beta]!.threshold);
  assert.equal(after.cv.parts[beta]!.candidate, before.cv.parts[beta]!.candidate);
  assert.equal(after.raws[beta], before.raws[beta]);
  // the folds that train on beta did see the scramble: the test can fail
  for (let i = 0; i < 3; i++) if (i !== beta) assert.notEqual(after.raws[i], before.raws[i]);
});

test('the held-out parts add up to the cross-validated score', () => {
  const { windows, candidates } = corpus(3);
  const cv = crossValidate(candidates, windows, cost);
  const sum = cv.parts.reduce((a, p) => a + p.raw, 0);
  assert.ok(Math.abs(sum - cv.cvRaw) < 1e-9);
  // a chooser that always answers the same threshold gives the in-sample score at that threshold
  const fixed: Chooser = () => ({ candidate: 0, threshold: 0.75, raw: 0 });
  const same = crossValidate(candidates, windows, cost, { chooser: fixed });
  const inSample = scoreCorpus(candidates[0]!.series, windows, 'standard', cost, 0.75);
  assert.ok(Math.abs(same.cvScore - inSample.score) < 1e-9, `${same.cvScore} != ${inSample.score}`);
  for (const p of same.parts) assert.ok(Math.abs(p.raw - inSample.categories[p.category]!.raw) < 1e-9);
  // each part at its own best threshold (the oracle reported beside cv) does at least as well
  for (const p of cv.parts) assert.ok(p.own_raw >= p.raw - 1e-9, `${p.category}: own ${p.own_raw} < ${p.raw}`);
  assert.ok(cv.ownScore >= cv.cvScore - 1e-9);
  // and choosing in-sample can only do at least as well as choosing out of sample
  const best = Math.max(...candidates.map((c) => scoreCorpus(c.series, windows, 'standard', cost).score));
  assert.ok(cv.cvScore <= best + 1e-9);
});

test('cross-validation refuses candidates run on different files, or a single category', () => {
  const { windows, candidates } = corpus(4);
  const short = { label: 'short', series: candidates[1]!.series.slice(1) };
  assert.throws(() => crossValidate([candidates[0]!, short], windows, cost), /not run on the same files/);
  const one = [{ label: 'one', series: candidates[0]!.series.filter((s) => categoryOf(s.name) === 'alpha') }];
  assert.throws(() => crossValidate(one, windows, cost), /at least two categories/);
});

test("the judging grid replays each stream's own detector: every member learns from that stream's kept figures alone", () => {
  // the grid's candidates are scored from the first stage's kept figures (judge()); a member that
  // learned from anything else (another stream, a label, the order of the files) would make the
  // replay differ from what the detector said while it ran. Two streams, one of them young and
  // bursty, so the transition member and the tail check both speak
  const rand = prng(7);
  const streams = [
    Array.from({ length: 5000 }, (_, i) => 10 + 3 * Math.sin((2 * Math.PI * i) / 288) + rand() * 0.3 + (i > 3000 ? 4 : 0)),
    Array.from({ length: 3000 }, () => (rand() < 0.02 ? 50 * rand() : rand())),
  ];
  const kept: SeriesSurprises[] = [];
  const said: Float64Array[] = [];
  const kinds = new Set<string>();
  for (const values of streams) {
    const d = new StreamDetector(defaultDetectorParams);
    const n = values.length;
    const s: SeriesSurprises = { value: new Float64Array(n), novelty: new Float64Array(n), forecast: new Float64Array(n), stepped: new Uint8Array(n).fill(1) };
    const scores = new Float64Array(n);
    values.forEach((x, i) => {
      const v = d.update(x);
      scores[i] = v.score;
      kinds.add(v.kind);
      s.value[i] = d.last!.value;
      s.novelty[i] = d.last!.novelty;
      s.forecast[i] = d.last!.forecast;
    });
    kept.push(s);
    said.push(scores);
  }
  assert.ok(said.some((sc) => sc.some((v) => v >= defaultDetectorParams.fireLevel)), 'the streams raise something');
  assert.ok(kinds.has('transition'), `kinds seen: ${[...kinds].join(', ')}`);
  // every judging setting of the full grid (smoothing, fire level, transition member, tail share)
  for (const c of cvGrid('full', defaultDetectorParams).points) {
    const params = { ...defaultDetectorParams, ...c.judge };
    // in either order, each stream's replay is the same
    const forward = kept.map((s) => judge(s, params));
    const backward = [...kept].reverse().map((s) => judge(s, params)).reverse();
    assert.deepEqual(forward, backward);
  }
  kept.forEach((s, i) => assert.deepEqual(judge(s, defaultDetectorParams), said[i]));
});

test('at each setting\'s fire level: the threshold of a fold is its chosen setting\'s level, chosen on the other categories only', () => {
  const { windows, candidates } = corpus(4);
  const levels = [0.75, 0.5];
  const shown: string[][] = [];
  const raws: number[] = [];
  const tied = atFireLevels(levels);
  const cv = crossValidate(candidates, windows, cost, { chooser: (train, c) => {
    shown.push([...new Set(train.flatMap((files) => files.map((f) => f.name)))].sort());
    const choice = tied(train, c);
    raws.push(choice.raw);
    return choice;
  } });
  const all = candidates[0]!.series.map((s) => s.name);
  cv.parts.forEach((part, i) => {
    assert.deepEqual(shown[i], all.filter((n) => categoryOf(n) !== part.category).sort());
    const k = candidates.findIndex((c) => c.label === part.candidate);
    assert.equal(part.threshold, levels[k], 'no threshold but the setting\'s own level');
    // the choice is the better of the two settings at their levels on the training files
    const trainingRaw = (j: number) => scoreCorpus(candidates[j]!.series.filter((s) => categoryOf(s.name) !== part.category), windows, 'standard', cost, levels[j]).raw;
    assert.equal(raws[i], trainingRaw(k));
    assert.ok(trainingRaw(k) >= trainingRaw(1 - k));
  });
  assert.throws(() => crossValidate(candidates, windows, cost, { chooser: atFireLevels([0.7]) }), /no fire level for candidate 1/);
});

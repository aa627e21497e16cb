// The stream detector's behaviour: causal, silent while it learns, quiet on a clean signal,
// one detection per event, new extremes and unseen shapes at the edges of the range found, unseen
// shapes at ordinary levels left alone, flat lines handled.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultDetectorParams, deviceDetectorParams, deviceDetectorParamsAt, StreamDetector, type Forecaster } from './detector.ts';
import { RangeGrowth } from './judge.ts';
import { NeighbourNovelty } from './neighbours.ts';

/** a daily-like wave with deterministic noise */
function wave(n: number, period = 100): number[] {
  let seed = 12345;
  const noise = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * 0.2;
  return Array.from({ length: n }, (_, i) => 10 + 3 * Math.sin((2 * Math.PI * i) / period) + noise());
}

function run(values: number[], forecaster: Forecaster | null = null, params = defaultDetectorParams) {
  const d = new StreamDetector(params, forecaster);
  return values.map((v) => d.update(v));
}

test('scores are causal: changing the future does not change the past', () => {
  const a = wave(1500);
  const b = a.slice(0, 1000).concat(a.slice(1000).map((v) => v * 5 - 40));
  const sa = run(a).map((v) => v.score);
  const sb = run(b).map((v) => v.score);
  assert.deepEqual(sb.slice(0, 1000), sa.slice(0, 1000));
  assert.notDeepEqual(sb.slice(1000), sa.slice(1000));
});

test('nothing is reported while learning, and a clean periodic signal raises almost nothing', () => {
  const out = run(wave(3000));
  assert.ok(out.slice(0, defaultDetectorParams.warmup).every((v) => v.score === 0));
  const detections = out.filter((v) => v.score >= defaultDetectorParams.fireLevel).length;
  assert.ok(detections <= 3, `${detections} detections on a clean signal`);
});

test('a spike is detected once, then the detector holds its fire', () => {
  const values = wave(2000);
  for (let i = 1500; i < 1510; i++) values[i] = 30; // an event lasting ten readings
  const out = run(values);
  const hits = out.map((v, i) => (v.score >= defaultDetectorParams.fireLevel ? i : -1)).filter((i) => i >= 0);
  assert.ok(hits.includes(1500), `detections at ${hits.join(',')}`);
  assert.equal(out[1500]!.kind, 'range');
  for (let i = 1501; i <= 1500 + defaultDetectorParams.suppress; i++) assert.equal(out[i]!.score, 0, `reading ${i} during the hold-off`);
});

test("a young stream's records are judged against how fast its range has been growing", () => {
  // a daily peak that comes a little higher every day (a stream that has not yet shown its whole
  // range): each day sets a record by about as much as the days before did, which is how its
  // range has been growing, not an anomaly
  const days = (n: number) => wave(n).map((v, i) => (i % 100 === 50 ? v + 5 + Math.floor(i / 100) : v));
  const rising = run(days(1200));
  assert.ok(rising.slice(600).every((v) => v.kind !== 'range'), 'a record in the pace of the growth');
  // a record far beyond that pace still is one
  const jump = days(1200);
  jump[1050] = 60;
  assert.equal(run(jump)[1050]!.kind, 'range');
});

test('range growth is measured over the last doubling of the history, above and below', () => {
  const g = new RangeGrowth();
  let min = 0;
  let max = 1;
  for (let seen = 1; seen <= 64; seen++) {
    if (seen === 40) max = 3; // between the checkpoints at 32 and 64
    if (seen === 50) min = -0.5;
    g.update(seen, min, max);
    if (seen < 64) assert.equal(g.up, 0, `${seen}`);
  }
  assert.equal(g.up, 2);
  assert.equal(g.down, 0.5);
});

test('as the device runs it, a new extreme is not a detection by itself (the rules judge levels there)', () => {
  const values = wave(2000);
  for (let i = 1500; i < 1510; i++) values[i] = 30;
  assert.ok(run(values, null, deviceDetectorParams).every((v) => v.kind !== 'range'));
  assert.equal(run(values)[1500]!.kind, 'range');
});

test('a new shape reaching the edge of the usual range is found by the context detector', () => {
  const values = wave(3000);
  // the wave turns into a square wave that touches its usual peaks and troughs: no new extreme,
  // a new shape at values that few readings go beyond
  for (let i = 2000; i < 2300; i++) values[i] = 10 + (Math.sin((2 * Math.PI * i) / 100) > 0 ? 3.08 : -3.08);
  const out = run(values);
  assert.ok(out.slice(2000, 2300).every((v) => v.kind !== 'range'), 'a new extreme');
  const first = out.findIndex((v, i) => i >= 2000 && v.score >= defaultDetectorParams.fireLevel);
  assert.ok(first >= 2000 && first < 2100, `first detection at ${first}`);
  assert.equal(out[first]!.kind, 'context');
});

test('a new shape at an ordinary level is not an anomaly', () => {
  const values = wave(3000);
  // the wave stops at its mean for a while: never seen, but at a level it passes all the time
  for (let i = 2000; i < 2150; i++) values[i] = 10;
  const detections = (params: typeof defaultDetectorParams) => run(values, null, params).filter((v, i) => i >= 2000 && v.score >= params.fireLevel).length;
  assert.equal(detections(defaultDetectorParams), 0);
  // without the check of where the value stands, the same stretch is a context detection
  assert.ok(detections({ ...defaultDetectorParams, contextTailShare: 1 }) > 0);
});

test('a flat line raises nothing, and leaving it is an anomaly', () => {
  const values = Array.from({ length: 1000 }, () => 42);
  values.push(43);
  const out = run(values);
  assert.ok(out.slice(0, 1000).every((v) => v.score < 0.1));
  assert.equal(out[1000]!.score, 1);
});

/** a forecaster that knows the wave exactly (as a model of a periodic stream would) */
class KnownWave implements Forecaster {
  version = 1;
  private i = 0;
  private readonly wave: number[];

  constructor(wave: number[]) {
    this.wave = wave;
  }
  forecast(): number {
    return this.wave[this.i]!;
  }
  observe(): void {
    this.i++;
  }
}

test('a forecaster that knows the period finds a missing peak the other detectors cannot', () => {
  const clean = wave(4000);
  const values = clean.slice();
  // one peak does not come: the values stay where the previous trough left them, inside the range
  for (let i = 3025; i < 3075; i++) values[i] = 10 + 3 * Math.sin((2 * Math.PI * 3025) / 100);
  const params = { ...defaultDetectorParams, contextLength: 8 };
  const without = run(values, null, params);
  assert.ok(without.slice(3025, 3075).every((v) => v.score < params.fireLevel), 'found without the forecaster');
  const withModel = run(values, new KnownWave(clean), params);
  const hit = withModel.findIndex((v, i) => i >= 3025 && v.score >= params.fireLevel);
  assert.ok(hit >= 3025 && hit < 3075, `first detection with the forecaster at ${hit}`);
  assert.equal(withModel[hit]!.kind, 'forecast');
});

test('the errors of a model are judged only once a week of them has been seen', () => {
  const clean = wave(3000);
  const values = clean.slice();
  // the missing peak of the test above, but while the model's error history is younger than a week
  for (let i = 1525; i < 1575; i++) values[i] = 10 + 3 * Math.sin((2 * Math.PI * 1525) / 100);
  const out = run(values, new KnownWave(clean));
  assert.ok(out.slice(1525, 1600).every((v) => v.kind !== 'forecast'));
});

test('a retrained forecaster is given time before its errors count', () => {
  const clean = wave(1200);
  const f = new KnownWave(clean);
  const d = new StreamDetector(defaultDetectorParams, f);
  const kinds: string[] = [];
  for (let i = 0; i < 1200; i++) {
    if (i === 1000) f.version++;
    kinds.push(d.update(i >= 1000 && i < 1000 + defaultDetectorParams.forecastWarmup ? clean[i]! + 5 : clean[i]!).kind);
  }
  // the errors right after the retrain are learned from, not reported as forecast surprises
  assert.ok(kinds.slice(1000, 1000 + defaultDetectorParams.forecastWarmup).every((k) => k !== 'forecast'));
});

test('a model whose errors are very steady does not alarm when they change by a fraction of their size', () => {
  const clean = wave(4000);
  // a forecaster off by a constant 0.2, then by 0.3 for a while: half its usual error more
  class Biased extends KnownWave {
    at = 0;
    override forecast(): number {
      return super.forecast() + (this.at >= 3000 && this.at < 3100 ? 0.3 : 0.2);
    }
    override observe(): void {
      this.at++;
      super.observe();
    }
  }
  const detections = (params: typeof defaultDetectorParams) =>
    run(clean, new Biased(clean), params).filter((v, i) => i >= 3000 && v.kind === 'forecast' && v.score >= params.fireLevel).length;
  assert.equal(detections(defaultDetectorParams), 0);
  // without the floor on the history's deviation the same change is a many-sigma event
  assert.ok(detections({ ...defaultDetectorParams, forecastDeviation: 1e-3 }) > 0);
});

test('neighbour novelty: a repeated shape scores zero, an unseen one does not', () => {
  const n = new NeighbourNovelty(4, 50);
  const pattern = [0, 1, 2, 1];
  let last = Number.NaN;
  for (let i = 0; i < 80; i++) last = n.update(pattern[i % 4]!, 1);
  assert.equal(last, 0);
  for (const v of [5, 7, 5]) last = n.update(v, 1);
  assert.ok(last > 1, `novelty ${last}`);
  assert.ok(Number.isNaN(new NeighbourNovelty(4, 50).update(1, 1)), 'no history, no score');
});

test("a young stream's unseen transitions at its tails are judged, and only while it is young", () => {
  // a wave whose trough, on some days, drops to a new floor for a few steps: a new transition at
  // the tails; the same drop after the tail check's window has filled is left to the other members
  const values = wave(9000);
  const drops = [1275, 2575, 5075, 7575];
  for (const at of drops) for (let i = at; i < at + 3; i++) values[i] = 4;
  const out = run(values);
  const transition = out.flatMap((v, i) => (v.kind === 'transition' ? [i] : []));
  assert.ok(transition.length > 0 && transition.every((i) => i <= defaultDetectorParams.contextTailWindow), `transition verdicts at ${transition.join(',')}`);
  assert.ok(out.slice(0, 2600).some((v) => v.score >= defaultDetectorParams.fireLevel), 'the young drops are found');
  // off, it says nothing
  const off = run(values, null, { ...defaultDetectorParams, transitionLength: 0 });
  assert.ok(off.every((v) => v.kind !== 'transition'));
});

test('scores do not depend on the stream\'s unit: a stream in other units (scaled by a power of two, so that arithmetic is exact) scores the same', () => {
  // a stream with events of each kind the members find: a spike, a new shape at the tails, a level shift
  const values = wave(5000);
  for (let i = 1500; i < 1506; i++) values[i] = 25;
  for (let i = 2600; i < 2640; i++) values[i] = 13.5 + ((i % 7) - 3) * 0.4;
  for (let i = 4000; i < 5000; i++) values[i]! += 4;
  const base = run(values);
  assert.ok(base.filter((v) => v.score >= defaultDetectorParams.fireLevel).length >= 2, 'the events are found');
  for (const unit of [2 ** -20, 2 ** -3, 2 ** 10, 2 ** 30]) {
    const scaled = run(values.map((v) => v * unit));
    assert.deepEqual(scaled, base, `scaled by ${unit}`);
  }
});

test('a score silences the steps after it only at the fire level: the device sets that to the operator\'s alert threshold', () => {
  // a new shape at the tails scoring about 0.37, then a record ten steps later
  const values = wave(2200);
  for (let i = 2000; i < 2004; i++) values[i]! += 2.74;
  values[2010] = 20;
  const at = (fireLevel: number) => run(values, null, { ...defaultDetectorParams, fireLevel });
  const first = Math.max(...at(0.5).slice(1995, 2008).map((v) => v.score));
  assert.ok(first > 0.3 && first < 0.5, `the first event scores ${first}`);
  assert.equal(at(0.5)[2010]!.score, 1, 'under the fire level the first event silences nothing: the record is reported');
  assert.equal(at(0.3)[2010]!.score, 0, 'at a fire level under it, the first event is the alert and the record falls in its quiet');
  assert.equal(deviceDetectorParamsAt(0.85).fireLevel, 0.85);
  assert.equal(deviceDetectorParamsAt(0.85).newExtremes, false);
});

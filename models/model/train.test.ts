// The TensorFlow.js forecaster: it finds a stream's period, learns to forecast from the values one
// period ago, runs the same in plain JS as in TensorFlow.js, survives a save and load through the
// file handlers, and declines to train on a stream that does not repeat.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { MlpForecaster, forecastError, improves } from './forecaster.ts';
import { defaultDetectorParams } from '../detector/detector.ts';
import { StreamScorer, defaultModelPolicy } from '../stream-scorer.ts';
import { dominantPeriod } from './season.ts';
import { loadForecaster, saveForecaster, trainChallenger, trainerInThread, trainForecaster } from './train.ts';

const dir = mkdtempSync(join(tmpdir(), 'fp-model-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function noise(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5);
}

/** a square-ish daily profile of `period` readings, with noise */
function daily(n: number, period: number): Float64Array {
  const r = noise(7);
  return Float64Array.from({ length: n }, (_, i) => 50 + (i % period < period / 3 ? 20 : 0) + 5 * Math.sin((2 * Math.PI * i) / period) + r());
}

test('the period is found from the autocorrelation, and a wandering or noisy stream has none', () => {
  assert.equal(dominantPeriod(daily(1200, 96), 8, 1000), 96);
  const r = noise(3);
  let walk = 0;
  assert.equal(dominantPeriod(Float64Array.from({ length: 1200 }, () => (walk += r())), 8, 1000), 0);
  assert.equal(dominantPeriod(Float64Array.from({ length: 1200 }, r), 8, 1000), 0);
  assert.equal(dominantPeriod(new Float64Array(1200).fill(3), 8, 1000), 0);
});

test('trains on a periodic history, forecasts it, and saves and loads through the tf.io handlers', { timeout: 60_000 }, async () => {
  const period = 96;
  const history = daily(1200, period);
  const trained = await trainForecaster(history);
  assert.ok(trained, 'a periodic history is learned');
  const w = trained.weights;
  assert.equal(w.period, period);
  assert.equal(w.taps, 5);
  // the plain JS forward pass agrees with TensorFlow.js on the same inputs
  const f = new MlpForecaster();
  f.setWeights(w);
  for (const v of history) f.observe(v);
  const js = f.forecast();
  const inputs = [];
  for (let k = 0; k < w.taps; k++) inputs.push((history[history.length - period - 2 + k]! - w.mean) / w.std);
  // the network forecasts the change from one period ago
  const tfOut = history[history.length - period]! + (trained.model.predict(tf.tensor2d([inputs])) as tf.Tensor).dataSync()[0]! * w.std;
  assert.ok(Math.abs(js - tfOut) < 1e-3, `js ${js} vs tfjs ${tfOut}`);
  // the next value is in the high part of the profile: the forecast must know it
  const next = daily(1201, period)[1200]!;
  assert.ok(Math.abs(js - next) < 4, `forecast ${js}, actual ${next}`);
  await saveForecaster(trained.model, dir);
  trained.model.dispose();
  const loaded = await loadForecaster(dir);
  assert.equal(loaded.period, period);
  assert.deepEqual(Array.from(loaded.w1), Array.from(w.w1));
  const g = new MlpForecaster();
  g.setWeights(loaded);
  for (const v of history) g.observe(v);
  assert.equal(g.forecast(), js);
});

test("the evaluations' trainer takes the network's shape and the period's test from its options", { timeout: 60_000 }, async () => {
  const history = daily(1200, 96);
  const shaped = await trainerInThread({ taps: 3, hidden: 8 })(history, null);
  assert.equal(shaped?.taps, 3);
  assert.equal(shaped?.b1.length, 8);
  assert.equal(shaped?.period, 96);
  // a period must correlate at least this well to be used: none here does, so there is no model
  const r = noise(5);
  const blurred = Float64Array.from(history, (v) => v + 60 * r());
  assert.notEqual(await trainerInThread({ minCorrelation: 0.2 })(blurred, null), null);
  assert.equal(await trainerInThread({ minCorrelation: 0.95 })(blurred, null), null);
});

test('no model is trained for a stream that does not repeat, or from too little history', async () => {
  const r = noise(11);
  assert.equal(await trainForecaster(Float64Array.from({ length: 1200 }, r)), null);
  assert.equal(await trainForecaster(daily(60, 20)), null);
});

test('a damaged saved model is refused with the file named', async () => {
  const bad = join(dir, 'bad');
  await assert.rejects(loadForecaster(bad), /no saved model/);
  const trained = await trainForecaster(daily(1200, 96));
  await saveForecaster(trained!.model, bad);
  trained!.model.dispose();
  writeFileSync(join(bad, 'weights.bin'), Buffer.alloc(10));
  await assert.rejects(loadForecaster(bad), /weights\.bin: 10 bytes, the manifest needs/);
});

test('a forecast with a shifted period reads the values that much further back (or less)', () => {
  // a network that predicts no change: its forecast is the value one period ago
  const f = new MlpForecaster();
  f.setWeights({ lags: 0, period: 10, taps: 5, hidden: 1, mean: 0, std: 1, w1: new Float32Array(5), b1: new Float32Array(1), w2: new Float32Array(1), b2: new Float32Array(1), trainedOn: 0, trainedAt: 0, loss: 0 });
  for (let i = 0; i < 11; i++) f.observe(i);
  assert.ok(Number.isNaN(f.forecast()), 'not enough history for the taps yet');
  for (let i = 11; i < 50; i++) f.observe(i);
  assert.equal(f.forecast(), 40);
  assert.equal(f.forecast(1), 39);
  assert.equal(f.forecast(-2), 42);
  // taps that would reach the present are not read: the unshifted forecast stands in
  assert.equal(f.forecast(-8), 40);
});

test('a retrained model replaces the current one only if it forecasts the history better', async () => {
  // networks that predict no change: each forecasts the value one period ago
  const naive = (period: number) => ({ lags: 0, period, taps: 5, hidden: 1, mean: 0, std: 1, w1: new Float32Array(5), b1: new Float32Array(1), w2: new Float32Array(1), b2: new Float32Array(1), trainedOn: 0, trainedAt: 0, loss: 0 });
  const wave = (i: number) => Math.sin((2 * Math.PI * i) / 24);
  const series = Float64Array.from({ length: 400 }, (_, i) => wave(i));
  assert.ok(forecastError(naive(24), series) < 1e-20);
  assert.ok(forecastError(naive(17), series) > 0.1);
  assert.ok(improves(naive(24), null, series));
  assert.ok(improves(naive(24), naive(22), series));
  assert.ok(!improves(naive(17), naive(24), series));
  // the scorer hands its current model to the training, which decides (as the worker does)
  const offers = [naive(22), naive(24), naive(17)];
  const seen: (number | null)[] = [];
  const policy = { ...defaultModelPolicy, minTrainReadings: 100, retrainReadings: 100, retrainIntervalMs: 0, historySize: 300 };
  const scorer = new StreamScorer(defaultDetectorParams, policy, async (h, current) => {
    seen.push(current?.period ?? null);
    const w = offers.shift();
    return w && improves(w, current, h) ? w : null;
  });
  for (let i = 0; i < 1000; i++) {
    // a reading every 5 minutes: each one a step of the detector
    scorer.score(wave(i), i * 300_000);
    if (scorer.pendingTraining) await scorer.pendingTraining;
  }
  assert.deepEqual(seen.slice(0, 4), [null, 22, 24, 24]);
  assert.equal(scorer.model?.period, 24);
});

test('a challenger that does not forecast better than the current model is disposed, not returned', async () => {
  const history = daily(1200, 96);
  const first = await trainForecaster(history);
  assert.ok(first);
  first.model.dispose();
  // a model is never better than itself
  assert.equal(await trainChallenger(history, first.weights), 'kept');
  const fresh = await trainChallenger(history, null);
  assert.ok(fresh && fresh !== 'kept');
  fresh.model.dispose();
});

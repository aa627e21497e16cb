// Training the forecaster with TensorFlow.js (tfjs-core + tfjs-layers) on a stream's own history:
// a small dense network that predicts the next value from the last `lags` values, all in units
// normalised by the history's mean and deviation. The wasm backend is used, the cpu one when
// wasm cannot start. This runs in the training worker, never on the pipeline's thread.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { fileLoadHandler, fileSaveHandler } from './file-io.ts';
import { calendarPeriod, dominantPeriod } from './season.ts';
import { checkWeights, type ForecasterWeights } from './weights.ts';
import { forecastError, improves } from './forecaster.ts';
import { prng } from '../../kernel/prng.ts';

export interface TrainOptions {
  /** latest values the network sees (may be 0 when it sees taps) */
  lags: number;
  /** train only when the history has a period (otherwise return null) */
  seasonalOnly: boolean;
  /** the shortest period looked for, in readings */
  minPeriod: number;
  /** values around one period ago it also sees, when the history has a period (0 = never) */
  taps: number;
  /** the longest period looked for, in readings */
  maxPeriod: number;
  hidden: number;
  epochs: number;
  /** most training windows taken, the latest ones */
  maxExamples: number;
  learningRate: number;
  seed: number;
  /** the stream's time step in ms, for the calendar's periods (0 = unknown) */
  stepMs: number;
  /** the autocorrelation at a period's lag for the period to be used (discovered or the calendar's) */
  minCorrelation: number;
}

export const defaultTrainOptions: TrainOptions = { lags: 0, seasonalOnly: true, taps: 5, minPeriod: 8, maxPeriod: 1000, hidden: 16, epochs: 12, maxExamples: 3000, learningRate: 0.01, seed: 1, stepMs: 0, minCorrelation: 0.5 };

let backend: Promise<string> | null = null;

/** wasm if it starts, else cpu; resolves to the backend in use. */
export function initBackend(prefer: 'wasm' | 'cpu' = 'wasm'): Promise<string> {
  backend ??= (async () => {
    if (prefer === 'wasm') {
      try {
        if (await tf.setBackend('wasm')) {
          await tf.ready();
          return 'wasm';
        }
      } catch {
        // fall through to cpu
      }
    }
    await tf.setBackend('cpu');
    await tf.ready();
    return 'cpu';
  })();
  return backend;
}

function buildModel(o: TrainOptions, inputs: number): tfl.Sequential {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [inputs], units: o.hidden, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: o.seed }) }),
      tfl.layers.dense({ units: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: o.seed + 1 }) }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(o.learningRate), loss: 'meanSquaredError' });
  return model;
}

export interface Trained {
  model: tfl.LayersModel;
  weights: ForecasterWeights;
}

/**
 * Train on `history` (oldest first). When the history repeats with a period (found from its
 * autocorrelation), the network also sees the values around one period before the one it
 * forecasts. Returns null when the history is too short to learn from.
 */
export async function trainForecaster(history: ArrayLike<number>, opts: Partial<TrainOptions> = {}): Promise<Trained | null> {
  const o = { ...defaultTrainOptions, ...opts };
  const n = history.length;
  const half = Math.floor(o.taps / 2);
  const minLag = Math.max(o.lags + half + 1, o.minPeriod);
  // a period the history shows twice, else a calendar one it shows once (with 50 windows to learn from)
  let period = o.taps > 0 ? dominantPeriod(history, minLag, o.maxPeriod, o.minCorrelation) : 0;
  if (o.taps > 0 && period === 0) period = calendarPeriod(history, o.stepMs, minLag, o.maxPeriod, half + 50, o.minCorrelation);
  const taps = period > 0 ? o.taps : 0;
  // a forecaster that sees nothing but the latest values learns to repeat the last one, which
  // says no more than the jump between readings does: only a stream that repeats gets a model
  if (o.seasonalOnly && period === 0) return null;
  const lookBack = taps > 0 ? Math.max(o.lags, period + half) : o.lags;
  const inputs = o.lags + taps;
  const windows = Math.min(o.maxExamples, n - lookBack);
  if (inputs === 0 || windows < Math.max(50, inputs * 2)) return null;
  await initBackend();
  const first = n - windows; // index of the first value forecast
  let mean = 0;
  for (let i = first - lookBack; i < n; i++) mean += history[i]!;
  mean /= n - first + lookBack;
  let v = 0;
  for (let i = first - lookBack; i < n; i++) v += (history[i]! - mean) ** 2;
  const std = Math.sqrt(v / (n - first + lookBack)) || Math.max(Math.abs(mean) * 1e-3, 1e-6);
  const order = Array.from({ length: windows }, (_, i) => i);
  const rand = prng(o.seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const xs = new Float32Array(windows * inputs);
  const ys = new Float32Array(windows);
  // the same layout as MlpForecaster.forecast: latest values oldest first, then the taps
  order.forEach((w, row) => {
    const at = first + w;
    for (let k = 0; k < o.lags; k++) xs[row * inputs + k] = (history[at - o.lags + k]! - mean) / std;
    for (let k = 0; k < taps; k++) xs[row * inputs + o.lags + k] = (history[at - period - half + k]! - mean) / std;
    ys[row] = (history[at]! - (taps > 0 ? history[at - period]! : mean)) / std;
  });
  const model = buildModel(o, inputs);
  const x = tf.tensor2d(xs, [windows, inputs]);
  const y = tf.tensor2d(ys, [windows, 1]);
  let loss = Number.NaN;
  try {
    const h = await model.fit(x, y, { epochs: o.epochs, batchSize: 32, shuffle: false, verbose: 0 });
    const last = h.history.loss?.at(-1);
    loss = typeof last === 'number' ? last : Number.NaN;
  } finally {
    x.dispose();
    y.dispose();
  }
  const meta = { lags: o.lags, period, taps, hidden: o.hidden, mean, std, trainedOn: n, trainedAt: Date.now(), loss, error: Number.NaN };
  const weights = weightsOf(model, meta);
  weights.error = meta.error = Math.sqrt(forecastError(weights, history));
  model.setUserDefinedMetadata({ fieldproof: meta });
  return { model, weights };
}

/**
 * Train a challenger to the model in use (`current`, null when there is none): the new model, or
 * 'kept' when the current one forecasts the same history at least as well (the new one is then
 * disposed), or null when the history is too short or has no period.
 */
export async function trainChallenger(history: ArrayLike<number>, current: ForecasterWeights | null, opts: Partial<TrainOptions> = {}): Promise<Trained | 'kept' | null> {
  const trained = await trainForecaster(history, opts);
  if (!trained || improves(trained.weights, current, history)) return trained;
  trained.model.dispose();
  return 'kept';
}

/**
 * Training as the device's worker does it (train-worker.ts), in the calling thread: for the
 * evaluations, which wait for each training so that their results do not depend on the machine.
 * `opts` moves the network's shape or training off the defaults (the cross-validation's grid).
 */
export function trainerInThread(opts: Partial<TrainOptions> = {}) {
  return async (history: Float64Array, current: ForecasterWeights | null, stepMs = 0): Promise<ForecasterWeights | null> => {
    const r = await trainChallenger(history, current, { ...opts, stepMs });
    return r && r !== 'kept' ? r.weights : null;
  };
}

/** the device's training (the defaults), in the calling thread */
export const trainInThread = trainerInThread();

type Meta = Omit<ForecasterWeights, 'w1' | 'b1' | 'w2' | 'b2'>;

function weightsOf(model: tfl.LayersModel, meta: Meta): ForecasterWeights {
  const [w1, b1, w2, b2] = model.getWeights().map((t) => t.dataSync() as Float32Array);
  if (!w1 || !b1 || !w2 || !b2) throw new Error('the forecaster has an unexpected shape');
  const w: ForecasterWeights = { ...meta, w1: Float32Array.from(w1), b1: Float32Array.from(b1), w2: Float32Array.from(w2), b2: Float32Array.from(b2) };
  const problem = checkWeights(w);
  if (problem) throw new Error(`trained forecaster is unusable: ${problem}`);
  return w;
}

export async function saveForecaster(model: tfl.LayersModel, dir: string): Promise<void> {
  await model.save(fileSaveHandler(dir));
}

/** Load a saved forecaster; throws (naming the file) if it is missing or damaged. */
export async function loadForecaster(dir: string): Promise<ForecasterWeights> {
  await initBackend();
  const model = await tfl.loadLayersModel(fileLoadHandler(dir));
  try {
    const meta = (model.getUserDefinedMetadata() as { fieldproof?: Meta } | undefined)?.fieldproof;
    if (!meta || typeof meta.lags !== 'number' || typeof meta.mean !== 'number' || typeof meta.std !== 'number') throw new Error(`${dir}/model.json: no forecaster metadata`);
    // models saved before seasonal inputs existed have neither field: no period, no taps
    return weightsOf(model, { lags: meta.lags, period: meta.period ?? 0, taps: meta.taps ?? 0, hidden: meta.hidden, mean: meta.mean, std: meta.std, trainedOn: meta.trainedOn, trainedAt: meta.trainedAt, loss: meta.loss, error: meta.error ?? Number.NaN });
  } finally {
    model.dispose();
  }
}

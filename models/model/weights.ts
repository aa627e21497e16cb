// The forecaster's learned parameters as plain numbers, and its forward pass in plain JS: scoring
// runs for every reading (tens of thousands a second), so it must not go through TensorFlow.js
// tensors one reading at a time. Training (train.ts) produces these from a tfjs-layers model.

export interface ForecasterWeights {
  /** how many of the latest values the network sees */
  lags: number;
  /** the stream's period in readings found at training time (0 = none) */
  period: number;
  /** values around one period ago the network also sees (centred on t - period; 0 when period is 0) */
  taps: number;
  hidden: number;
  /** normalisation learned from the training history */
  mean: number;
  std: number;
  /** dense 1: kernel [(lags + taps) x hidden] row-major, bias [hidden] */
  w1: Float32Array;
  b1: Float32Array;
  /** dense 2: kernel [hidden x 1], bias [1] */
  w2: Float32Array;
  b2: Float32Array;
  /** readings the model was trained on, and when */
  trainedOn: number;
  trainedAt: number;
  /** mean squared error on the training windows, normalised units */
  loss: number;
  /**
   * root-mean-square one-step error over the history it was trained on, in the stream's units:
   * what its errors are taken to be until the detector has measured them (NaN: unknown)
   */
  error?: number;
}

/** The network's inputs: the last `lags` values (oldest first), then `taps` values around one period ago. */
export function inputCount(w: Pick<ForecasterWeights, 'lags' | 'taps'>): number {
  return w.lags + w.taps;
}

/** Next value forecast from its inputs (see inputCount), in the stream's units. */
export function forward(w: ForecasterWeights, window: ArrayLike<number>, scratch = new Float64Array(w.hidden)): number {
  const { hidden, w1, b1, w2, b2, mean, std } = w;
  const inputs = inputCount(w);
  for (let h = 0; h < hidden; h++) scratch[h] = b1[h]!;
  for (let i = 0; i < inputs; i++) {
    const x = (window[i]! - mean) / std;
    const row = i * hidden;
    for (let h = 0; h < hidden; h++) scratch[h]! += x * w1[row + h]!;
  }
  let out = b2[0]!;
  for (let h = 0; h < hidden; h++) {
    const a = scratch[h]!;
    if (a > 0) out += a * w2[h]!;
  }
  // with taps the network forecasts the change from the value one period ago (a residual on top
  // of the seasonal naive forecast): it starts from what the period says and learns corrections
  if (w.taps > 0) return window[w.lags + Math.floor(w.taps / 2)]! + out * std;
  return out * std + mean;
}

export function checkWeights(w: ForecasterWeights): string | null {
  if (!Number.isInteger(w.lags) || w.lags < 0 || !Number.isInteger(w.hidden) || w.hidden < 1) return 'lags and hidden must be whole numbers, hidden positive';
  if (w.lags + w.taps < 1) return 'the network needs at least one input';
  if (!Number.isInteger(w.period) || w.period < 0 || !Number.isInteger(w.taps) || w.taps < 0 || (w.taps > 0 && w.period < w.lags + Math.floor(w.taps / 2) + 1)) return 'period and taps must be whole and leave the taps in the past';
  if (w.w1.length !== inputCount(w) * w.hidden || w.b1.length !== w.hidden || w.w2.length !== w.hidden || w.b2.length !== 1) return 'weight shapes do not match lags and hidden';
  if (!(w.std > 0) || !Number.isFinite(w.mean)) return 'normalisation is not finite';
  for (const a of [w.w1, w.b1, w.w2, w.b2]) for (const v of a) if (!Number.isFinite(v)) return 'weights are not finite';
  return null;
}

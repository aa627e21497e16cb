// A Forecaster for the stream detector that runs the learned network's weights on the last values.
// Until a model is trained (or loaded) it forecasts nothing, and the detector relies on its
// statistical surprises alone.
import type { Forecaster } from '../detector/detector.ts';
import { forward, inputCount, type ForecasterWeights } from './weights.ts';

export class MlpForecaster implements Forecaster {
  private weights: ForecasterWeights | null = null;
  private readonly ring: Float64Array;
  private readonly window: Float64Array;
  private scratch = new Float64Array(1);
  private head = 0;
  private filled = 0;
  version = 0;

  private readonly maxLags: number;

  /** `maxLags`: the longest history a model may look back on (its period plus half its taps) */
  constructor(maxLags = 1100) {
    this.maxLags = maxLags;
    this.ring = new Float64Array(maxLags);
    this.window = new Float64Array(maxLags);
  }

  /** Swap in new weights (after a retrain); the value history is kept. */
  setWeights(w: ForecasterWeights | null): void {
    if (w && (lookBack(w) > this.maxLags || inputCount(w) > this.maxLags)) throw new Error(`model looks back ${lookBack(w)} readings, at most ${this.maxLags} are kept`);
    this.weights = w;
    this.version++;
    if (w && this.scratch.length < w.hidden) this.scratch = new Float64Array(w.hidden);
  }

  get model(): ForecasterWeights | null {
    return this.weights;
  }

  get trainedError(): number {
    return this.weights?.error ?? Number.NaN;
  }

  forecast(shift = 0): number {
    const w = this.weights;
    if (!w || this.filled < lookBack(w) + Math.abs(shift)) return Number.NaN;
    // a shift that would make the taps reach the present (or a model without taps): unshifted
    if (shift !== 0 && (w.taps === 0 || w.period + shift - Math.floor(w.taps / 2) < 1)) return this.forecast(0);
    // the inputs: the latest `lags` values (oldest first), then the taps around one period
    // (+ shift) before the value forecast; ring indices wrap without a modulo per value
    const ring = this.ring;
    const size = this.maxLags;
    const win = this.window;
    let j = 0;
    for (let back = w.lags; back >= 1; back--) {
      const idx = this.head - back;
      win[j++] = ring[idx < 0 ? idx + size : idx]!;
    }
    for (let back = w.period + shift + Math.floor(w.taps / 2), k = 0; k < w.taps; k++, back--) {
      const idx = this.head - back;
      win[j++] = ring[idx < 0 ? idx + size : idx]!;
    }
    return forward(w, win, this.scratch);
  }

  observe(value: number): void {
    this.ring[this.head] = value;
    this.head = (this.head + 1) % this.maxLags;
    if (this.filled < this.maxLags) this.filled++;
  }
}

/**
 * Mean squared one-step error of a model over `history` (oldest first), forecasting every value
 * from index `from` on (at least as far in as its inputs reach); NaN when the history is too
 * short for it. The history is fed to a forecaster as the detector feeds it, so the inputs are
 * gathered and the network run by the same code.
 */
export function forecastError(w: ForecasterWeights, history: ArrayLike<number>, from = 0): number {
  const f = new MlpForecaster(Math.max(lookBack(w), inputCount(w)));
  f.setWeights(w);
  const first = Math.max(lookBack(w), from);
  let sum = 0;
  let count = 0;
  for (let t = 0; t < history.length; t++) {
    if (t >= first) {
      const e = history[t]! - f.forecast();
      sum += e * e;
      count++;
    }
    f.observe(history[t]!);
  }
  return count > 0 ? sum / count : Number.NaN;
}

/**
 * Whether a newly trained model should replace the one in use: it must forecast the history it
 * was trained on better than the current one does. A retrain can settle on a worse period (a
 * harmonic, or a daily cycle where the weekly one was learned) from a stretch of history where the
 * true one is blurred; the model in use is then kept.
 */
export function improves(candidate: ForecasterWeights, current: ForecasterWeights | null, history: ArrayLike<number>): boolean {
  if (!current) return true;
  // both judged on the same values: those the longer-reaching model can forecast
  const from = Math.max(lookBack(candidate), lookBack(current));
  const old = forecastError(current, history, from);
  if (!Number.isFinite(old)) return true;
  return forecastError(candidate, history, from) < old;
}

/** how far back a model's inputs reach */
function lookBack(w: ForecasterWeights): number {
  return w.taps > 0 ? Math.max(w.lags, w.period + Math.floor(w.taps / 2)) : w.lags;
}

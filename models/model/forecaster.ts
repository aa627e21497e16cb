// A Forecaster for the stream detector that runs the learned network's weights on the last values.
// Until a model is trained (or loaded) it forecasts nothing, and the detector relies on its
// statistical surprises alone.
import type { Forecaster } from '../detector/detector.ts';
import { forward, type ForecasterWeights } from './weights.ts';

export class MlpForecaster implements Forecaster {
  private weights: ForecasterWeights | null = null;
  private readonly ring: Float64Array;
  private readonly window: Float64Array;
  private scratch = new Float64Array(1);
  private head = 0;
  private filled = 0;

  constructor(private readonly maxLags = 64) {
    this.ring = new Float64Array(maxLags);
    this.window = new Float64Array(maxLags);
  }

  /** Swap in new weights (after a retrain); the value history is kept. */
  setWeights(w: ForecasterWeights | null): void {
    if (w && w.lags > this.maxLags) throw new Error(`model needs ${w.lags} lags, at most ${this.maxLags} are kept`);
    this.weights = w;
    if (w && this.scratch.length < w.hidden) this.scratch = new Float64Array(w.hidden);
  }

  get model(): ForecasterWeights | null {
    return this.weights;
  }

  forecast(): number {
    const w = this.weights;
    if (!w || this.filled < w.lags) return Number.NaN;
    for (let i = 0; i < w.lags; i++) this.window[i] = this.ring[(this.head - w.lags + i + this.maxLags * 2) % this.maxLags]!;
    return forward(w, this.window, this.scratch);
  }

  observe(value: number): void {
    this.ring[this.head] = value;
    this.head = (this.head + 1) % this.maxLags;
    if (this.filled < this.maxLags) this.filled++;
  }
}

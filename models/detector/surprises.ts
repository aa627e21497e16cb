// The first stage of the stream detector: what is surprising about each step, before any
// judgement of how much surprise is too much. The costly part (the nearest-neighbour search, the
// forecaster's forward passes) lives here, so that an evaluation can keep these figures per step
// and try the judging stage (judge.ts) with other settings without running this one again.
//   - novelty: how far the shape of the last few steps is from its nearest neighbour among the
//     stretches of the recent past, in units of the stream's recent spread (NaN until there is
//     a past to compare with);
//   - forecast: the error of the learned forecaster, in units of its usual error (NaN while there
//     is no model, or its usual error is not known yet).
import { NeighbourNovelty } from './neighbours.ts';
import { RollingStats } from './stats.ts';

export interface SurpriseParams {
  /** steps in the spread estimate that scales the context distances, and in the forecast errors' */
  levelWindow: number;
  /** steps in the context vector of the neighbour detector */
  contextLength: number;
  /** past stretches searched for the nearest neighbour */
  contextMemory: number;
  /** errors a (re)trained forecaster must make before its measured usual error is used */
  forecastWarmup: number;
  /** the forecaster's usual error is taken as at least this fraction of the stream's spread */
  forecastFloor: number;
  /** steps a periodic event may come early or late without surprising the forecast */
  forecastJitter: number;
}

/** A one-step forecaster fed the recent values; returns NaN until it can forecast. */
export interface Forecaster {
  /**
   * The next value; with `shift` (-1 or 1) as if the stream's period were that much shorter or
   * longer (a forecaster without a period ignores it).
   */
  forecast(shift?: number): number;
  observe(value: number): void;
  /** changes whenever the forecaster is retrained: its errors are then measured afresh */
  readonly version: number;
  /** its one-step error (RMS) over what it was trained on; NaN or absent when unknown */
  readonly trainedError?: number;
}

export interface Surprises {
  value: number;
  novelty: number;
  forecast: number;
}

const CAP = 20;

function ratio(x: number, scale: number): number {
  if (scale > 0) return Math.min(x / scale, CAP);
  return x === 0 ? 0 : CAP;
}

export class SurpriseSource {
  private readonly level: RollingStats;
  private readonly errors: RollingStats;
  private readonly context: NeighbourNovelty;
  private min = Number.POSITIVE_INFINITY;
  private max = Number.NEGATIVE_INFINITY;
  private forecasterVersion = 0;

  private readonly p: SurpriseParams;
  private readonly forecaster: Forecaster | null;

  constructor(
    p: SurpriseParams,
    forecaster: Forecaster | null = null,
  ) {
    this.p = p;
    this.forecaster = forecaster;
    this.level = new RollingStats(p.levelWindow);
    this.errors = new RollingStats(p.levelWindow);
    this.context = new NeighbourNovelty(p.contextLength, p.contextMemory);
  }

  update(x: number): Surprises {
    const p = this.p;
    // a scale floor for quantised or flat-lined streams, so a tiny change is not infinitely surprising
    const floor = Math.max((this.max - this.min) * 1e-3, Math.abs(this.max) * 1e-9, 1e-12);
    const spread = Math.max(this.level.std(), floor);
    const novelty = this.context.update(x, spread);
    let forecast = Number.NaN;
    const f = this.forecaster;
    if (f) {
      if (f.version !== this.forecasterVersion) {
        // a retrained model errs differently: its old errors say nothing about its new ones
        this.forecasterVersion = f.version;
        this.errors.reset();
      }
      const expected = f.forecast();
      if (Number.isFinite(expected)) {
        // a periodic event that comes a few steps early or late is not an anomaly: the error is
        // the smallest of the forecasts with the period as it is and up to forecastJitter steps
        // shorter or longer
        let e = Math.abs(x - expected);
        for (let shift = -p.forecastJitter; shift <= p.forecastJitter; shift++) {
          if (shift === 0) continue;
          const g = f.forecast(shift);
          if (Number.isFinite(g) && Math.abs(x - g) < e) e = Math.abs(x - g);
        }
        // until its errors have been measured, a new model is taken to err as it did on the
        // history it was trained on; a model without that figure is not judged until then
        const measured = this.errors.count >= p.forecastWarmup;
        const trained = f.trainedError ?? Number.NaN;
        const usual = measured ? Math.sqrt(this.errors.mean() ** 2 + this.errors.variance()) : trained;
        // a model's usual error on a clean signal can be tiny: errors are measured against at
        // least a fraction of the stream's spread, so its small imperfections are not alarms
        if (measured || Number.isFinite(trained)) forecast = ratio(e, Math.max(usual, p.forecastFloor * spread));
        this.errors.push(e);
      }
      f.observe(x);
    }
    this.level.push(x);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    return { value: x, novelty, forecast };
  }
}

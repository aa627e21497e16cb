// The causal anomaly detector for one stream (a sensor's metric). Each update sees only the
// readings up to now. Three detectors look at the stream, each in its own way:
//   - context: how far the shape of the last few readings is from its nearest neighbour among
//     the stretches of the recent past (a nearest-neighbour non-conformity in the spirit of
//     KNN-CAD), in units of the stream's recent spread;
//   - forecast: the error of the learned forecaster (the TensorFlow.js model's weights, run in
//     plain JS), which sees the values one period ago, against its usual error;
//   - range: a value beyond anything seen so far (by a small margin).
// A new shape counts only at a value in the tails of the stream's recent past: a stream's
// ordinary wiggles produce shapes never seen before all the time, and at ordinary levels they
// are not what anyone calls an anomaly (on NAB they were most of the false alarms, in the bursty
// Twitter streams above all).
// The first two are turned into tail probabilities against their own history: the mean of the
// last few surprises compared with their long-run mean and deviation, as Numenta's anomaly
// likelihood does, so a stream that is always erratic does not alarm all the time. The score is
// the stronger of the two on a log scale (-log10 of the tail probability / fullScale), or 1 for
// a new extreme. During the first `warmup` readings the detector learns and reports nothing;
// after a detection it stays silent for `suppress` readings: one event, one alert.
// Per-stream level, jump and spread z-scores were tried as further detectors: on the NAB corpus
// each one added more false alarms than detections.
import { RollingRanks, RollingStats, normalTail } from './stats.ts';
import { NeighbourNovelty } from './neighbours.ts';

export interface DetectorParams {
  /** readings in the spread estimate that scales the context distances, and in the forecast errors' */
  levelWindow: number;
  /** surprises averaged before the likelihood */
  smooth: number;
  /** readings of surprise history each likelihood compares against */
  historyWindow: number;
  /** readings before any score is given */
  warmup: number;
  /** readings after a detection during which nothing is reported */
  suppress: number;
  /** the score at or above which a reading counts as a detection (the default alert threshold) */
  fireLevel: number;
  /** -log10 of the tail probability that maps to a score of 1 */
  fullScale: number;
  /** a new extreme must exceed the seen range by this fraction of it */
  rangeMargin: number;
  /** readings in the context vector of the neighbour detector */
  contextLength: number;
  /** past stretches searched for the nearest neighbour */
  contextMemory: number;
  /** readings the context's tail check looks back on */
  contextTailWindow: number;
  /**
   * the context's surprise counts only for a value that at most this share of those readings lie
   * beyond, on its own side (above a high value, below a low one)
   */
  contextTailShare: number;
  /** weight of the forecaster's surprise (0 = off) */
  forecastWeight: number;
  /** errors a (re)trained forecaster must make before its surprise counts */
  forecastWarmup: number;
  /** the forecaster's usual error is taken as at least this fraction of the stream's spread */
  forecastFloor: number;
  /** readings a periodic event may come early or late without surprising the forecast */
  forecastJitter: number;
  /**
   * the least deviation the forecast surprise's history is taken to have, in units of the usual
   * error: a model whose errors are steadier than that does not make a change of a fraction of
   * its usual error an alarm
   */
  forecastDeviation: number;
}

export const defaultDetectorParams: DetectorParams = {
  levelWindow: 400,
  smooth: 4,
  historyWindow: 2000,
  warmup: 150,
  suppress: 30,
  fireLevel: 0.7,
  fullScale: 12,
  rangeMargin: 0.02,
  contextLength: 8,
  contextMemory: 300,
  contextTailWindow: 4000,
  contextTailShare: 0.01,
  forecastWeight: 1,
  forecastWarmup: 100,
  forecastFloor: 0.1,
  forecastJitter: 3,
  forecastDeviation: 1,
};

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
}

export type SurpriseKind = 'context' | 'forecast' | 'range';

export interface DetectorVerdict {
  /** 0..1, higher = more anomalous */
  score: number;
  /** which detector gave the score */
  kind: SurpriseKind | 'none';
}

/**
 * Numenta-style anomaly likelihood of one raw surprise: the mean of its last `smooth` values
 * against the mean and deviation of its history, as -log10 of the Gaussian tail probability.
 */
class Likelihood {
  private readonly recent: RollingStats;
  private readonly history: RollingStats;

  private readonly minDeviation: number;

  /** `minDeviation`: the least deviation the history is taken to have */
  constructor(
    smooth: number,
    history: number,
    minDeviation = 1e-3,
  ) {
    this.minDeviation = minDeviation;
    this.recent = new RollingStats(smooth);
    this.history = new RollingStats(history);
  }

  update(raw: number): number {
    this.recent.push(raw);
    const s = this.recent.mean();
    let out = 0;
    if (this.history.count >= 20) {
      const sd = Math.max(this.history.std(), this.minDeviation);
      out = -Math.log10(Math.max(normalTail((s - this.history.mean()) / sd), 1e-30));
    }
    this.history.push(s);
    return out;
  }
}

const CAP = 20;

function ratio(x: number, scale: number): number {
  if (scale > 0) return Math.min(x / scale, CAP);
  return x === 0 ? 0 : CAP;
}

export class StreamDetector {
  private readonly level: RollingStats;
  private readonly errors: RollingStats;
  private readonly context: NeighbourNovelty;
  private readonly contextLikelihood: Likelihood;
  private readonly recentValues: RollingRanks;
  private readonly forecastLikelihood: Likelihood;
  private seen = 0;
  private min = Number.POSITIVE_INFINITY;
  private max = Number.NEGATIVE_INFINITY;
  private sinceFire = Number.POSITIVE_INFINITY;
  private forecasterVersion = 0;

  private readonly p: DetectorParams;
  private readonly forecaster: Forecaster | null;

  constructor(
    p: DetectorParams = defaultDetectorParams,
    forecaster: Forecaster | null = null,
  ) {
    this.p = p;
    this.forecaster = forecaster;
    this.level = new RollingStats(p.levelWindow);
    this.errors = new RollingStats(p.levelWindow);
    this.context = new NeighbourNovelty(p.contextLength, p.contextMemory);
    this.contextLikelihood = new Likelihood(p.smooth, p.historyWindow);
    this.recentValues = new RollingRanks(p.contextTailWindow);
    // the forecast surprise is already in units of the usual error
    this.forecastLikelihood = new Likelihood(p.smooth, p.historyWindow, p.forecastDeviation);
  }

  update(x: number): DetectorVerdict {
    const p = this.p;
    this.seen++;
    let kind: DetectorVerdict['kind'] = 'none';
    let best = 0;

    // a scale floor for quantised or flat-lined streams, so a tiny change is not infinitely surprising
    const floor = Math.max((this.max - this.min) * 1e-3, Math.abs(this.max) * 1e-9, 1e-12);
    const spread = Math.max(this.level.std(), floor);
    const novelty = this.context.update(x, spread);
    if (Number.isFinite(novelty)) {
      const u = this.contextLikelihood.update(novelty);
      if (u > best && this.recentValues.shareBeyond(x) <= p.contextTailShare) (best = u), (kind = 'context');
    }
    if (this.forecaster && p.forecastWeight > 0) {
      if (this.forecaster.version !== this.forecasterVersion) {
        // a retrained model errs differently: its old errors say nothing about its new ones
        this.forecasterVersion = this.forecaster.version;
        this.errors.reset();
      }
      const f = this.forecaster.forecast();
      if (Number.isFinite(f)) {
        // a model's usual error on a clean signal can be tiny: errors are measured against at
        // least a fraction of the stream's spread, so its small imperfections are not alarms
        const usual = Math.max(Math.sqrt(this.errors.mean() ** 2 + this.errors.variance()), p.forecastFloor * spread);
        // a periodic event that comes a few readings early or late is not an anomaly: the error
        // is the smallest of the forecasts with the period as it is and up to forecastJitter
        // readings shorter or longer
        let e = Math.abs(x - f);
        for (let shift = -p.forecastJitter; shift <= p.forecastJitter; shift++) {
          if (shift === 0) continue;
          const g = this.forecaster.forecast(shift);
          if (Number.isFinite(g) && Math.abs(x - g) < e) e = Math.abs(x - g);
        }
        if (this.errors.count >= p.forecastWarmup) {
          const u = this.forecastLikelihood.update(ratio(e, usual)) * p.forecastWeight;
          if (u > best) (best = u), (kind = 'forecast');
        }
        this.errors.push(e);
      }
      this.forecaster.observe(x);
    }

    let score = Math.min(1, best / p.fullScale);

    // a value beyond the range seen so far
    if (this.seen > p.warmup && Number.isFinite(this.min)) {
      const span = Math.max(this.max - this.min, Math.abs(this.max) * 1e-6, 1e-9);
      if (x > this.max + p.rangeMargin * span || x < this.min - p.rangeMargin * span) {
        score = 1;
        kind = 'range';
      }
    }

    this.level.push(x);
    this.recentValues.push(x);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;

    if (this.seen <= p.warmup) return { score: 0, kind: 'none' };
    this.sinceFire++;
    if (this.sinceFire <= p.suppress) return { score: 0, kind: 'none' };
    if (score >= p.fireLevel) this.sinceFire = 0;
    return { score, kind };
  }
}

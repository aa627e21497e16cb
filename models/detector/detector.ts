// The causal anomaly detector for one stream (a sensor's metric). Each update sees only the
// readings up to now. Several kinds of surprise are measured:
//   - level: how far the value is from the recent mean, in recent standard deviations;
//   - jump: how unusual the step from the previous value is;
//   - forecast: the error of a learned forecaster (the TensorFlow.js model's weights, run in
//     plain JS here) against its usual error;
//   - range: a value beyond anything seen so far (by a margin).
// The strongest surprise is smoothed over a few readings and compared with its own history
// (an anomaly likelihood), so that a stream that is always noisy does not alarm all the time.
// After a detection the output is damped for a while: one event, one alert.
import { RollingStats, normalTail } from './stats.ts';

export interface DetectorParams {
  /** readings in the level statistics */
  levelWindow: number;
  /** readings in the jump statistics */
  jumpWindow: number;
  /** readings averaged before the likelihood */
  smooth: number;
  /** readings of surprise history the likelihood compares against */
  historyWindow: number;
  /** readings before any score is given */
  warmup: number;
  /** readings after a detection during which the output is damped */
  suppress: number;
  /** the score above which a reading counts as a detection (for suppression) */
  fireLevel: number;
  /** a new extreme must exceed the seen range by this fraction of it */
  rangeMargin: number;
  /** weight of the forecaster's surprise (0 = off) */
  forecastWeight: number;
}

export const defaultDetectorParams: DetectorParams = {
  levelWindow: 400,
  jumpWindow: 400,
  smooth: 12,
  historyWindow: 2000,
  warmup: 150,
  suppress: 300,
  fireLevel: 0.7,
  rangeMargin: 0.1,
  forecastWeight: 1,
};

/** A one-step forecaster fed the recent values; returns NaN until it can forecast. */
export interface Forecaster {
  forecast(): number;
  observe(value: number): void;
}

export interface DetectorVerdict {
  /** 0..1, higher = more anomalous */
  score: number;
  /** which surprise dominated: level, jump, forecast, range */
  kind: 'level' | 'jump' | 'forecast' | 'range' | 'none';
}

export class StreamDetector {
  private readonly level: RollingStats;
  private readonly jumps: RollingStats;
  private readonly errors: RollingStats;
  private readonly smoothBuf: RollingStats;
  private readonly history: RollingStats;
  private seen = 0;
  private prev = Number.NaN;
  private min = Number.POSITIVE_INFINITY;
  private max = Number.NEGATIVE_INFINITY;
  private sinceFire = Number.POSITIVE_INFINITY;

  constructor(
    private readonly p: DetectorParams = defaultDetectorParams,
    private readonly forecaster: Forecaster | null = null,
  ) {
    this.level = new RollingStats(p.levelWindow);
    this.jumps = new RollingStats(p.jumpWindow);
    this.errors = new RollingStats(p.jumpWindow);
    this.smoothBuf = new RollingStats(p.smooth);
    this.history = new RollingStats(p.historyWindow);
  }

  update(x: number): DetectorVerdict {
    const p = this.p;
    this.seen++;
    let kind: DetectorVerdict['kind'] = 'none';
    let surprise = 0;

    const ls = this.level.std();
    if (this.level.count >= 10) {
      const z = ls > 0 ? Math.abs(x - this.level.mean()) / ls : x === this.level.mean() ? 0 : 10;
      if (z > surprise) (surprise = z), (kind = 'level');
    }
    if (!Number.isNaN(this.prev) && this.jumps.count >= 10) {
      const d = Math.abs(x - this.prev);
      const js = Math.sqrt(this.jumps.mean() ** 2 + this.jumps.variance());
      const z = js > 0 ? d / js : d === 0 ? 0 : 10;
      if (z > surprise) (surprise = z), (kind = 'jump');
    }
    if (this.forecaster && p.forecastWeight > 0) {
      const f = this.forecaster.forecast();
      if (Number.isFinite(f)) {
        const e = Math.abs(x - f);
        if (this.errors.count >= 10) {
          const es = Math.sqrt(this.errors.mean() ** 2 + this.errors.variance());
          const z = (es > 0 ? e / es : e === 0 ? 0 : 10) * p.forecastWeight;
          if (z > surprise) (surprise = z), (kind = 'forecast');
        }
        this.errors.push(e);
      }
      this.forecaster.observe(x);
    }

    // likelihood of the smoothed surprise against its own history
    this.smoothBuf.push(Math.min(surprise, 20));
    const s = this.smoothBuf.mean();
    let score = 0;
    if (this.history.count >= 20) {
      const hs = Math.max(this.history.std(), 1e-3);
      const q = normalTail((s - this.history.mean()) / hs);
      score = Math.min(1, -Math.log10(Math.max(q, 1e-12)) / 12);
    }
    this.history.push(s);

    // a value beyond the range seen so far
    if (this.seen > p.warmup && Number.isFinite(this.min)) {
      const span = Math.max(this.max - this.min, Math.abs(this.max) * 1e-6, 1e-9);
      if (x > this.max + p.rangeMargin * span || x < this.min - p.rangeMargin * span) {
        score = 1;
        kind = 'range';
      }
    }

    if (!Number.isNaN(this.prev)) this.jumps.push(Math.abs(x - this.prev));
    this.level.push(x);
    this.prev = x;
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;

    if (this.seen <= p.warmup) return { score: 0, kind: 'none' };
    this.sinceFire++;
    if (this.sinceFire <= p.suppress) score *= 0.5 * (this.sinceFire / p.suppress);
    else if (score >= p.fireLevel) this.sinceFire = 0;
    return { score, kind };
  }
}

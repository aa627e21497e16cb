// The second stage of the stream detector: how surprising is too surprising, for this stream.
// Each surprise of surprises.ts is judged against the stream's own recent history of it (an
// anomaly likelihood, as Numenta's: the mean of the last few surprises against the mean and
// deviation of their history, as the tail probability of a Student t, which is what a new value
// of a normal quantity looks like when its mean and deviation are only estimated from n values:
// a young history cannot make a surprise look like a one-in-a-billion event). The score is the
// strongest of them on a log scale (-log10 of the tail probability / fullScale, capped at 1), or
// 1 for a new extreme. A new shape counts only at a value in the tails of the stream's recent
// past: a stream's ordinary wiggles produce shapes never seen before all the time, and at
// ordinary levels they are not what anyone calls an anomaly. A young stream's unseen transitions
// (transitions.ts) are judged the same way, at the tails, until the tail check's window is full.
// The first `warmup` steps only learn; after a detection the next `suppress` steps are quiet:
// one event, one alert.
import { log10StudentTail, RollingRanks, RollingStats } from './stats.ts';
import { TransitionNovelty } from './transitions.ts';
import type { Surprises } from './surprises.ts';

export interface JudgeParams {
  /** surprises averaged before the likelihood */
  smooth: number;
  /** steps of surprise history each likelihood compares against */
  historyWindow: number;
  /** steps before any score is given */
  warmup: number;
  /** steps after a detection during which nothing is reported */
  suppress: number;
  /** the score at or above which a step counts as a detection (the default alert threshold) */
  fireLevel: number;
  /** -log10 of the tail probability that maps to a score of 1 */
  fullScale: number;
  /** a new extreme must exceed the seen range by this fraction of it */
  rangeMargin: number;
  /**
   * whether a value beyond the range seen so far scores 1 by itself. On NAB it does (its labels
   * mark new extremes); on the device a new extreme is judged by the level check of the rules
   * instead (rules/levels.ts), which holds it to the stream's spread between days and the false
   * alarm budget: a young stream sets a new record on its k-th day with a chance of about 2 / k
   * (a new high or a new low), a fifth of its days in its first ten
   */
  newExtremes: boolean;
  /** steps the context's tail check looks back on */
  contextTailWindow: number;
  /**
   * the context's surprise counts only for a value that at most this share of those steps lie
   * beyond, on its own side (above a high value, below a low one)
   */
  contextTailShare: number;
  /** weight of the forecaster's surprise (0 = off) */
  forecastWeight: number;
  /**
   * the least deviation the forecast surprise's history is taken to have, in units of the usual
   * error: a model whose errors are steadier than that does not make a change of a fraction of
   * its usual error an alarm
   */
  forecastDeviation: number;
  /** forecast surprises seen before the forecast is judged */
  forecastJudgedAfter: number;
  /**
   * steps of context of the young stream's transition member (transitions.ts; 0 = off). It
   * speaks for the stream's first `contextTailWindow` steps, until the tail check's window is
   * full, and like a new shape only at a value in the tails
   */
  transitionLength: number;
  /** bands of the range seen so far the transition member cuts values into */
  transitionLevels: number;
}

export type SurpriseKind = 'context' | 'transition' | 'forecast' | 'range';

export interface DetectorVerdict {
  /** 0..1, higher = more anomalous */
  score: number;
  /** which detector gave the score */
  kind: SurpriseKind | 'none';
}

/** the deepest tail the likelihood reports, in decades */
const MAX_DECADES = 30;

/** The anomaly likelihood of one raw surprise, in decades of tail probability. */
export class Likelihood {
  private readonly recent: RollingStats;
  private readonly history: RollingStats;

  /**
   * `minDeviation`: the least deviation the history is taken to have; `minHistory`: surprises
   * seen before any is judged
   */
  private readonly smooth: number;
  private readonly minDeviation;
  private readonly minHistory;

  constructor(
    smooth: number,
    history: number,
    minDeviation = 1e-3,
    minHistory = 20,
  ) {
    this.smooth = smooth;
    this.minDeviation = minDeviation;
    this.minHistory = minHistory;
    this.recent = new RollingStats(smooth);
    this.history = new RollingStats(history);
  }

  update(raw: number): number {
    this.recent.push(raw);
    const s = this.recent.mean();
    let out = 0;
    const n = this.history.count;
    if (n >= this.minHistory) {
      // the predictive distribution of a new value from n past ones: Student t, its scale widened
      // by the uncertainty of the estimated mean; the history holds means of `smooth` overlapping
      // surprises, so only about n / smooth of its values are independent: its degrees of freedom
      const sd = Math.max(this.history.std() * Math.sqrt(n / (n - 1)), this.minDeviation) * Math.sqrt(1 + 1 / n);
      out = Math.min(MAX_DECADES, -log10StudentTail((s - this.history.mean()) / sd, Math.max(1, n / this.smooth - 1)));
    }
    this.history.push(s);
    return out;
  }
}

export class SurpriseJudge {
  private readonly contextLikelihood: Likelihood;
  private readonly forecastLikelihood: Likelihood;
  /** the young stream's member and its likelihood, released together once it falls silent */
  private transitions: { novelty: TransitionNovelty; likelihood: Likelihood } | null;
  private readonly recentValues: RollingRanks;
  private seen = 0;
  private min = Number.POSITIVE_INFINITY;
  private max = Number.NEGATIVE_INFINITY;
  private sinceFire = Number.POSITIVE_INFINITY;
  /** the range's growth over the history's last doubling, above and below, for the range check */
  private readonly growth = new RangeGrowth();

  private readonly p: JudgeParams;

  constructor(p: JudgeParams) {
    this.p = p;
    this.contextLikelihood = new Likelihood(p.smooth, p.historyWindow);
    this.recentValues = new RollingRanks(p.contextTailWindow);
    // the forecast surprise is already in units of the usual error. A model's errors are judged
    // only once a whole history of them has been seen (a week of steps): its errors through a
    // weekend or a weekly cycle are part of what is ordinary for it, and a model that has only
    // seen weekdays would take the first weekend for an anomaly
    this.forecastLikelihood = new Likelihood(p.smooth, p.historyWindow, p.forecastDeviation, p.forecastJudgedAfter);
    this.transitions = p.transitionLength > 0
      ? { novelty: new TransitionNovelty(p.transitionLength, p.transitionLevels, p.contextTailWindow), likelihood: new Likelihood(p.smooth, p.historyWindow) }
      : null;
  }

  update(s: Surprises): DetectorVerdict {
    const p = this.p;
    const x = s.value;
    this.seen++;
    let kind: DetectorVerdict['kind'] = 'none';
    let best = 0;
    // computed once, and only when a surprise needs it: two binary searches
    let inTails: boolean | undefined;
    const tails = () => (inTails ??= this.recentValues.shareBeyond(x) <= p.contextTailShare);
    if (Number.isFinite(s.novelty)) {
      const u = this.contextLikelihood.update(s.novelty);
      if (u > best && tails()) (best = u), (kind = 'context');
    }
    if (this.transitions) {
      const t = this.transitions.novelty.update(x);
      if (Number.isFinite(t)) {
        const u = this.transitions.likelihood.update(t);
        if (u > best && tails()) (best = u), (kind = 'transition');
      } else if (!this.transitions.novelty.active) this.transitions = null;
    }
    if (Number.isFinite(s.forecast) && p.forecastWeight > 0) {
      const u = this.forecastLikelihood.update(s.forecast) * p.forecastWeight;
      if (u > best) (best = u), (kind = 'forecast');
    }
    let score = Math.min(1, best / p.fullScale);

    // a value beyond the range seen so far
    if (p.newExtremes && this.seen > p.warmup && Number.isFinite(this.min)) {
      const span = Math.max(this.max - this.min, Math.abs(this.max) * 1e-6, 1e-9);
      // the growth expected when the history doubles: what a normal sample's range would grow
      // by, or what this stream's own range grew by over its last doubling if more (a young
      // stream that has not yet shown a whole daily cycle, or a heavy-tailed one, keeps setting
      // records that an anomaly's would have to outdo)
      const margin = p.rangeMargin > 0 ? p.rangeMargin : Math.LN2 / (4 * Math.log(this.seen));
      if (x > this.max + Math.max(margin * span, this.growth.up) || x < this.min - Math.max(margin * span, this.growth.down)) {
        score = 1;
        kind = 'range';
      }
    }
    this.recentValues.push(x);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    this.growth.update(this.seen, this.min, this.max);

    if (this.seen <= p.warmup) return { score: 0, kind: 'none' };
    this.sinceFire++;
    if (this.sinceFire <= p.suppress) return { score: 0, kind: 'none' };
    if (score >= p.fireLevel) this.sinceFire = 0;
    return { score, kind };
  }
}

/**
 * How far a stream's range grew over the last doubling of its history: at steps 1, 2, 4, 8, ...
 * the range is noted, and at each such step the growth since the one before is kept, separately
 * above and below. O(1): two snapshots.
 */
export class RangeGrowth {
  private checkpoint = 0;
  private min = Number.NaN;
  private max = Number.NaN;
  /** the maximum's growth over the last completed doubling (0 before one has completed) */
  up = 0;
  /** the minimum's growth downwards over the same */
  down = 0;

  update(seen: number, min: number, max: number): void {
    if (seen < 2 * this.checkpoint) return;
    if (this.checkpoint > 0) {
      this.up = max - this.max;
      this.down = this.min - min;
    }
    this.checkpoint = seen;
    this.min = min;
    this.max = max;
  }
}

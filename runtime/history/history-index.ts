// The device page's history: per series (sensor and metric) the last `hours` of readings in fixed
// buckets, and the journal's gap records over the same window. Fed with committed records in seq
// order (live, and replayed from the journal at start); asked for a range at a step. Bounded: at
// most maxSeries series, each a fixed ring (series-buckets.ts), and at most MAX_GAPS gap spans.
import type { JournalRecord } from '../../protocol/records.ts';
import type { HistoryConfig } from './config.ts';
import { SeriesBuckets } from './series-buckets.ts';

/** gap records kept (the newest), whatever the window */
export const MAX_GAPS = 200;
/** longest unit kept (the snapshot holds no more); units are short, this bounds a freak one */
export const MAX_UNIT_CHARS = 64;
/** a reading this far ahead of the device clock is not kept: it would push the ring past now */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

export interface GapSpan {
  seq: number;
  dropped: number;
  from: number;
  to: number;
  reason: string;
}

export interface SeriesInfo {
  sensor: string;
  metric: string;
  unit: string;
}

export interface HistoryPoint {
  /** the step's start, ms since the epoch */
  t: number;
  min: number;
  avg: number;
  max: number;
  n: number;
}

export interface HistoryAnswer extends SeriesInfo {
  from: number;
  to: number;
  step: number;
  /** steps without a reading are absent: a client draws a gap there */
  points: HistoryPoint[];
  /** gap records (readings the journal had to drop) overlapping the range */
  gaps: GapSpan[];
}

/** Why a reading was not kept. */
export type SkipReason = 'series_cap' | 'too_old' | 'future';

interface Series extends SeriesInfo {
  buckets: SeriesBuckets;
}

export interface HistoryIndexOptions {
  config: HistoryConfig;
  now?: () => number;
  /** told of readings not kept, for a metric */
  skipped?: (reason: SkipReason) => void;
}

export class HistoryIndex {
  readonly bucketMs: number;
  readonly windowMs: number;
  /** the highest seq taken in: a snapshot covers the journal up to here */
  lastSeq = 0;
  /** the journal's recovery epoch that lastSeq counts in (seqs start again in each) */
  epoch = 1;
  /** by sensor, then metric: two lookups are cheaper on the hot path than building a joined key */
  private readonly series = new Map<string, Map<string, Series>>();
  private count = 0;
  private gaps: GapSpan[] = [];
  private readonly buckets: number;
  private readonly opts: HistoryIndexOptions;

  constructor(opts: HistoryIndexOptions) {
    this.opts = opts;
    this.bucketMs = opts.config.bucketSeconds * 1000;
    this.windowMs = opts.config.hours * 3_600_000;
    this.buckets = this.windowMs / this.bucketMs;
  }

  /** Take in committed records, in seq order. */
  note(records: readonly JournalRecord[]): void {
    const now = (this.opts.now ?? Date.now)();
    const oldest = now - this.windowMs;
    const newest = now + FUTURE_TOLERANCE_MS;
    for (const r of records) {
      if (r.seq > this.lastSeq) this.lastSeq = r.seq;
      if (r.kind === 'gap') this.noteGap({ seq: r.seq, dropped: r.dropped, from: r.from, to: r.to, reason: r.reason });
      if (r.kind !== 'reading' || typeof r.value !== 'number') continue; // a failed read has no value to draw
      if (r.ts < oldest) this.skip('too_old');
      else if (r.ts > newest) this.skip('future');
      else this.seriesFor(r.sensor, r.metric, r.unit)?.buckets.add(r.ts, r.value);
    }
  }

  noteGap(gap: GapSpan): void {
    this.gaps.push(gap);
    if (this.gaps.length > MAX_GAPS) this.gaps.splice(0, this.gaps.length - MAX_GAPS);
  }

  /** Merge a stored bucket in (loading a snapshot). */
  mergeBucket(info: SeriesInfo, bucket: number, min: number, max: number, sum: number, n: number): void {
    this.seriesFor(info.sensor, info.metric, info.unit)?.buckets.merge(bucket, min, max, sum, n);
  }

  /** The series held, in name order. */
  list(): SeriesInfo[] {
    return [...this.all()].map(({ sensor, metric, unit }) => ({ sensor, metric, unit })).sort((a, b) => (a.sensor === b.sensor ? cmp(a.metric, b.metric) : cmp(a.sensor, b.sensor)));
  }

  private *all(): Generator<Series> {
    for (const byMetric of this.series.values()) yield* byMetric.values();
  }

  /**
   * One series over [from, to) in steps of `step` ms (a multiple of bucketMs, which the caller
   * checks), or null when the series is not held. Steps start at multiples of `step`.
   */
  query(sensor: string, metric: string, from: number, to: number, step: number): HistoryAnswer | null {
    const s = this.series.get(sensor)?.get(metric);
    if (!s) return null;
    const points: HistoryPoint[] = [];
    let cur: HistoryPoint | null = null;
    let sum = 0;
    const close = () => {
      if (cur) points.push({ ...cur, avg: sum / cur.n });
    };
    for (const b of s.buckets.range(Math.floor(from / step) * step, to)) {
      const t = Math.floor(b.t / step) * step;
      if (cur && cur.t === t) {
        if (b.min < cur.min) cur.min = b.min;
        if (b.max > cur.max) cur.max = b.max;
        cur.n += b.n;
        sum += b.sum;
        continue;
      }
      close();
      cur = { t, min: b.min, avg: 0, max: b.max, n: b.n };
      sum = b.sum;
    }
    close();
    return { sensor: s.sensor, metric: s.metric, unit: s.unit, from, to, step, points, gaps: this.gapsWithin(from, to) };
  }

  gapsWithin(from: number, to: number): GapSpan[] {
    return this.gaps.filter((g) => g.to >= from && g.from < to);
  }

  /** Every series with its held buckets, and the gaps: what a snapshot stores. */
  *dump(): Generator<{ info: SeriesInfo; buckets: Iterable<[number, number, number, number, number]>; count: number }> {
    for (const s of this.all()) yield { info: { sensor: s.sensor, metric: s.metric, unit: s.unit }, buckets: s.buckets.held(), count: s.buckets.heldCount };
  }

  allGaps(): GapSpan[] {
    return this.gaps.slice();
  }

  get seriesCount(): number {
    return this.count;
  }

  private seriesFor(sensor: string, metric: string, fullUnit: string): Series | null {
    const unit = fullUnit.length > MAX_UNIT_CHARS ? fullUnit.slice(0, MAX_UNIT_CHARS) : fullUnit;
    let byMetric = this.series.get(sensor);
    let s = byMetric?.get(metric);
    if (!s) {
      if (this.count >= this.opts.config.maxSeries) {
        this.skip('series_cap');
        return null;
      }
      if (!byMetric) this.series.set(sensor, (byMetric = new Map()));
      s = { sensor, metric, unit, buckets: new SeriesBuckets(this.buckets, this.bucketMs) };
      byMetric.set(metric, s);
      this.count++;
    } else if (s.unit !== unit) s.unit = unit;
    return s;
  }

  private skip(reason: SkipReason): void {
    this.opts.skipped?.(reason);
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

// What the status page knows about each sensor and metric: its newest reading (the charts' history
// is runtime/history's). Bounded: beyond maxSensors, sensors are counted, not kept, so a gateway
// with thousands of nodes cannot grow the daemon's memory through its dashboard.
import type { JournalRecord, Quality } from '../../protocol/records.ts';

export interface SensorView {
  sensor: string;
  metric: string;
  unit: string;
  ts: number;
  value: number | null;
  /** the reading's text, when its source gave one (a leak sensor's LEAK) */
  state?: string;
  quality: Quality;
  seq: number;
}

export interface GapView {
  seq: number;
  dropped: number;
  from: number;
  to: number;
  reason: string;
}

/**
 * One series per sensor and metric: an MH-Z19 reports CO2 and temperature under one sensor id.
 * Names cannot hold a slash (protocol/records.ts), so the key is unambiguous.
 */
export function seriesKey(sensor: string, metric: string): string {
  return `${sensor}/${metric}`;
}

export class SensorTable {
  private readonly sensors = new Map<string, SensorView>();
  private readonly pending = new Set<string>();
  private overflow = new Set<string>();
  private overflowCapped = false;
  private lastGapView: GapView | null = null;

  private readonly opts: { maxSensors: number };

  constructor(opts: { maxSensors: number }) {
    this.opts = opts;
  }

  /** Take in committed records (in seq order). */
  note(records: readonly JournalRecord[]): void {
    for (const r of records) {
      if (r.kind === 'gap') {
        this.lastGapView = { seq: r.seq, dropped: r.dropped, from: r.from, to: r.to, reason: r.reason };
        continue;
      }
      if (r.kind !== 'reading') continue; // a monitoring plan is no series
      const key = seriesKey(r.sensor, r.metric);
      if (!this.sensors.has(key) && this.sensors.size >= this.opts.maxSensors) {
        this.countOverflow(key);
        continue;
      }
      this.sensors.set(key, { sensor: r.sensor, metric: r.metric, unit: r.unit, ts: r.ts, value: r.value, quality: r.quality, seq: r.seq, ...(r.state !== undefined ? { state: r.state } : {}) });
      this.pending.add(key);
    }
  }

  /** Keep the count of sensors not shown without keeping an unbounded set of their names. */
  private countOverflow(sensor: string): void {
    if (this.overflowCapped) return;
    this.overflow.add(sensor);
    if (this.overflow.size >= 100_000) this.overflowCapped = true;
  }

  /** The sensors whose newest reading changed since the last call, and forget them. */
  takeChanged(): SensorView[] {
    const out: SensorView[] = [];
    for (const s of this.pending) {
      const e = this.sensors.get(s);
      if (e) out.push(e);
    }
    this.pending.clear();
    return out;
  }

  list(): SensorView[] {
    return [...this.sensors.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, e]) => e);
  }

  /** sensors seen but not kept because of maxSensors (a lower bound once it passes 100,000) */
  get hidden(): number {
    return this.overflow.size;
  }

  get lastGap(): GapView | null {
    return this.lastGapView;
  }
}

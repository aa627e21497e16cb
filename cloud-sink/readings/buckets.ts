// Folding readings, in time order, into fixed steps: min/avg/max/n per step over the non-null
// values, a step with none left out. Memory is the buckets answered, not the readings read.
import type { Bucket } from './types.ts';

export class BucketFold {
  readonly points: Bucket[] = [];
  private cur: Bucket | null = null;
  private sum = 0;

  private readonly from: number;
  private readonly step: number;

  constructor(from: number, step: number) {
    this.from = from;
    this.step = step;
  }

  /** One reading; readings come in ts order. */
  add(ts: number, value: number): void {
    const t = this.from + Math.floor((ts - this.from) / this.step) * this.step;
    let b = this.cur;
    if (!b || b.t !== t) {
      this.close();
      b = this.cur = { t, min: value, avg: 0, max: value, n: 0 };
      this.sum = 0;
    }
    if (value < b.min) b.min = value;
    if (value > b.max) b.max = value;
    this.sum += value;
    b.n++;
  }

  /** The buckets, the last one closed. */
  finish(): Bucket[] {
    this.close();
    return this.points;
  }

  private close(): void {
    if (!this.cur) return;
    this.cur.avg = this.sum / this.cur.n;
    this.points.push(this.cur);
    this.cur = null;
  }
}

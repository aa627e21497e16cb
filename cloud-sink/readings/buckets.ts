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
    this.addSums(ts, 1, value, value, value);
  }

  /** `n` readings at `ts` (an hour's partial sums), in ts order with the rest. */
  addSums(ts: number, n: number, sum: number, min: number, max: number): void {
    const t = this.from + Math.floor((ts - this.from) / this.step) * this.step;
    let b = this.cur;
    if (!b || b.t !== t) {
      this.close();
      b = this.cur = { t, min, avg: 0, max, n: 0 };
      this.sum = 0;
    }
    if (min < b.min) b.min = min;
    if (max > b.max) b.max = max;
    this.sum += sum;
    b.n += n;
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

// One series' history: a ring of fixed time buckets (min, max, sum, count of the numeric readings
// in each), as many as the window holds. Typed arrays, allocated once when the series is first
// seen, so a series costs the same 40 bytes a bucket however busy it is, and a reading is a few
// array writes. A bucket no reading fell into holds nothing and is not reported: a gap.

/** Bytes a bucket takes: five float64 columns. */
export const BYTES_PER_BUCKET = 40;

export interface BucketPoint {
  /** the bucket's start, ms since the epoch */
  t: number;
  min: number;
  max: number;
  sum: number;
  n: number;
}

export class SeriesBuckets {
  /** which bucket number (ts / bucketMs) each slot holds; -1 when empty */
  private readonly slot: Float64Array;
  private readonly min: Float64Array;
  private readonly max: Float64Array;
  private readonly sum: Float64Array;
  private readonly count: Float64Array;
  private readonly size: number;
  private readonly bucketMs: number;

  constructor(size: number, bucketMs: number) {
    this.size = size;
    this.bucketMs = bucketMs;
    this.slot = new Float64Array(size).fill(-1);
    this.min = new Float64Array(size);
    this.max = new Float64Array(size);
    this.sum = new Float64Array(size);
    this.count = new Float64Array(size);
  }

  /**
   * Add a value at `ts`. A value older than what the ring holds for its slot (older than the
   * window) is not kept; returns whether it was.
   */
  add(ts: number, value: number): boolean {
    return this.merge(Math.floor(ts / this.bucketMs), value, value, value, 1);
  }

  /** Merge a whole bucket in (a snapshot being loaded). */
  merge(bucket: number, min: number, max: number, sum: number, n: number): boolean {
    const i = bucket % this.size;
    const held = this.slot[i]!;
    if (held > bucket) return false;
    if (held < bucket) {
      this.slot[i] = bucket;
      this.min[i] = min;
      this.max[i] = max;
      this.sum[i] = sum;
      this.count[i] = n;
      return true;
    }
    if (min < this.min[i]!) this.min[i] = min;
    if (max > this.max[i]!) this.max[i] = max;
    this.sum[i] = this.sum[i]! + sum;
    this.count[i] = this.count[i]! + n;
    return true;
  }

  /** The buckets starting in [from, to), oldest first; at most one ring's worth is looked at. */
  *range(from: number, to: number): Generator<BucketPoint> {
    const first = Math.floor(from / this.bucketMs);
    const last = Math.ceil(to / this.bucketMs) - 1;
    for (let b = Math.max(first, last - this.size + 1); b <= last; b++) {
      const i = b % this.size;
      if (this.slot[i] !== b) continue;
      yield { t: b * this.bucketMs, min: this.min[i]!, max: this.max[i]!, sum: this.sum[i]!, n: this.count[i]! };
    }
  }

  /** Every bucket held, in slot order: for snapshots. */
  *held(): Generator<[bucket: number, min: number, max: number, sum: number, n: number]> {
    for (let i = 0; i < this.size; i++) {
      if (this.slot[i]! >= 0) yield [this.slot[i]!, this.min[i]!, this.max[i]!, this.sum[i]!, this.count[i]!];
    }
  }

  get heldCount(): number {
    let n = 0;
    for (let i = 0; i < this.size; i++) if (this.slot[i]! >= 0) n++;
    return n;
  }
}

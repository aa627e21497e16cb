// Small O(1) running statistics the detectors are built from.

/** Mean and variance of the last `size` values, kept with running sums over a ring buffer. */
export class RollingStats {
  private readonly buf: Float64Array;
  private n = 0;
  private head = 0;
  private sum = 0;
  private sumSq = 0;
  private sinceRecompute = 0;

  readonly size: number;

  constructor(size: number) {
    this.size = size;
    this.buf = new Float64Array(size);
  }

  get count(): number {
    return this.n;
  }

  push(x: number): void {
    if (this.n === this.size) {
      const old = this.buf[this.head]!;
      this.sum -= old;
      this.sumSq -= old * old;
    } else this.n++;
    this.buf[this.head] = x;
    this.head = (this.head + 1) % this.size;
    this.sum += x;
    this.sumSq += x * x;
    // running sums drift with cancellation; recompute them exactly now and then
    if (++this.sinceRecompute >= this.size * 4) this.recompute();
  }

  private recompute(): void {
    let s = 0;
    let q = 0;
    for (let i = 0; i < this.n; i++) {
      const v = this.buf[(this.head - 1 - i + this.size * 2) % this.size]!;
      s += v;
      q += v * v;
    }
    this.sum = s;
    this.sumSq = q;
    this.sinceRecompute = 0;
  }

  mean(): number {
    return this.n === 0 ? 0 : this.sum / this.n;
  }

  variance(): number {
    if (this.n < 2) return 0;
    const m = this.sum / this.n;
    return Math.max(0, this.sumSq / this.n - m * m);
  }

  std(): number {
    return Math.sqrt(this.variance());
  }

  /** the value pushed `back` steps ago (0 = the latest) */
  at(back: number): number {
    return this.buf[(this.head - 1 - back + this.size * 2) % this.size]!;
  }

  reset(): void {
    this.n = 0;
    this.head = 0;
    this.sum = 0;
    this.sumSq = 0;
    this.sinceRecompute = 0;
  }
}

/**
 * The last `size` values kept in sorted order as well as in arrival order, so that where a value
 * stands among them is two binary searches. Each push moves at most `size` values by one place
 * (one copyWithin), which for a few thousand values costs about a microsecond. Values are held
 * in single precision, half the memory for a window kept per stream; queries are rounded the
 * same way, so a value equal to a held one is still a tie.
 */
export class RollingRanks {
  private readonly ring: Float32Array;
  private readonly sorted: Float32Array;
  private n = 0;
  private head = 0;

  readonly size: number;

  constructor(size: number) {
    this.size = size;
    this.ring = new Float32Array(size);
    this.sorted = new Float32Array(size);
  }

  get count(): number {
    return this.n;
  }

  /** Keep a finite value, forgetting the oldest once `size` are held. */
  push(value: number): void {
    const x = Math.fround(value);
    const s = this.sorted;
    if (this.n < this.size) {
      const j = this.below(x);
      s.copyWithin(j + 1, j, this.n);
      s[j] = x;
      this.n++;
    } else {
      // the oldest leaves and x enters in one move of the values between their two places
      const i = this.below(this.ring[this.head]!);
      const j = this.below(x);
      if (j > i) {
        s.copyWithin(i, i + 1, j);
        s[j - 1] = x;
      } else {
        s.copyWithin(j + 1, j, i);
        s[j] = x;
      }
    }
    this.ring[this.head] = x;
    this.head = (this.head + 1) % this.size;
  }

  /** how many held values are strictly below x */
  below(value: number): number {
    return this.countUpTo(Math.fround(value), false);
  }

  /** how many held values are strictly above x */
  above(value: number): number {
    return this.n - this.countUpTo(Math.fround(value), true);
  }

  /** how many held values are below x, or at most x with `orEqual`: a binary search */
  private countUpTo(x: number, orEqual: boolean): number {
    const s = this.sorted;
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s[mid]! < x || (orEqual && s[mid] === x)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * The share of held values that lie beyond x on its own side (above a high value, below a low
   * one): 0 for a value at or past the extremes, about 0.5 for the median. Values equal to x are
   * not beyond it, so a value at a floor that many readings share counts as extreme. 0 when empty.
   */
  shareBeyond(x: number): number {
    return this.n === 0 ? 0 : Math.min(this.below(x), this.above(x)) / this.n;
  }
}

/** Upper tail of the standard normal distribution, Q(z) = P(Z > z) (Abramowitz-Stegun 7.1.26 via erfc). */
export function normalTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  // Numerical Recipes' erfcc: fractional error below 1.2e-7 everywhere
  const r =
    t *
    Math.exp(
      -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

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

  /** the k-th smallest held value (0 = the smallest) */
  nth(k: number): number {
    return this.sorted[k]!;
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

/**
 * How rare a value of some statistic is among the stream's own recent values of it: the upper-tail
 * probability, empirical in the body of the distribution and, beyond its top 2% (peaks over threshold, as SPOT does for streams: the top 2% is
 * where that method starts), a generalised Pareto tail fitted to the values there by its moments.
 * A value beyond everything held thus gets a probability below 1/n that keeps falling the farther
 * out it is, instead of a floor; and a statistic with a heavy tail (a meter whose compressors step
 * now and then) is not taken to be as tame as an exponential would make it.
 */
export class TailProbability {
  private readonly held: RollingRanks;

  constructor(size: number) {
    this.held = new RollingRanks(size);
  }

  get count(): number {
    return this.held.count;
  }

  /** P(next value >= x) as the held values say; 1 when none are held */
  upper(x: number): number {
    const h = this.held;
    const n = h.count;
    if (n === 0) return 1;
    const m = Math.max(2, Math.ceil(0.02 * n));
    const threshold = h.nth(n - m);
    const atThreshold = m / (n + 1);
    if (!(Math.fround(x) > threshold)) return (h.above(x) + 1) / (n + 1);
    // the generalised Pareto tail by the method of moments (Hosking and Wallis), its shape kept
    // at or above 0: never a lighter tail than the exponential, so never a bound that nothing may pass
    let sum = 0;
    let sumSq = 0;
    for (let k = n - m + 1; k < n; k++) {
      const e = h.nth(k) - threshold;
      sum += e;
      sumSq += e * e;
    }
    const mean = sum / (m - 1);
    const variance = Math.max(0, sumSq / (m - 1) - mean * mean);
    // every top value equal: anything beyond them is beyond anything seen, by any margin
    if (!(mean > 0)) return atThreshold * 1e-6;
    const ratio = variance > 0 ? (mean * mean) / variance : Number.POSITIVE_INFINITY;
    const shape = Math.min(0.9, Math.max(0, 0.5 * (1 - ratio)));
    const scale = shape > 0 ? 0.5 * mean * (ratio + 1) : mean;
    const z = (x - threshold) / scale;
    return atThreshold * (shape > 0 ? Math.pow(1 + shape * z, -1 / shape) : Math.exp(-z));
  }

  push(x: number): void {
    this.held.push(x);
  }
}

/** ln Γ(x) for x > 0 (Lanczos, as in Numerical Recipes' gammln) */
function lnGamma(x: number): number {
  const c = [76.18009172947146, -86.50532032941677, 24.01409824083091, -1.231739572450155, 0.1208650973866179e-2, -0.5395239384953e-5];
  let y = x;
  const t = x + 5.5 - (x + 0.5) * Math.log(x + 5.5);
  let ser = 1.000000000190015;
  for (const cj of c) ser += cj / ++y;
  return -t + Math.log((2.5066282746310005 * ser) / x);
}

/** the continued fraction of the incomplete beta function (Numerical Recipes' betacf) */
function betaFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 200; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a - 1 + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + 1 + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const step = d * c;
    h *= step;
    if (Math.abs(step - 1) < 1e-10) break;
  }
  return h;
}

/**
 * log10 of the upper tail of Student's t with `nu` degrees of freedom, P(T > t), kept in logs so
 * that tails far below 1e-300 are still ordered. Beyond a few thousand degrees of freedom it is
 * the normal tail.
 */
export function log10StudentTail(t: number, nu: number): number {
  if (Number.isNaN(t) || t === 0) return Math.log10(0.5);
  if (nu > 5000) return Math.log10(Math.max(normalTail(t), 1e-300));
  if (t < 0) return Math.log10(1 - Math.pow(10, log10StudentTail(-t, nu)));
  // P(T > t) = I_x(nu/2, 1/2) / 2 with x = nu / (nu + t^2)
  const a = nu / 2;
  const b = 0.5;
  const x = nu / (nu + t * t);
  const lnFront = lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x);
  if (x < (a + 1) / (a + b + 2)) return (lnFront + Math.log(betaFraction(a, b, x) / a)) / Math.LN10 + Math.log10(0.5);
  return Math.log10(Math.max(0.5 * (1 - (Math.exp(lnFront) * betaFraction(b, a, 1 - x)) / b), 1e-300));
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

// A byte budget for metered links: up to `rate` bytes a second, with a burst of one second's worth.
// A request larger than the burst waits until the budget has paid for it.
export class TokenBucket {
  private tokens: number;
  private last: number;

  private readonly rate: number;
  private readonly now: () => number;

  constructor(rate: number, now: () => number = () => performance.now()) {
    this.rate = rate;
    this.now = now;
    this.tokens = rate;
    this.last = now();
  }

  /** How long to wait (ms) before `bytes` may be sent; the bytes are charged at once. */
  take(bytes: number): number {
    const t = this.now();
    this.tokens = Math.min(this.rate, this.tokens + ((t - this.last) * this.rate) / 1000);
    this.last = t;
    this.tokens -= bytes;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.rate;
  }
}

// Work that costs the sink time and memory in proportion to what it reads (a readings query over a
// long range, a record proof of a batch of 100,000 records): a few run at once, a bounded number
// wait their turn, and beyond that a request is refused at once, so that clients asking for such
// work together cannot hold more of the sink than a few of them.

export class WorkSlots {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  private readonly atOnce: number;
  private readonly maxWaiting: number;
  /** the refusal (an HttpError 429) when every slot and every waiting place is taken */
  private readonly busy: () => Error;

  constructor(atOnce: number, maxWaiting: number, busy: () => Error) {
    this.atOnce = atOnce;
    this.maxWaiting = maxWaiting;
    this.busy = busy;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.atOnce) {
      if (this.waiting.length >= this.maxWaiting) throw this.busy();
      // the slot is handed over by the work that ends, so `running` stays counted
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

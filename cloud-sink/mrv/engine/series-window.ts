// The readings of one register series (a meter's sensor and one metric) over a span of time, read
// from the index chunk by chunk: the chunks that meet the report's period first, then one more at
// a time on either side while the report still looks for the good readings that straddle its edges.
import { decodeChunkInto, emptyPoints, type SeriesPoints } from '../index/chunk-codec.ts';
import type { ChunkEntry, MrvStore } from '../store/types.ts';

export class SeriesWindow {
  /** loaded chunks are dir[lo..hi), lo === hi when none */
  private lo = 0;
  private hi = 0;
  private readonly data = new Map<number, Buffer>();
  private merged: SeriesPoints | null = null;

  private constructor(
    private readonly mrv: MrvStore,
    private readonly device: string,
    readonly sensor: string,
    readonly metric: string,
    private readonly dir: ChunkEntry[],
  ) {}

  static async open(mrv: MrvStore, device: string, sensor: string, metric: string): Promise<SeriesWindow> {
    const dir = (await mrv.directory(device, sensor, metric)).sort((a, b) => a.chunk - b.chunk);
    return new SeriesWindow(mrv, device, sensor, metric, dir);
  }

  /** Load the chunks whose readings meet [from, to]. */
  async cover(from: number, to: number): Promise<void> {
    let lo = 0;
    while (lo < this.dir.length && this.dir[lo]!.maxTs < from) lo++;
    let hi = lo;
    while (hi < this.dir.length && this.dir[hi]!.minTs <= to) hi++;
    if (lo === hi) {
      // nothing inside: start from the chunk just before (or after) the span
      if (lo > 0) lo--;
      else if (hi < this.dir.length) hi++;
    }
    await this.load(lo, hi);
  }

  /** Load one more chunk before what is loaded; false when there is none. */
  async extendBack(): Promise<boolean> {
    if (this.lo === 0) return false;
    await this.load(this.lo - 1, this.hi);
    return true;
  }

  /** Load one more chunk after what is loaded; false when there is none. */
  async extendForward(): Promise<boolean> {
    if (this.hi >= this.dir.length) return false;
    await this.load(this.lo, this.hi + 1);
    return true;
  }

  private async load(lo: number, hi: number): Promise<void> {
    if (this.hi > this.lo) {
      lo = Math.min(lo, this.lo);
      hi = Math.max(hi, this.hi);
    }
    const missing: number[] = [];
    for (let i = lo; i < hi; i++) if (!this.data.has(this.dir[i]!.chunk)) missing.push(this.dir[i]!.chunk);
    if (missing.length > 0) {
      const got = await this.mrv.chunks(this.device, this.sensor, this.metric, missing);
      for (const c of missing) {
        const buf = got.get(c);
        if (!buf) throw new Error(`MRV index of ${this.device}: chunk ${c} of ${this.sensor}/${this.metric} is missing`);
        this.data.set(c, buf);
      }
      this.merged = null;
    }
    if (lo !== this.lo || hi !== this.hi) this.merged = null;
    this.lo = lo;
    this.hi = hi;
  }

  /** The loaded readings, in time order. */
  points(): SeriesPoints {
    if (this.merged) return this.merged;
    let total = 0;
    for (let i = this.lo; i < this.hi; i++) total += this.dir[i]!.count;
    const p = emptyPoints(total);
    for (let i = this.lo; i < this.hi; i++) decodeChunkInto(this.data.get(this.dir[i]!.chunk)!, p);
    this.merged = p;
    return p;
  }
}

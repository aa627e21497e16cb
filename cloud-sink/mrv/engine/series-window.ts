// The readings of one register series (a meter's sensor and one metric) over a span of time, read
// from the index chunk by chunk: the chunks that meet the report's period first, then one more at
// a time on either side while the report still looks for the good readings that straddle its edges.
// Decoded chunks are kept (a bounded number) for the next slice of the same report, which often
// starts where this one's edge chunks are. Reaching out for an edge, a clean chunk (every reading
// good) offers its first or last reading from its summary before it is read whole: that reading
// is all the edge needs.
import { decodeChunk, emptyPoints, pushPoint, type SeriesPoints, type SummaryReading } from '../index/chunk-codec.ts';
import type { ChunkEntry, MrvStore } from '../store/types.ts';

/** decoded chunks kept between spans, per series */
const MAX_DECODED = 8;

export class SeriesWindow {
  /** loaded chunks are dir[lo..hi), lo === hi when none */
  private lo = 0;
  private hi = 0;
  /** decoded chunks by number, least recently used first */
  private readonly decoded = new Map<number, SeriesPoints>();
  private merged: SeriesPoints | null = null;
  /** the last reading of chunk lo-1 and the first of chunk hi, from their summaries */
  private head: SeriesPoints | null = null;
  private tail: SeriesPoints | null = null;

  private readonly mrv: MrvStore;
  private readonly device: string;
  readonly sensor: string;
  readonly metric: string;
  private readonly dir: ChunkEntry[];

  private constructor(
    mrv: MrvStore,
    device: string,
    sensor: string,
    metric: string,
    dir: ChunkEntry[],
  ) {
    this.mrv = mrv;
    this.device = device;
    this.sensor = sensor;
    this.metric = metric;
    this.dir = dir;
  }

  static async open(mrv: MrvStore, device: string, sensor: string, metric: string): Promise<SeriesWindow> {
    const dir = (await mrv.directory(device, sensor, metric)).sort((a, b) => a.chunk - b.chunk);
    return new SeriesWindow(mrv, device, sensor, metric, dir);
  }

  /** The series' chunks, in order, with their summaries. */
  get entries(): readonly ChunkEntry[] {
    return this.dir;
  }

  /** Start a new span (the next slice of a long period); decoded chunks stay at hand. */
  release(): void {
    this.lo = 0;
    this.hi = 0;
    this.head = null;
    this.tail = null;
    this.merged = null;
  }

  /**
   * Load the chunks with readings inside (from, to); the readings at or beyond the edges come by
   * reaching out (extendBack, extendForward).
   */
  async cover(from: number, to: number): Promise<void> {
    let lo = 0;
    while (lo < this.dir.length && this.dir[lo]!.maxTs <= from) lo++;
    let hi = lo;
    while (hi < this.dir.length && this.dir[hi]!.minTs < to) hi++;
    if (lo === hi) {
      // nothing inside: the edges are reached from here
      this.lo = this.hi = lo;
      this.head = this.tail = null;
      this.merged = null;
      return;
    }
    await this.load(lo, hi);
  }

  /** Reach one chunk further back (its last reading first, when it is clean); false when there is none. */
  async extendBack(): Promise<boolean> {
    if (this.lo === 0) return false;
    const s = this.dir[this.lo - 1]!.summary;
    if (!this.head && s.clean) {
      this.head = single(s.last);
      this.merged = null;
      return true;
    }
    this.head = null;
    await this.load(this.lo - 1, this.hi);
    return true;
  }

  /** Reach one chunk further on (its first reading first, when it is clean); false when there is none. */
  async extendForward(): Promise<boolean> {
    if (this.hi >= this.dir.length) return false;
    const s = this.dir[this.hi]!.summary;
    if (!this.tail && s.clean) {
      this.tail = single(s.first);
      this.merged = null;
      return true;
    }
    this.tail = null;
    await this.load(this.lo, this.hi + 1);
    return true;
  }

  private async load(lo: number, hi: number): Promise<void> {
    if (this.hi > this.lo) {
      lo = Math.min(lo, this.lo);
      hi = Math.max(hi, this.hi);
    }
    const missing: number[] = [];
    for (let i = lo; i < hi; i++) {
      const c = this.dir[i]!.chunk;
      const held = this.decoded.get(c);
      if (!held) missing.push(c);
      else {
        this.decoded.delete(c);
        this.decoded.set(c, held);
      }
    }
    if (missing.length > 0) {
      const got = await this.mrv.chunks(this.device, this.sensor, this.metric, missing);
      for (const c of missing) {
        const buf = got.get(c);
        if (!buf) throw new Error(`MRV index of ${this.device}: chunk ${c} of ${this.sensor}/${this.metric} is missing`);
        this.decoded.set(c, decodeChunk(buf));
      }
      // keep what this span needs, and a few more
      for (const c of this.decoded.keys()) {
        if (this.decoded.size <= Math.max(MAX_DECODED, hi - lo)) break;
        this.decoded.delete(c);
      }
    }
    if (lo !== this.lo || hi !== this.hi) this.merged = null;
    this.lo = lo;
    this.hi = hi;
  }

  /** The loaded readings, in time order. */
  points(): SeriesPoints {
    if (this.merged) return this.merged;
    const parts: SeriesPoints[] = this.head ? [this.head] : [];
    for (let i = this.lo; i < this.hi; i++) parts.push(this.decoded.get(this.dir[i]!.chunk)!);
    if (this.tail) parts.push(this.tail);
    const total = parts.reduce((n, p) => n + p.n, 0);
    if (parts.length === 1) return (this.merged = parts[0]!);
    const out = emptyPoints(total);
    for (const p of parts) {
      out.ts.set(p.ts.subarray(0, p.n), out.n);
      out.value.set(p.value.subarray(0, p.n), out.n);
      out.seq.set(p.seq.subarray(0, p.n), out.n);
      out.epoch.set(p.epoch.subarray(0, p.n), out.n);
      out.flags.set(p.flags.subarray(0, p.n), out.n);
      for (const [k, names] of p.flagNames) out.flagNames.set(out.n + k, names);
      out.n += p.n;
    }
    return (this.merged = out);
  }
}

/** A clean reading from a chunk's summary, as a series of one. */
function single(r: SummaryReading): SeriesPoints {
  const p = emptyPoints(1);
  pushPoint(p, r.ts, r.value, r.seq, 0, undefined, r.epoch ?? 1);
  return p;
}

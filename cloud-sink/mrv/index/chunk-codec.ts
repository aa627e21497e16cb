// A chunk of one series' readings in a few bytes each: timestamps, values and seqs as
// delta-of-deltas (a meter polled at a steady interval and a steady power costs one byte per
// field), the per-reading flags as runs, the flags' names only for the rare flagged readings,
// then deflated. Read back into typed arrays: a month of 1-second readings is millions of points,
// and the report walks them in tight loops.
//
// Values are kept as decimals with one exponent per chunk (10^-e), so a register read with three
// decimals round-trips exactly; a chunk with a value that has no short decimal form keeps float64s.
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { ByteWriter } from '../../../protocol/columnar/encoder.ts';

/** Per-reading flag bits. */
export const F = {
  /** no value: the read failed */
  NULL: 1,
  /** a quality flag that disqualifies the value (out of range, clock, anomaly...) */
  BAD: 2,
  /** the device saw a reset, rollover, wrap or jump in the step that ends here */
  EV_RESET: 4,
  EV_ROLLOVER: 8,
  EV_WRAP: 16,
  EV_JUMP: 32,
  /** the reading's register meta (width, scale) disagrees with the plan */
  META_MISMATCH: 64,
} as const;

export const EVENT_BITS = F.EV_RESET | F.EV_ROLLOVER | F.EV_WRAP | F.EV_JUMP;

export interface SeriesPoints {
  n: number;
  ts: Float64Array;
  value: Float64Array;
  seq: Float64Array;
  flags: Uint8Array;
  /** the disqualifying quality flags of readings flagged BAD, by index */
  flagNames: Map<number, string[]>;
}

export function emptyPoints(capacity = 0): SeriesPoints {
  return { n: 0, ts: new Float64Array(capacity), value: new Float64Array(capacity), seq: new Float64Array(capacity), flags: new Uint8Array(capacity), flagNames: new Map() };
}

/** Make room for `more` points. */
export function reserve(p: SeriesPoints, more: number): void {
  const need = p.n + more;
  if (need <= p.ts.length) return;
  const cap = Math.max(64, need, p.ts.length * 2);
  const ts = new Float64Array(cap);
  ts.set(p.ts.subarray(0, p.n));
  const value = new Float64Array(cap);
  value.set(p.value.subarray(0, p.n));
  const seq = new Float64Array(cap);
  seq.set(p.seq.subarray(0, p.n));
  const flags = new Uint8Array(cap);
  flags.set(p.flags.subarray(0, p.n));
  Object.assign(p, { ts, value, seq, flags });
}

/** Append one point. */
export function pushPoint(p: SeriesPoints, ts: number, value: number, seq: number, flags: number, names?: string[]): void {
  if (p.n === p.ts.length) reserve(p, 1);
  p.ts[p.n] = ts;
  p.value[p.n] = value;
  p.seq[p.n] = seq;
  p.flags[p.n] = flags;
  if (names) p.flagNames.set(p.n, names);
  p.n++;
}

const FLOAT_MODE = 10;

/** The fewest decimals (0..9) that write every value exactly, or FLOAT_MODE. */
function decimalsOf(p: SeriesPoints): number {
  let e = 0;
  for (let i = 0; i < p.n; i++) {
    const v = p.value[i]!;
    for (;;) {
      const m = Math.round(v * 10 ** e);
      if (!Number.isSafeInteger(m)) return FLOAT_MODE;
      if (m / 10 ** e === v) break;
      if (++e === FLOAT_MODE) return FLOAT_MODE;
    }
  }
  return e;
}

export function encodeChunk(p: SeriesPoints): Buffer {
  const w = new ByteWriter(Math.max(64, p.n * 4));
  w.uvarint(p.n);
  const e = decimalsOf(p);
  w.uvarint(e);
  const column = (get: (i: number) => number) => {
    let prev = 0;
    let prevDelta = 0;
    for (let i = 0; i < p.n; i++) {
      const x = get(i);
      const delta = x - prev;
      w.svarint(delta - prevDelta);
      prev = x;
      prevDelta = delta;
    }
  };
  column((i) => p.ts[i]!);
  if (e === FLOAT_MODE) for (let i = 0; i < p.n; i++) w.float64(p.value[i]!);
  else column((i) => Math.round(p.value[i]! * 10 ** e));
  column((i) => p.seq[i]!);
  let i = 0;
  let runs = 0;
  const rw = new ByteWriter(16);
  while (i < p.n) {
    let j = i + 1;
    while (j < p.n && p.flags[j] === p.flags[i]) j++;
    rw.uvarint(j - i);
    rw.uvarint(p.flags[i]!);
    runs++;
    i = j;
  }
  w.uvarint(runs);
  w.bytes(rw.result());
  w.uvarint(p.flagNames.size);
  for (const [idx, names] of p.flagNames) {
    w.uvarint(idx);
    w.string(JSON.stringify(names));
  }
  return deflateRawSync(w.result(), { level: 1 });
}

/** Varint reading without a bounds call per byte: this is the report's inner loop. */
class FastReader {
  pos = 0;
  constructor(private readonly b: Buffer) {}

  u(): number {
    const b = this.b;
    let x = b[this.pos++]!;
    if (x < 0x80) return x;
    let n = x & 0x7f;
    let mul = 0x80;
    for (;;) {
      x = b[this.pos++]!;
      if (x === undefined) throw new Error('index chunk is truncated');
      n += (x & 0x7f) * mul;
      if (x < 0x80) return n;
      mul *= 0x80;
      if (mul > 2 ** 56) throw new Error('index chunk has an overlong varint');
    }
  }

  s(): number {
    const z = this.u();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  f64(): number {
    const x = this.b.readDoubleLE(this.pos);
    this.pos += 8;
    return x;
  }

  str(): string {
    const len = this.u();
    const s = this.b.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }
}

/** Decode a chunk, appending its points to `into`. */
export function decodeChunkInto(data: Buffer, into: SeriesPoints): void {
  const r = new FastReader(inflateRawSync(data));
  const n = r.u();
  const e = r.u();
  const base = into.n;
  reserve(into, n);
  into.n += n;
  const column = (out: Float64Array, scale: number) => {
    let prev = 0;
    let prevDelta = 0;
    for (let i = 0; i < n; i++) {
      prevDelta += r.s();
      prev += prevDelta;
      out[base + i] = scale === 1 ? prev : prev / scale;
    }
  };
  column(into.ts, 1);
  if (e === FLOAT_MODE) for (let i = 0; i < n; i++) into.value[base + i] = r.f64();
  else column(into.value, 10 ** e);
  column(into.seq, 1);
  const runs = r.u();
  let at = base;
  for (let k = 0; k < runs; k++) {
    const len = r.u();
    const f = r.u();
    into.flags.fill(f, at, at + len);
    at += len;
  }
  if (at !== base + n) throw new Error('index chunk flags do not cover its points');
  const named = r.u();
  for (let k = 0; k < named; k++) {
    const idx = r.u();
    into.flagNames.set(base + idx, JSON.parse(r.str()) as string[]);
  }
}

export function decodeChunk(data: Buffer): SeriesPoints {
  const p = emptyPoints();
  decodeChunkInto(data, p);
  return p;
}

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
import { commonDecimals, MAX_DECIMALS, pow10 } from '../../../protocol/decimals.ts';

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
  /** the recovery epoch whose chain holds the reading: with its seq, what a proof is asked for by */
  epoch: Uint32Array;
  flags: Uint8Array;
  /** the disqualifying quality flags of readings flagged BAD, by index */
  flagNames: Map<number, string[]>;
}

export function emptyPoints(capacity = 0): SeriesPoints {
  return { n: 0, ts: new Float64Array(capacity), value: new Float64Array(capacity), seq: new Float64Array(capacity), epoch: new Uint32Array(capacity), flags: new Uint8Array(capacity), flagNames: new Map() };
}

/** The first index of a ts-ordered column (its first `n` values) whose ts is >= t. */
export function lowerBound(ts: Float64Array, n: number, t: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ts[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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
  const epoch = new Uint32Array(cap);
  epoch.set(p.epoch.subarray(0, p.n));
  const flags = new Uint8Array(cap);
  flags.set(p.flags.subarray(0, p.n));
  Object.assign(p, { ts, value, seq, epoch, flags });
}

/** Append one point. */
export function pushPoint(p: SeriesPoints, ts: number, value: number, seq: number, flags: number, names?: string[], epoch = 1): void {
  if (p.n === p.ts.length) reserve(p, 1);
  p.ts[p.n] = ts;
  p.value[p.n] = value;
  p.seq[p.n] = seq;
  p.epoch[p.n] = epoch;
  p.flags[p.n] = flags;
  if (names) p.flagNames.set(p.n, names);
  p.n++;
}

/**
 * What the report needs of a chunk whose every reading is clean, without decoding it: its first
 * and last readings, how far apart and how far up its steps go, and (for a power series) its
 * trapezoid integral. The timestamps' digest tells whether two series' chunks hold the same instants.
 */
export interface ChunkSummary {
  /** no reading failed, flagged or marked by the device */
  clean: boolean;
  tsDigest: string;
  first: SummaryReading;
  last: SummaryReading;
  minStepMs: number;
  maxStepMs: number;
  /** the largest and smallest increase of the value from one reading to the next */
  maxRise: number;
  minRise: number;
  /** sum over steps of (v1 + v2) / 2 x dt, value-milliseconds */
  trapezoid: number;
}

/** A reading as a summary keeps it; `epoch` is absent in summaries written before epochs (1). */
export interface SummaryReading {
  ts: number;
  value: number;
  seq: number;
  epoch?: number;
}

export function summarize(p: SeriesPoints): ChunkSummary {
  let clean = true;
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  let minStep = Infinity;
  let maxStep = 0;
  let maxRise = -Infinity;
  let minRise = Infinity;
  let trapezoid = 0;
  for (let i = 0; i < p.n; i++) {
    if (p.flags[i] !== 0) clean = false;
    const t = p.ts[i]!;
    // two 32-bit FNV-style lanes over the timestamp: a digest, not a defence (the data is the sink's own)
    h1 = Math.imul(h1 ^ (t % 0x100000000), 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ Math.floor(t / 0x100000000) ^ h1, 0x5bd1e995) >>> 0;
    if (i > 0) {
      const dt = t - p.ts[i - 1]!;
      const rise = p.value[i]! - p.value[i - 1]!;
      if (dt < minStep) minStep = dt;
      if (dt > maxStep) maxStep = dt;
      if (rise > maxRise) maxRise = rise;
      if (rise < minRise) minRise = rise;
      trapezoid += ((p.value[i]! + p.value[i - 1]!) / 2) * dt;
    }
  }
  const at = (i: number) => ({ ts: p.ts[i]!, value: p.value[i]!, seq: p.seq[i]!, epoch: p.epoch[i]! });
  return {
    clean, tsDigest: `${p.n}:${h1.toString(16)}:${h2.toString(16)}`, first: at(0), last: at(p.n - 1),
    minStepMs: p.n > 1 ? minStep : 0, maxStepMs: maxStep, maxRise: p.n > 1 ? maxRise : 0, minRise: p.n > 1 ? minRise : 0, trapezoid,
  };
}

const FLOAT_MODE = MAX_DECIMALS + 1;

export function encodeChunk(p: SeriesPoints): Buffer {
  const w = new ByteWriter(Math.max(64, p.n * 4));
  w.uvarint(p.n);
  const e = commonDecimals(p.n, (i) => p.value[i]!) ?? FLOAT_MODE;
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
  else column((i) => Math.round(p.value[i]! * pow10(e)));
  column((i) => p.seq[i]!);
  writeRuns(w, p.flags, p.n);
  w.uvarint(p.flagNames.size);
  for (const [idx, names] of p.flagNames) {
    w.uvarint(idx);
    w.string(JSON.stringify(names));
  }
  // last, so that a chunk written before epochs (which ends here) reads as all epoch 1
  writeRuns(w, p.epoch, p.n);
  return deflateRawSync(w.result(), { level: 1 });
}

/** A column of small integers that changes seldom (flags, epochs) as (length, value) runs. */
function writeRuns(w: ByteWriter, xs: Uint8Array | Uint32Array, n: number): void {
  let i = 0;
  let runs = 0;
  const rw = new ByteWriter(16);
  while (i < n) {
    let j = i + 1;
    while (j < n && xs[j] === xs[i]) j++;
    rw.uvarint(j - i);
    rw.uvarint(xs[i]!);
    runs++;
    i = j;
  }
  w.uvarint(runs);
  w.bytes(rw.result());
}

function readRuns(b: Buffer, at: { pos: number }, into: Uint8Array | Uint32Array, base: number, n: number, what: string): void {
  const runs = readUvarint(b, at);
  let k = base;
  for (let r = 0; r < runs; r++) {
    const len = readUvarint(b, at);
    if (k + len > base + n) throw new Error(`index chunk ${what} overrun its points`);
    into.fill(readUvarint(b, at), k, k + len);
    k += len;
  }
  if (k !== base + n) throw new Error(`index chunk ${what} do not cover its points`);
}

/**
 * One delta-of-delta column into out[base..base+n), divided by `divisor`. Written out flat, without
 * a reader object: this is the report's inner loop (a year of a meter is millions of varints).
 * Returns the position after the column.
 */
function readColumn(b: Buffer, pos: number, n: number, out: Float64Array, base: number, divisor: number): number {
  let prev = 0;
  let prevDelta = 0;
  for (let i = 0; i < n; i++) {
    let x = b[pos++]!;
    let z = x;
    if (x >= 0x80) {
      z = x & 0x7f;
      let mul = 0x80;
      do {
        x = b[pos++]!;
        z += (x & 0x7f) * mul;
        mul *= 0x80;
      } while (x >= 0x80 && mul <= 2 ** 56);
    }
    prevDelta += z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    prev += prevDelta;
    out[base + i] = divisor === 1 ? prev : prev / divisor;
  }
  if (pos > b.length || Number.isNaN(prev)) throw new Error('index chunk is truncated');
  return pos;
}

function readUvarint(b: Buffer, at: { pos: number }): number {
  let x = b[at.pos++]!;
  let z = x & 0x7f;
  let mul = 0x80;
  while (x >= 0x80) {
    if (at.pos >= b.length || mul > 2 ** 56) throw new Error('index chunk is truncated');
    x = b[at.pos++]!;
    z += (x & 0x7f) * mul;
    mul *= 0x80;
  }
  return z;
}

/** Decode a chunk, appending its points to `into`. */
export function decodeChunkInto(data: Buffer, into: SeriesPoints): void {
  const b = inflateRawSync(data);
  const at = { pos: 0 };
  const n = readUvarint(b, at);
  const e = readUvarint(b, at);
  if (e > FLOAT_MODE) throw new Error(`MRV chunk has a bad value scale ${e}`);
  const base = into.n;
  reserve(into, n);
  into.n += n;
  at.pos = readColumn(b, at.pos, n, into.ts, base, 1);
  if (e === FLOAT_MODE) {
    for (let i = 0; i < n; i++, at.pos += 8) into.value[base + i] = b.readDoubleLE(at.pos);
  } else at.pos = readColumn(b, at.pos, n, into.value, base, pow10(e));
  at.pos = readColumn(b, at.pos, n, into.seq, base, 1);
  readRuns(b, at, into.flags, base, n, 'flags');
  const named = readUvarint(b, at);
  for (let r = 0; r < named; r++) {
    const idx = readUvarint(b, at);
    const len = readUvarint(b, at);
    into.flagNames.set(base + idx, JSON.parse(b.toString('utf8', at.pos, at.pos + len)) as string[]);
    at.pos += len;
  }
  if (at.pos < b.length) readRuns(b, at, into.epoch, base, n, 'epochs');
  else into.epoch.fill(1, base, base + n);
}

export function decodeChunk(data: Buffer): SeriesPoints {
  const p = emptyPoints();
  decodeChunkInto(data, p);
  return p;
}

// One chunk of the LevelDB readings index (level-readings.ts): a batch's readings of one series
// within one UTC hour, in (ts, seq) order, in a few bytes each. Timestamps as deltas from the hour
// and from each other, seqs as deltas, values as decimal mantissas with one scale per chunk (delta
// coded; a chunk with a value that has no short decimal form keeps float64s), failed reads as runs,
// the quality score as runs (it is almost always one value), and the rare flags by reading.
//
// Layout (varints as protocol/columnar/encoder.ts writes them):
//   n, scale (0..9, or FLOAT), first ts - hour, n-1 ts deltas (>= 0), first seq (signed), n-1 seq
//   deltas (signed), null runs (count, then lengths alternating present/null, starting present),
//   the present values (scale: signed mantissa deltas; FLOAT: float64 each), score runs (count,
//   then length and float64 each), flagged readings (count, then index and the flags as JSON).
import { ByteReader } from '../../protocol/columnar/decoder.ts';
import { ByteWriter } from '../../protocol/columnar/encoder.ts';
import { commonDecimals, MAX_DECIMALS, pow10 } from '../../protocol/decimals.ts';
import type { ReadingRow } from './types.ts';

const FLOAT = MAX_DECIMALS + 1;
/** mantissas below this keep their deltas safe integers */
const MANTISSA_LIMIT = 2 ** 51;

/** A chunk's readings, decoded; a failed read's value is NaN (a JSON number never is). */
export interface ChunkReadings {
  n: number;
  ts: Float64Array;
  seq: Float64Array;
  value: Float64Array;
  /** the quality score and flags of reading i, read only when asked for */
  quality: ((i: number) => { score: number; flags: string[] }) | null;
}

/**
 * The chunk of readings rows[idx[k]], which are of one series and one hour (`hour`, ms) and
 * sorted by (ts, seq).
 */
export function encodeChunk(rows: readonly ReadingRow[], idx: readonly number[], hour: number): Buffer {
  const n = idx.length;
  const w = new ByteWriter(16 + n * 4);
  // the present values' common scale; their mantissas' deltas stay safe integers
  const e = commonDecimals(n, (k) => rows[idx[k]!]!.value, MANTISSA_LIMIT - 1) ?? FLOAT;
  w.uvarint(n);
  w.uvarint(e);
  let prev = hour;
  for (const i of idx) {
    const ts = rows[i]!.ts;
    w.uvarint(ts - prev);
    prev = ts;
  }
  prev = 0;
  for (const i of idx) {
    const seq = rows[i]!.seq;
    w.svarint(seq - prev);
    prev = seq;
  }
  writeNullRuns(w, rows, idx);
  const p = e === FLOAT ? 1 : pow10(e);
  let prevM = 0;
  for (const i of idx) {
    const v = rows[i]!.value;
    if (v === null) continue;
    if (e === FLOAT) w.float64(v === 0 ? 0 : v); // -0 reads back as 0, as a decimal would
    else {
      const m = Math.round(v * p);
      w.svarint(m - prevM);
      prevM = m;
    }
  }
  writeScoreRuns(w, rows, idx);
  let flagged = 0;
  for (const i of idx) if (rows[i]!.flags.length > 0) flagged++;
  w.uvarint(flagged);
  for (let k = 0; k < n && flagged > 0; k++) {
    const flags = rows[idx[k]!]!.flags;
    if (flags.length === 0) continue;
    w.uvarint(k);
    w.string(JSON.stringify(flags));
  }
  return w.result();
}

function writeNullRuns(w: ByteWriter, rows: readonly ReadingRow[], idx: readonly number[]): void {
  const runs: number[] = [];
  let isNull = false;
  let len = 0;
  for (const i of idx) {
    if ((rows[i]!.value === null) !== isNull) {
      runs.push(len);
      isNull = !isNull;
      len = 0;
    }
    len++;
  }
  runs.push(len);
  w.uvarint(runs.length);
  for (const r of runs) w.uvarint(r);
}

function writeScoreRuns(w: ByteWriter, rows: readonly ReadingRow[], idx: readonly number[]): void {
  // almost always one run: counted first, then written, with no list of runs made
  let runs = 1;
  for (let k = 1; k < idx.length; k++) if (rows[idx[k]!]!.score !== rows[idx[k - 1]!]!.score) runs++;
  w.uvarint(runs);
  let len = 1;
  for (let k = 1; k <= idx.length; k++) {
    if (k < idx.length && rows[idx[k]!]!.score === rows[idx[k - 1]!]!.score) {
      len++;
      continue;
    }
    w.uvarint(len);
    w.float64(rows[idx[k - 1]!]!.score);
    len = 1;
  }
}

/** A chunk's readings; with `quality`, also each reading's score and flags. Throws on a damaged chunk. */
export function decodeChunk(buf: Uint8Array, hour: number, quality = false): ChunkReadings {
  const r = new ByteReader(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength), 0, buf.byteLength, 'readings chunk');
  const n = r.uvarint();
  const e = r.uvarint();
  // every reading takes at least two bytes (ts and seq deltas): a count beyond that is damage
  if (n > buf.byteLength || e > FLOAT) throw new Error('readings chunk has a bad header');
  const ts = new Float64Array(n);
  const seq = new Float64Array(n);
  const value = new Float64Array(n);
  let t = hour;
  for (let k = 0; k < n; k++) ts[k] = t += r.uvarint();
  let s = 0;
  for (let k = 0; k < n; k++) seq[k] = s += r.svarint();
  const runs = r.uvarint();
  let k = 0;
  for (let run = 0; run < runs; run++) {
    const len = r.uvarint();
    if (k + len > n) throw new Error('readings chunk has null runs past its readings');
    if (run % 2 === 1) value.fill(NaN, k, k + len);
    k += len;
  }
  const p = e === FLOAT ? 1 : pow10(e);
  let m = 0;
  for (k = 0; k < n; k++) {
    if (Number.isNaN(value[k]!)) continue;
    if (e === FLOAT) value[k] = r.float64();
    else value[k] = (m += r.svarint()) / p;
  }
  return { n, ts, seq, value, quality: quality ? readQuality(r, n) : null };
}

function readQuality(r: ByteReader, n: number): (i: number) => { score: number; flags: string[] } {
  const scores = new Float64Array(n);
  const runs = r.uvarint();
  let k = 0;
  for (let run = 0; run < runs; run++) {
    const len = r.uvarint();
    if (k + len > n) throw new Error('readings chunk has score runs past its readings');
    scores.fill(r.float64(), k, k + len);
    k += len;
  }
  const flags = new Map<number, string[]>();
  const flagged = r.uvarint();
  for (let f = 0; f < flagged; f++) {
    const at = r.uvarint();
    flags.set(at, JSON.parse(r.string()) as string[]);
  }
  return (i) => ({ score: scores[i]!, flags: flags.get(i) ?? [] });
}

// The compact wire encoding of a batch (content type application/vnd.fieldproof.columnar-v1, sent
// gzip-compressed): the records laid out column by column, each column delta-coded per series, so
// that gzip finds the repetition. The format is specified in docs/spec/columnar.md. The
// decoder (decoder.ts) rebuilds every record exactly and the sink recomputes the Merkle root, so
// a mistake here can only get a batch refused, never stored wrong.
import type { BatchHeader } from '../batch.ts';
import { canonicalize } from '../canonical.ts';
import { CanonicalReadingParser } from './canonical-reading-parser.ts';
import { decimal } from '../decimals.ts';

export const COLUMNAR_CONTENT_TYPE = 'application/vnd.fieldproof.columnar-v1';
export const COLUMNAR_MAGIC = 'FPC1';

/** value codes: 0 null, 1..10 a decimal with scale 0..9, 11 a raw float64 */
const VALUE_NULL = 0;
const VALUE_FLOAT = 11;
// Records read back from the journal's canonical lines have their keys in this (sorted) order;
// one in any other shape simply travels raw.
const READING_KEYS = ['device', 'kind', 'metric', 'quality', 'sensor', 'seq', 'ts', 'unit', 'v', 'value'];
const READING_KEYS_META = ['device', 'kind', 'meta', 'metric', 'quality', 'sensor', 'seq', 'ts', 'unit', 'v', 'value'];

const QUALITY_KEYS = ['flags', 'score'];

function keysAre(obj: object, expected: readonly string[]): boolean {
  let i = 0;
  for (const k in obj) {
    if (k !== expected[i]) return false;
    i++;
  }
  return i === expected.length;
}

/** A growable byte buffer with LEB128 varints. */
export class ByteWriter {
  private buf: Buffer;
  length = 0;

  constructor(size = 1024) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  /** unsigned, up to 2^53 */
  uvarint(n: number): void {
    this.room(8);
    while (n >= 0x80) {
      this.buf[this.length++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.length++] = n;
  }

  /** zigzag: small magnitudes of either sign stay short */
  svarint(n: number): void {
    this.uvarint(n >= 0 ? n * 2 : -n * 2 - 1);
  }

  float64(x: number): void {
    this.room(8);
    this.buf.writeDoubleLE(x, this.length);
    this.length += 8;
  }

  bytes(b: Buffer): void {
    this.room(b.length);
    b.copy(this.buf, this.length);
    this.length += b.length;
  }

  string(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.uvarint(b.length);
    this.bytes(b);
  }

  /** a nested writer's bytes, length-prefixed */
  section(w: ByteWriter): void {
    this.uvarint(w.length);
    this.room(w.length);
    w.buf.copy(this.buf, this.length, 0, w.length);
    this.length += w.length;
  }

  result(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

class Interner<K> {
  readonly list: K[] = [];
  private readonly index = new Map<K, number>();
  id(k: K): number {
    let i = this.index.get(k);
    if (i === undefined) {
      i = this.list.length;
      this.list.push(k);
      this.index.set(k, i);
    }
    return i;
  }
}

interface SeriesState {
  ts: number;
  delta: number;
  m: number;
}

function plainReading(r: Record<string, unknown>, device: string, seq: number): boolean {
  if (r.kind !== 'reading' || r.v !== 1 || r.device !== device || r.seq !== seq) return false;
  if (!keysAre(r, r.meta === undefined ? READING_KEYS : READING_KEYS_META)) return false;
  if (typeof r.sensor !== 'string' || typeof r.metric !== 'string' || typeof r.unit !== 'string') return false;
  if (!Number.isSafeInteger(r.ts)) return false;
  if (r.value !== null && (typeof r.value !== 'number' || !Number.isFinite(r.value) || Object.is(r.value, -0))) return false;
  const q = r.quality as Record<string, unknown> | null;
  if (typeof q !== 'object' || q === null || !keysAre(q, QUALITY_KEYS)) return false;
  if (typeof q.score !== 'number' || !Number.isFinite(q.score) || Object.is(q.score, -0)) return false;
  if (!Array.isArray(q.flags) || !q.flags.every((f) => typeof f === 'string')) return false;
  if (r.meta !== undefined && (typeof r.meta !== 'object' || r.meta === null || Array.isArray(r.meta))) return false;
  return true;
}

/**
 * Encode one batch. Records that are not plain readings of this batch (gap records, readings with
 * extra fields) travel as their canonical JSON; everything else goes into the columns.
 */
export function encodeColumnar(header: BatchHeader, records: readonly Record<string, unknown>[], pruned = false): Buffer {
  return encode(header, { kind: 'records', records }, pruned);
}

/**
 * The same from the journal's canonical lines: plain readings are read straight from the line
 * (and accepted only when re-encoding them gives the line back byte for byte), which spares a
 * JSON.parse per reading; anything else is parsed and goes the general way.
 */
export function encodeColumnarLines(header: BatchHeader, lines: readonly string[], pruned = false): Buffer {
  return encode(header, { kind: 'lines', lines }, pruned);
}

function encode(
  header: BatchHeader,
  input: { kind: 'records'; records: readonly Record<string, unknown>[] } | { kind: 'lines'; lines: readonly string[] },
  pruned: boolean,
): Buffer {
  const strings = new Interner<string>();
  const seriesOf = new Map<string, { metric: string; unit: string; id: number }[]>();
  const seriesParts: [number, number, number][] = [];
  const scores = new Interner<number>();
  const flagSets = new Interner<string>();
  const flagSetParts: number[][] = [];
  const raw = new ByteWriter(256);
  const colSeries = new ByteWriter();
  const colTs = new ByteWriter();
  const colValueCode = new ByteWriter();
  const colValue = new ByteWriter();
  const colScore = new ByteWriter();
  const colFlags = new ByteWriter();
  const colMeta = new ByteWriter();
  const state: SeriesState[] = [];
  let rawCount = 0;
  let lastRawIndex = 0;

  const writeRaw = (i: number, canonical: string) => {
    raw.uvarint(i - lastRawIndex);
    raw.string(canonical);
    lastRawIndex = i;
    rawCount++;
  };
  const writeReading = (sensor: string, metric: string, unit: string, ts: number, v: number | null, score: number, flags: readonly string[], meta: unknown) => {
    let s = -1;
    const known = seriesOf.get(sensor);
    if (known) for (const k of known) if (k.metric === metric && k.unit === unit) s = k.id;
    if (s < 0) {
      s = seriesParts.length;
      seriesParts.push([strings.id(sensor), strings.id(metric), strings.id(unit)]);
      state.push({ ts: 0, delta: 0, m: 0 });
      if (known) known.push({ metric, unit, id: s });
      else seriesOf.set(sensor, [{ metric, unit, id: s }]);
    }
    colSeries.uvarint(s);
    const st = state[s]!;
    const delta = ts - st.ts;
    colTs.svarint(delta - st.delta);
    st.ts = ts;
    st.delta = delta;
    if (v === null) colValueCode.uvarint(VALUE_NULL);
    else {
      const d = decimal(v);
      if (d && Number.isSafeInteger(d.m - st.m)) {
        colValueCode.uvarint(d.scale + 1);
        colValue.svarint(d.m - st.m);
        st.m = d.m;
      } else {
        colValueCode.uvarint(VALUE_FLOAT);
        colValue.float64(v);
      }
    }
    colScore.uvarint(scores.id(score));
    const fkey = flags.length === 0 ? '' : JSON.stringify(flags);
    const fbefore = flagSets.list.length;
    const f = flagSets.id(fkey);
    if (f === fbefore) flagSetParts.push(flags.map((x) => strings.id(x)));
    colFlags.uvarint(f);
    colMeta.uvarint(meta === undefined ? 0 : strings.id(canonicalize(meta)) + 1);
  };

  if (input.kind === 'lines') {
    const fast = new CanonicalReadingParser(header.device);
    for (let i = 0; i < input.lines.length; i++) {
      const line = input.lines[i]!;
      const r = fast.parse(line, header.first + i);
      if (r) writeReading(r.sensor, r.metric, r.unit, r.ts, r.value, r.score, r.flags, undefined);
      else addRecord(i, JSON.parse(line) as Record<string, unknown>);
    }
  } else {
    for (let i = 0; i < input.records.length; i++) addRecord(i, input.records[i]!);
  }

  function addRecord(i: number, r: Record<string, unknown>): void {
    if (!plainReading(r, header.device, header.first + i)) return writeRaw(i, canonicalize(r));
    const q = r.quality as { score: number; flags: string[] };
    writeReading(r.sensor as string, r.metric as string, r.unit as string, r.ts as number, r.value as number | null, q.score, q.flags, r.meta);
  }
  const count = input.kind === 'lines' ? input.lines.length : input.records.length;

  const out = new ByteWriter(4096);
  out.bytes(Buffer.from(COLUMNAR_MAGIC, 'ascii'));
  out.uvarint(pruned ? 1 : 0);
  out.string(canonicalize(header));
  out.uvarint(count);
  out.uvarint(strings.list.length);
  for (const s of strings.list) out.string(s);
  out.uvarint(seriesParts.length);
  for (const [a, b, c] of seriesParts) {
    out.uvarint(a);
    out.uvarint(b);
    out.uvarint(c);
  }
  out.uvarint(scores.list.length);
  for (const s of scores.list) out.float64(s);
  out.uvarint(flagSetParts.length);
  for (const fs of flagSetParts) {
    out.uvarint(fs.length);
    for (const x of fs) out.uvarint(x);
  }
  out.uvarint(rawCount);
  out.section(raw);
  for (const col of [colSeries, colTs, colValueCode, colValue, colScore, colFlags, colMeta]) out.section(col);
  return out.result();
}

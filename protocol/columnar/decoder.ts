// Decoder of the compact wire encoding (format: docs/spec/columnar.md, encoder: encoder.ts). It rebuilds each record's canonical bytes from the protocol's
// ReadingEncoder (the device's own canonical writer, tested against RFC 8785; reading-lines.ts)
// and checks each field as recordProblem would; the sink then recomputes the Merkle root over
// these lines, so the encoding is trusted for nothing: a record that differs in any byte from what
// the device signed fails the root. Every read is bounds-checked: a truncated or hostile body is a one-line
// ColumnarError, never an exception from deep inside.
import { CanonicalizationError, canonicalize } from '../canonical.ts';
import type { JsonValue } from '../canonical.ts';
import { jsonDepth } from '../json-depth.ts';
import { MAX_DECIMALS, pow10 } from '../decimals.ts';
import { recordProblem } from '../records.ts';
import type { ParsedReading } from './canonical-reading-parser.ts';
import { ReadingLines, type ReadingTemplate } from './reading-lines.ts';

import { COLUMNAR_CONTENT_TYPE, COLUMNAR_MAGIC as MAGIC } from './encoder.ts';

export { COLUMNAR_CONTENT_TYPE };

/** Why a body was refused: it cannot be read, it holds more records than allowed, or a record is invalid. */
export type ColumnarErrorReason = 'malformed' | 'too_many_records' | 'bad_record';

/** A body that cannot be decoded, in one line. */
export class ColumnarError extends Error {
  override name = 'ColumnarError';
  readonly reason: ColumnarErrorReason;

  constructor(message: string, reason: ColumnarErrorReason = 'malformed') {
    super(message);
    this.reason = reason;
  }
}

/** A decoded batch: its header (not yet checked) and each record's canonical bytes. */
export interface ColumnarBatch {
  header: unknown;
  pruned: boolean;
  lines: string[];
  /** the readings' time span, null when the batch holds none */
  minTs: number | null;
  maxTs: number | null;
  /** each reading's fields as decoded, for a receiver that indexes them without parsing the lines again */
  readings: DecodedReading[];
}

/** A reading's fields, as the encoder's parser reads them from a line, with its seq. */
export type DecodedReading = ParsedReading & { seq: number };

/** A series' template for one combination of score, flags and meta (indices into the body's tables). */
interface SeriesTemplate {
  scoreRef: number;
  flagsRef: number;
  metaRef: number;
  score: number;
  flags: string[];
  template: ReadingTemplate;
}

/** The sink's default limits.maxJsonDepth: what a JSON body of the same batch may nest. */
const DEFAULT_JSON_DEPTH = 16;
/** A header nests two levels (its clock); a little room, and still nothing a parser or walk minds. */
const HEADER_DEPTH = 4;
const VALUE_NULL = 0;
const VALUE_FLOAT = 11;

export class ByteReader {
  pos: number;
  private readonly buf: Buffer;
  private readonly end: number;
  private readonly what: string;

  constructor(buf: Buffer, start = 0, end = buf.length, what = 'body') {
    this.buf = buf;
    this.end = end;
    this.what = what;
    this.pos = start;
  }

  /** a read ran past the end */
  truncated = false;

  private need(n: number): void {
    if (this.pos + n > this.end) {
      this.truncated = true;
      throw new ColumnarError(`columnar ${this.what} is truncated`);
    }
  }

  uvarint(): number {
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      this.need(1);
      const b = this.buf[this.pos++]!;
      n += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (!Number.isSafeInteger(n)) throw new ColumnarError(`columnar ${this.what} has an integer out of range`);
        return n;
      }
      mul *= 0x80;
    }
    throw new ColumnarError(`columnar ${this.what} has an overlong varint`);
  }

  svarint(): number {
    const z = this.uvarint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  float64(): number {
    this.need(8);
    const x = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return x;
  }

  string(): string {
    const len = this.uvarint();
    this.need(len);
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  /** a length-prefixed section as its own reader */
  section(what: string): ByteReader {
    const len = this.uvarint();
    this.need(len);
    const r = new ByteReader(this.buf, this.pos, this.pos + len, what);
    this.pos += len;
    return r;
  }

  done(): boolean {
    return this.pos === this.end;
  }
}

function index<T>(list: readonly T[], i: number, what: string): T {
  if (i >= list.length) throw new ColumnarError(`columnar body refers to ${what} ${i} of ${list.length}`);
  return list[i]!;
}

/**
 * JSON text of the body, nested no deeper than `maxDepth`: what a JSON body allows the same
 * value (limits.maxJsonDepth, less the levels above it there), so that one batch is taken or
 * refused alike in either encoding, and a record nests no deeper than a proof of it may.
 */
function parseJson(text: string, what: string, maxDepth: number): unknown {
  if (jsonDepth(text, maxDepth) > maxDepth) throw new ColumnarError(`columnar body has ${what} nested deeper than ${maxDepth} levels, which a JSON body may not hold`);
  try {
    return JSON.parse(text);
  } catch {
    throw new ColumnarError(`columnar body has ${what} that is not JSON`);
  }
}

/** `encode()`, with a value JSON cannot encode (1e999 parses to Infinity) refused as record `at`'s fault. */
function encodable<T>(at: number, encode: () => T): T {
  try {
    return encode();
  } catch (err) {
    if (err instanceof CanonicalizationError) throw new ColumnarError(`record ${at}: ${err.message}`, 'bad_record');
    throw err;
  }
}

/** The front of a body: what a receiver checks before it reads any record. */
export interface ColumnarHead {
  header: unknown;
  pruned: boolean;
  count: number;
}

function readHead(r: ByteReader, buf: Buffer, maxHeaderBytes: number): ColumnarHead {
  if (buf.length >= 4 && buf.toString('ascii', 0, 4) !== MAGIC) throw new ColumnarError('columnar body does not start with FPC1');
  r.pos = 4;
  const flags = r.uvarint();
  if (flags > 1) throw new ColumnarError(`columnar body has unknown flags ${flags}`);
  const at = r.pos;
  if (r.uvarint() > maxHeaderBytes) throw new ColumnarError(`columnar body has a header over ${maxHeaderBytes} bytes`);
  r.pos = at;
  const header = parseJson(r.string(), 'a header', HEADER_DEPTH);
  return { header, pruned: flags === 1, count: r.uvarint() };
}

/**
 * The header, flags and record count from the first bytes of a body, or null while too few have
 * arrived: a receiver checks the signed header before it reads (or even receives) the records.
 */
export function readColumnarHead(buf: Buffer, maxHeaderBytes: number): ColumnarHead | null {
  const r = new ByteReader(buf, 0);
  try {
    return readHead(r, buf, maxHeaderBytes);
  } catch (err) {
    if (err instanceof ColumnarError && r.truncated) return null;
    throw err;
  }
}

/**
 * `maxJsonDepth`: the nesting a JSON body of the same batch may have (the sink's
 * limits.maxJsonDepth); a record sits two levels down in one ({"records": [record]}), its meta three.
 */
export function decodeColumnar(buf: Buffer, maxRecords: number, maxHeaderBytes = 64 * 1024, maxJsonDepth = DEFAULT_JSON_DEPTH): ColumnarBatch {
  if (buf.length < 4) throw new ColumnarError('columnar body does not start with FPC1');
  const r = new ByteReader(buf, 4);
  const { header, pruned, count } = readHead(r, buf, maxHeaderBytes);
  if (count > maxRecords) throw new ColumnarError(`batch has ${count} records, more than the limit of ${maxRecords}`, 'too_many_records');
  const h = header as { device?: unknown; first?: unknown };
  if (typeof h.device !== 'string' || !Number.isSafeInteger(h.first)) throw new ColumnarError('columnar body has a header without device and first');
  const device = h.device;
  const first = h.first as number;
  const readingLines = new ReadingLines(device);

  const nStrings = r.uvarint();
  if (nStrings > count * 8 + 64) throw new ColumnarError('columnar body has more strings than records can use');
  const strings: string[] = new Array(nStrings);
  for (let i = 0; i < nStrings; i++) strings[i] = r.string();
  const nSeries = r.uvarint();
  if (nSeries > count) throw new ColumnarError('columnar body has more series than records');
  const series: { sensor: string; metric: string; unit: string }[] = new Array(nSeries);
  for (let i = 0; i < nSeries; i++) {
    series[i] = { sensor: index(strings, r.uvarint(), 'string'), metric: index(strings, r.uvarint(), 'string'), unit: index(strings, r.uvarint(), 'string') };
  }
  const nScores = r.uvarint();
  if (nScores > count) throw new ColumnarError('columnar body has more scores than records');
  const scores: number[] = new Array(nScores);
  for (let i = 0; i < nScores; i++) scores[i] = r.float64();
  const nFlagSets = r.uvarint();
  if (nFlagSets > count) throw new ColumnarError('columnar body has more flag sets than records');
  const flagSets: string[][] = new Array(nFlagSets);
  for (let i = 0; i < nFlagSets; i++) {
    const n = r.uvarint();
    if (n > nStrings) throw new ColumnarError('columnar body has a flag set longer than its strings');
    const set: string[] = new Array(n);
    for (let j = 0; j < n; j++) set[j] = index(strings, r.uvarint(), 'string');
    flagSets[i] = set;
  }
  let minTs: number | null = null;
  let maxTs: number | null = null;
  const noteTs = (ts: number) => {
    if (minTs === null || ts < minTs) minTs = ts;
    if (maxTs === null || ts > maxTs) maxTs = ts;
  };
  const rawCount = r.uvarint();
  if (rawCount > count) throw new ColumnarError('columnar body has more raw records than records');
  const raw = r.section('raw records');
  const lines: string[] = new Array(count);
  const readings: DecodedReading[] = [];
  const isRaw = new Uint8Array(count);
  let at = 0;
  for (let i = 0; i < rawCount; i++) {
    at += raw.uvarint();
    if (at >= count || (i > 0 && isRaw[at])) throw new ColumnarError('columnar body places a raw record outside the batch');
    const rec = parseJson(raw.string(), 'a raw record', maxJsonDepth - 2) as Record<string, unknown>;
    const problem = recordProblem(rec);
    if (problem) throw new ColumnarError(`record ${at}: ${problem}`, 'bad_record');
    if (rec.device !== device || rec.seq !== first + at) throw new ColumnarError(`record ${at} is not seq ${first + at} of ${device}`, 'bad_record');
    if (rec.kind === 'reading') {
      noteTs(rec.ts as number);
      readings.push(rawReading(rec));
    }
    lines[at] = encodable(at, () => canonicalize(rec));
    isRaw[at] = 1;
  }
  const cSeries = r.section('series column');
  const cTs = r.section('timestamp column');
  const cCode = r.section('value code column');
  const cValue = r.section('value column');
  const cScore = r.section('score column');
  const cFlags = r.section('flags column');
  const cMeta = r.section('meta column');
  if (!r.done()) throw new ColumnarError('columnar body has trailing bytes');

  // Each series remembers the templates of its last two combinations of quality and meta: they
  // rarely change, and when they do it is mostly back and forth between two (a flagged reading
  // among plain ones), which is then a swap rather than a lookup by a key built for it.
  const state = series.map(() => ({ ts: 0, delta: 0, m: 0, last: null as SeriesTemplate | null, before: null as SeriesTemplate | null }));
  const metas = new Map<number, { [key: string]: JsonValue }>();
  for (let i = 0; i < count; i++) {
    if (isRaw[i]) continue;
    const s = cSeries.uvarint();
    const ser = index(series, s, 'series');
    const st = state[s]!;
    const delta = st.delta + cTs.svarint();
    const ts = st.ts + delta;
    st.ts = ts;
    st.delta = delta;
    const code = cCode.uvarint();
    let value: number | null;
    if (code === VALUE_NULL) value = null;
    else if (code === VALUE_FLOAT) value = cValue.float64();
    else if (code <= MAX_DECIMALS + 1) {
      // a decimal at scale code - 1 (protocol/decimals.ts), its mantissa a delta from the series' last
      st.m += cValue.svarint();
      value = st.m / pow10(code - 1);
    } else throw new ColumnarError(`columnar body has unknown value code ${code}`);
    if (value !== null && !Number.isFinite(value)) throw new ColumnarError(`record ${i}: reading.value must be a finite number or null`, 'bad_record');
    if (!Number.isSafeInteger(ts)) throw new ColumnarError(`record ${i}: reading.ts must be integer milliseconds`, 'bad_record');
    const scoreRef = cScore.uvarint();
    const flagsRef = cFlags.uvarint();
    const metaRef = cMeta.uvarint();
    let held = st.last;
    if (held === null || held.scoreRef !== scoreRef || held.flagsRef !== flagsRef || held.metaRef !== metaRef) {
      held = st.before;
      if (held === null || held.scoreRef !== scoreRef || held.flagsRef !== flagsRef || held.metaRef !== metaRef) {
        const score = index(scores, scoreRef, 'score');
        if (!Number.isFinite(score)) throw new ColumnarError(`record ${i}: reading.quality.score must be a finite number`, 'bad_record');
        const flags = index(flagSets, flagsRef, 'flag set');
        let meta: { [key: string]: JsonValue } | undefined;
        if (metaRef > 0) {
          meta = metas.get(metaRef);
          if (!meta) {
            const m = parseJson(index(strings, metaRef - 1, 'string'), 'meta', maxJsonDepth - 3);
            if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new ColumnarError(`record ${i}: meta must be an object`, 'bad_record');
            meta = m as { [key: string]: JsonValue };
            metas.set(metaRef, meta);
          }
        }
        held = { scoreRef, flagsRef, metaRef, score, flags, template: encodable(i, () => readingLines.template(`${s}:${scoreRef}:${flagsRef}:${metaRef}`, ser, meta, score, flags)) };
      }
      st.before = st.last;
      st.last = held;
    }
    const template = held.template;
    noteTs(ts);
    lines[i] = ReadingLines.line(template, first + i, ts, value);
    readings.push({ sensor: ser.sensor, metric: ser.metric, unit: ser.unit, ts, value, score: held.score, flags: held.flags, seq: first + i });
  }
  for (const [name, c] of [['series', cSeries], ['timestamp', cTs], ['value code', cCode], ['value', cValue], ['score', cScore], ['flags', cFlags], ['meta', cMeta]] as const) {
    if (!c.done()) throw new ColumnarError(`columnar ${name} column has trailing bytes`);
  }
  return { header, lines, pruned, minTs, maxTs, readings };
}

/** A raw reading record (checked by recordProblem) as a decoded reading. */
function rawReading(rec: Record<string, unknown>): DecodedReading {
  const q = rec.quality as { score: number; flags: unknown[] };
  return {
    sensor: rec.sensor as string, metric: rec.metric as string, unit: rec.unit as string, ts: rec.ts as number,
    value: rec.value as number | null, score: q.score, flags: q.flags.map(String), seq: rec.seq as number,
  };
}

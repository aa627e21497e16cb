// Reads a journal line back into a reading's fields without JSON.parse, for the columnar encoder.
// A misread would be sent altered, refused by the sink's root check, and retried forever, so a line
// is accepted only in forms whose re-encoding by protocol/reading-encoder.ts is provably that very
// line; anything else (meta, escapes, numbers in other forms) returns null and goes the general way.
// That proof is in the checks rather than in re-encoding each line and comparing, which cost as
// much as the rest of the encoding together:
// - a string is written as itself between quotes when it holds no quote, backslash, control
//   character or surrogate (JSON.stringify escapes exactly those);
// - a number is written as ECMAScript's Number::toString, and for a decimal text without exponent,
//   sign on zero, leading zeros or trailing fraction zeros, of at most 15 significant digits and
//   at least 1e-6 in magnitude, that is the text itself: any two such decimals are distinct
//   doubles (15 digits survive the round trip), so no shorter text names the same double.

export interface ParsedReading {
  sensor: string;
  metric: string;
  unit: string;
  ts: number;
  value: number | null;
  score: number;
  flags: string[];
}

const QUOTE = 34;
const BACKSLASH = 92;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * The number a canonical decimal text at line[start, end) stands for, or null when the text is
 * not in the form described above (which does not make it wrong, only not provably canonical).
 */
export function canonicalDecimal(line: string, start: number, end: number): number | null {
  let i = start;
  const negative = line.charCodeAt(i) === MINUS;
  if (negative) i++;
  if (i >= end) return null;
  let m = 0;
  let digits = 0;
  let c = line.charCodeAt(i);
  if (c === ZERO) {
    i++;
  } else {
    if (c < ZERO || c > NINE) return null;
    for (; i < end; i++) {
      c = line.charCodeAt(i);
      if (c < ZERO || c > NINE) break;
      m = m * 10 + (c - ZERO);
      if (++digits > 15) return null;
    }
  }
  let scale = 0;
  if (i < end) {
    if (line.charCodeAt(i) !== DOT) return null;
    i++;
    if (i >= end) return null;
    const fractionStart = i;
    for (; i < end; i++) {
      c = line.charCodeAt(i);
      if (c < ZERO || c > NINE) return null;
      m = m * 10 + (c - ZERO);
      // leading zeros of 0.000ddd are not significant
      if ((digits > 0 || c !== ZERO) && ++digits > 15) return null;
    }
    scale = end - fractionStart;
    if (c === ZERO || scale > 15) return null; // a trailing zero, or past the exact powers below
    if (digits === 0) return null; // 0.000
    if (m < POW10[scale]! && scale - String(m).length > 5) return null; // under 1e-6 toString uses an exponent
  }
  if (negative && m === 0) return null; // "-0": the canonical text is "0"
  const n = scale === 0 ? m : m / POW10[scale]!;
  return negative ? -n : n;
}

interface Head {
  sensor: string;
  metric: string;
  score: number;
  flags: string[];
}

/**
 * Parses lines exactly as protocol/reading-encoder.ts writes a reading without meta. One parser
 * per batch (the device name is fixed).
 *
 * Everything before `,"seq":` (device, metric, quality, sensor) repeats across a series' lines:
 * once a head has been read in full it is remembered, and a line that starts with exactly that
 * text needs only its tail read. The head is found as the last `,"seq":` (a string holds no raw
 * quote, so none can follow the member), and whatever is found there, a line is accepted only as
 * a remembered head, which was proved by the full reading, followed by a tail that is proved.
 */
export class CanonicalReadingParser {
  private readonly prefix: string;
  private readonly heads = new Map<string, Head>();
  private pos = 0;
  private line = '';

  constructor(device: string) {
    this.prefix = `{"device":${JSON.stringify(device)},"kind":"reading","metric":`;
  }

  private expect(text: string): boolean {
    if (!this.line.startsWith(text, this.pos)) return false;
    this.pos += text.length;
    return true;
  }

  /** A string written as itself between quotes. */
  private str(): string | null {
    const line = this.line;
    if (line.charCodeAt(this.pos) !== QUOTE) return null;
    const start = this.pos + 1;
    const end = line.indexOf('"', start);
    if (end < 0) return null;
    for (let i = start; i < end; i++) {
      const c = line.charCodeAt(i);
      if (c < 0x20 || c === BACKSLASH || (c >= 0xd800 && c <= 0xdfff)) return null;
    }
    this.pos = end + 1;
    return line.slice(start, end);
  }

  /** A canonical decimal up to the next ',' or '}'. */
  private num(): number | null {
    const line = this.line;
    let end = this.pos;
    for (; end < line.length; end++) {
      const c = line.charCodeAt(end);
      if (c === 44 || c === 125) break;
    }
    const n = canonicalDecimal(line, this.pos, end);
    if (n === null) return null;
    this.pos = end;
    return n;
  }

  parse(line: string, seq: number): ParsedReading | null {
    this.line = line;
    const seqAt = line.lastIndexOf(',"seq":');
    if (seqAt < 0) return null;
    const headText = line.slice(0, seqAt);
    const known = this.heads.get(headText);
    if (known) {
      this.pos = seqAt;
      return this.tail(seq, known);
    }
    const head = this.head();
    if (head === null || this.pos !== seqAt) return null;
    const r = this.tail(seq, head);
    if (r) this.heads.set(headText, head);
    return r;
  }

  /** device, metric, quality and sensor, from the start of the line */
  private head(): Head | null {
    this.pos = 0;
    if (!this.expect(this.prefix)) return null;
    const metric = this.str();
    if (metric === null || !this.expect(',"quality":{"flags":[')) return null;
    const flags: string[] = [];
    if (!this.expect(']')) {
      for (;;) {
        const f = this.str();
        if (f === null) return null;
        flags.push(f);
        if (this.expect(']')) break;
        if (!this.expect(',')) return null;
      }
    }
    if (!this.expect(',"score":')) return null;
    const score = this.num();
    if (score === null || !this.expect('},"sensor":')) return null;
    const sensor = this.str();
    return sensor === null ? null : { sensor, metric, score, flags };
  }

  /** seq, ts, unit and value, from `,"seq":` to the end of the line */
  private tail(seq: number, head: Head): ParsedReading | null {
    const line = this.line;
    if (!this.expect(',"seq":') || !this.expect(String(seq)) || !this.expect(',"ts":')) return null;
    const ts = this.num();
    if (ts === null || !Number.isSafeInteger(ts) || !this.expect(',"unit":')) return null;
    const unit = this.str();
    if (unit === null || !this.expect(',"v":1,"value":')) return null;
    let value: number | null;
    if (this.expect('null')) value = null;
    else {
      value = this.num();
      if (value === null) return null;
    }
    if (!this.expect('}') || this.pos !== line.length) return null;
    return { sensor: head.sensor, metric: head.metric, unit, ts, value, score: head.score, flags: head.flags };
  }
}

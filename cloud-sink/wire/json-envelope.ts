// A byte scanner for the JSON batch envelope `{"header": {...}, "records": [...], "pruned": true,
// "cover": {...}}` (cover: the signed gap record a pruned batch travels with),
// fed the body chunk by chunk as it arrives (after gunzip). It builds nothing: it follows strings
// and nesting, refuses a body at the first byte that takes it over the depth or record limit, and
// hands out the header's bytes as soon as the header has closed, so that the signed header is
// checked before the records are read on. Once the header passed, the whole body goes to
// JSON.parse, which rejects what the scanner does not look at (bad literals, numbers, escapes);
// the scanner's count and depth are exact for every body JSON.parse accepts, since both read
// strings and brackets alike. Measured against a streaming parser library in README.md.
import { WireError } from './errors.ts';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** The most bytes a header may take in a body; a real one is about 500. */
export const MAX_HEADER_BYTES = 16 * 1024;
/** The most bytes a pruned batch's cover may take: a header, a gap record naming many batches, a path. */
export const MAX_COVER_BYTES = 512 * 1024;
const MAX_KEY_BYTES = 32;

const MEMBERS = ['header', 'records', 'pruned', 'cover'] as const;
type Member = (typeof MEMBERS)[number];

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/** Where the scanner stands at the top level of the envelope object. */
type TopState = 'before' | 'key' | 'colon' | 'value' | 'in_value' | 'after_value' | 'done';

export class JsonEnvelopeScanner {
  private depth = 0;
  private inString = false;
  /** a backslash ended the last chunk inside a string */
  private escapePending = false;
  private top: TopState = 'before';
  /** the top-level member whose value is being read */
  private member: Member | null = null;
  private readonly seen = new Set<Member>();
  private key: number[] = [];
  private keyHasEscape = false;
  private headerParts: Buffer[] = [];
  private headerSize = 0;
  private header: Buffer | null = null;
  private prunedText = '';
  private coverSize = 0;
  /** inside the records array, a value may start at the next non-space byte */
  private recordExpected = false;
  private recordCount = 0;
  private recordLimit: number;

  private readonly maxDepth: number;

  constructor(maxDepth: number, maxRecords: number) {
    this.maxDepth = maxDepth;
    this.recordLimit = maxRecords;
  }

  /** The header's bytes once it has closed (before any record is read), else null. */
  get headerBytes(): Buffer | null {
    return this.header;
  }

  get records(): number {
    return this.recordCount;
  }

  get complete(): boolean {
    return this.top === 'done';
  }

  /** Lower the record limit (to the count a verified header signed); refuses at once when already over it. */
  limitRecords(limit: number, status = 422): void {
    this.recordLimit = Math.min(this.recordLimit, limit);
    if (this.recordCount > this.recordLimit) throw new WireError(`batch has more than ${this.recordLimit} records`, status);
  }

  /** Scan one chunk; throws WireError at the first byte that breaks a rule. */
  push(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.top === 'in_value' && this.member === 'records') i = this.scanRecords(chunk, i);
      else if (this.inString) i = this.skipString(chunk, i);
      else if (this.top === 'in_value') i = this.insideValue(chunk, i);
      else this.topLevel(chunk, i++);
    }
  }

  /** Throws unless the envelope has closed. */
  finish(): void {
    if (this.top !== 'done' || this.inString) throw new WireError('body is not valid JSON: it ends before the envelope object closes');
  }

  /** One byte inside a top-level value: nesting, record starts, header bytes, the pruned literal. */
  private insideValue(chunk: Buffer, i: number): number {
    const b = chunk[i]!;
    if (this.member === 'pruned') {
      if (isSpace(b) || b === COMMA || b === CLOSE_OBJECT) {
        if (this.prunedText !== 'true' && this.prunedText !== 'false') throw new WireError('body.pruned must be true or absent');
        this.endValue();
        this.topLevel(chunk, i);
        return i + 1;
      }
      this.prunedText += String.fromCharCode(b);
      if (this.prunedText.length > 5) throw new WireError('body.pruned must be true or absent');
      return i + 1;
    }
    this.valueBytes(chunk, i, i + 1);
    if (b === QUOTE) {
      this.inString = true;
      return i + 1;
    }
    if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
      if (++this.depth > this.maxDepth) throw new WireError(`body is nested deeper than ${this.maxDepth} levels`);
    } else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
      if (--this.depth === 1) this.endValue();
    }
    return i + 1;
  }

  /**
   * The records array: the hot loop, one byte at a time with the state in locals (a call per
   * string costs more than reading its bytes). Runs to the end of the chunk or of the array.
   */
  private scanRecords(chunk: Buffer, from: number): number {
    let depth = this.depth;
    let inString = this.inString;
    let expected = this.recordExpected;
    let count = this.recordCount;
    const limit = this.recordLimit;
    const maxDepth = this.maxDepth;
    const n = chunk.length;
    let i = from;
    if (this.escapePending) {
      this.escapePending = false;
      i++;
    }
    let closed = false;
    for (; i < n; i++) {
      const b = chunk[i]!;
      if (inString) {
        if (b === QUOTE) inString = false;
        else if (b === BACKSLASH) {
          if (i + 1 >= n) this.escapePending = true;
          i++;
        }
        continue;
      }
      // spaces (and control bytes, which JSON.parse refuses later)
      if (b <= 0x20) continue;
      if (expected && depth === 2 && b !== CLOSE_ARRAY) {
        expected = false;
        if (++count > limit) {
          this.recordCount = count;
          throw new WireError(`batch has more than ${limit} records`, 413);
        }
      }
      if (b === QUOTE) inString = true;
      else if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
        if (++depth > maxDepth) throw new WireError(`body is nested deeper than ${maxDepth} levels`);
      } else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
        if (--depth === 1) {
          closed = true;
          i++;
          break;
        }
      } else if (b === COMMA && depth === 2) expected = true;
    }
    this.depth = depth;
    this.inString = inString;
    this.recordExpected = expected;
    this.recordCount = count;
    if (closed) this.endValue();
    return Math.min(i, n);
  }

  private skipString(chunk: Buffer, from: number): number {
    let i = from;
    if (this.escapePending) {
      this.escapePending = false;
      i++;
    }
    const n = chunk.length;
    for (; i < n; i++) {
      const b = chunk[i]!;
      if (b === BACKSLASH) {
        if (i + 1 >= n) this.escapePending = true;
        i++;
      } else if (b === QUOTE) {
        this.keepString(chunk, from, i + 1);
        this.inString = false;
        if (this.top === 'key') this.endKey();
        return i + 1;
      }
    }
    this.keepString(chunk, from, n);
    return n;
  }

  /** A string's bytes belong to a top-level key, or to the header, or to nothing kept. */
  private keepString(chunk: Buffer, from: number, to: number): void {
    if (this.top === 'key') {
      for (let i = from; i < to; i++) {
        const b = chunk[i]!;
        if (b === BACKSLASH) this.keyHasEscape = true;
        this.key.push(b);
        if (this.key.length > MAX_KEY_BYTES) throw new WireError('body has an unknown field');
      }
    } else {
      this.valueBytes(chunk, from, to);
    }
  }

  /** Bytes of the header (kept) or of the cover (counted against its bound). */
  private valueBytes(chunk: Buffer, from: number, to: number): void {
    if (this.member === 'header') this.headerByte(chunk, from, to);
    else if (this.member === 'cover') {
      this.coverSize += to - from;
      if (this.coverSize > MAX_COVER_BYTES) throw new WireError(`body.cover is over ${MAX_COVER_BYTES} bytes`, 413);
    }
  }

  private headerByte(chunk: Buffer, from: number, to: number): void {
    this.headerSize += to - from;
    if (this.headerSize > MAX_HEADER_BYTES) throw new WireError(`body.header is over ${MAX_HEADER_BYTES} bytes`, 413);
    this.headerParts.push(chunk.subarray(from, to));
  }

  /** One byte outside strings and values: the envelope's own punctuation. */
  private topLevel(chunk: Buffer, i: number): void {
    const b = chunk[i]!;
    if (isSpace(b)) return;
    switch (this.top) {
      case 'before':
        if (b !== OPEN_OBJECT) throw new WireError('body must be a JSON object {"header": ..., "records": [...]}');
        this.depth = 1;
        this.top = 'key';
        return;
      case 'key':
        if (b === CLOSE_OBJECT && this.seen.size === 0) return this.close();
        if (b !== QUOTE) throw new WireError('body is not valid JSON: expected a field name');
        this.key = [];
        this.keyHasEscape = false;
        this.inString = true;
        return;
      case 'colon':
        if (b !== COLON) throw new WireError('body is not valid JSON: expected ":"');
        this.top = 'value';
        return;
      case 'value':
        return this.startValue(chunk, i);
      case 'after_value':
        if (b === COMMA) {
          this.top = 'key';
          return;
        }
        if (b === CLOSE_OBJECT) return this.close();
        throw new WireError('body is not valid JSON: expected "," or "}"');
      default:
        throw new WireError('body has bytes after the JSON object');
    }
  }

  private endKey(): void {
    // the closing quote is the key's last byte
    const raw = Buffer.from(this.key.slice(0, -1)).toString('utf8');
    let name = raw;
    if (this.keyHasEscape) {
      try {
        name = JSON.parse(`"${raw}"`) as string;
      } catch {
        throw new WireError('body is not valid JSON: a bad escape in a field name');
      }
    }
    if (!(MEMBERS as readonly string[]).includes(name)) throw new WireError(`body has an unknown field ${name}`);
    const member = name as Member;
    if (this.seen.has(member)) throw new WireError(`body has the field ${member} twice`);
    if (member === 'records' && !this.seen.has('header')) {
      throw new WireError('body.header must come before body.records (the sink checks the signed header first)');
    }
    this.seen.add(member);
    this.member = member;
    this.top = 'colon';
  }

  private startValue(chunk: Buffer, i: number): void {
    const b = chunk[i]!;
    if (this.member === 'header') {
      if (b !== OPEN_OBJECT) throw new WireError('body.header must be an object');
      this.headerByte(chunk, i, i + 1);
    } else if (this.member === 'records') {
      if (b !== OPEN_ARRAY) throw new WireError('body.records must be an array');
      this.recordExpected = true;
    } else if (this.member === 'cover') {
      if (b !== OPEN_OBJECT) throw new WireError('body.cover must be an object');
      this.valueBytes(chunk, i, i + 1);
    } else {
      this.prunedText = String.fromCharCode(b);
      this.top = 'in_value';
      return;
    }
    this.depth = 2;
    this.top = 'in_value';
  }

  /** A top-level value just closed. */
  private endValue(): void {
    if (this.member === 'header') {
      this.header = Buffer.concat(this.headerParts, this.headerSize);
      this.headerParts = [];
    }
    this.member = null;
    this.top = 'after_value';
  }

  private close(): void {
    if (!this.seen.has('header')) throw new WireError('body has no header');
    if (!this.seen.has('records')) throw new WireError('body.records must be an array');
    this.depth = 0;
    this.top = 'done';
  }
}

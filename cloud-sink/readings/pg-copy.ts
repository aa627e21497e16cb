// Readings as PostgreSQL's binary COPY format (the server's "COPY ... FROM STDIN (FORMAT binary)"),
// for the readings_data table (migration 007). Binary, not text: the server takes each timestamp
// and number as its 8 bytes instead of parsing text, and the sink writes them without printing
// them. Written here rather than taken from a package: it is a few fixed-width fields per row in
// one growing buffer, where a generic row-to-binary stream would cost an object and a stream chunk
// per field.
import type { ReadingRow } from './types.ts';

/** The columns each row carries, in order: what the COPY statement names. */
export const COPY_COLUMNS = '(series, epoch, ts, seq, batch, value, quality, flags)';

/** 2000-01-01T00:00Z, PostgreSQL's timestamp epoch, in ms since 1970 */
const PG_EPOCH_MS = 946_684_800_000;
const TWO_32 = 4_294_967_296;
/** below this many ms from PG_EPOCH_MS, the microseconds are exact as a double */
const EXACT_MS = 9_000_000_000_000;
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const TEXT_OID = 25;
const FIELDS = 8;
/** the most bytes a row takes without its flags */
const ROW_BYTES = 2 + 4 * FIELDS + 4 + 4 + 8 + 8 + 8 + 8 + 8;

export class ReadingsCopyWriter {
  private buf: Buffer;
  /** the same bytes, for the fixed-width writes (DataView's are inlined, Buffer's check each call) */
  private view: DataView;
  private pos = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(Math.max(initialBytes, SIGNATURE.length + 8));
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    SIGNATURE.copy(this.buf, 0);
    this.view.setInt32(SIGNATURE.length, 0); // flags: no OIDs
    this.view.setInt32(SIGNATURE.length + 4, 0); // no header extension
    this.pos = SIGNATURE.length + 8;
  }

  /** One reading of series `series`; a score of 1 and no flags are written as NULL. */
  row(series: number, epoch: number, batch: number, r: ReadingRow): void {
    const flags = r.flags.length > 0 ? r.flags.map((f) => Buffer.from(f, 'utf8')) : null;
    this.ensure(ROW_BYTES + (flags ? 24 + flags.reduce((n, f) => n + 4 + f.length, 0) : 0));
    const v = this.view;
    let p = this.pos;
    v.setInt16(p, FIELDS);
    v.setInt32(p + 2, 4);
    v.setInt32(p + 6, series);
    v.setInt32(p + 10, 4);
    v.setInt32(p + 14, epoch);
    p = this.int64(p + 18, microsSincePgEpoch(r.ts));
    p = this.int64(p, r.seq);
    p = this.int64(p, batch);
    p = r.value === null ? this.nul(p) : this.float8(p, r.value);
    p = r.score === 1 ? this.nul(p) : this.float8(p, r.score);
    this.pos = flags ? this.textArray(p, flags) : this.nul(p);
  }

  /** The rows with the trailer: what the COPY is sent. Writes nothing more after it. */
  finish(): Buffer {
    this.ensure(2);
    this.view.setInt16(this.pos, -1);
    this.pos += 2;
    return this.buf.subarray(0, this.pos);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
    this.view = new DataView(grown.buffer, grown.byteOffset, grown.byteLength);
  }

  /** an int8 field, written as two 32-bit halves (exact for any safe integer) */
  private int64(p: number, n: number | bigint): number {
    this.view.setInt32(p, 8);
    if (typeof n === 'bigint') this.view.setBigInt64(p + 4, n);
    else {
      const hi = Math.floor(n / TWO_32);
      this.view.setInt32(p + 4, hi);
      this.view.setUint32(p + 8, n - hi * TWO_32);
    }
    return p + 12;
  }

  private float8(p: number, x: number): number {
    this.view.setInt32(p, 8);
    this.view.setFloat64(p + 4, x);
    return p + 12;
  }

  private nul(p: number): number {
    this.view.setInt32(p, -1);
    return p + 4;
  }

  /** a one-dimensional text[] without NULLs: dimensions, element type, then each element */
  private textArray(p: number, items: Buffer[]): number {
    const v = this.view;
    v.setInt32(p, 20 + items.reduce((n, f) => n + 4 + f.length, 0));
    v.setInt32(p + 4, 1); // one dimension
    v.setInt32(p + 8, 0); // no NULL elements
    v.setInt32(p + 12, TEXT_OID);
    v.setInt32(p + 16, items.length);
    v.setInt32(p + 20, 1); // lower bound
    p += 24;
    for (const f of items) {
      v.setInt32(p, f.length);
      f.copy(this.buf, p + 4);
      p += 4 + f.length;
    }
    return p;
  }
}

/**
 * A timestamptz's microseconds since 2000, exactly: as a double while that is exact (until about
 * the year 2255), as a bigint beyond (the index holds any ts up to 2^53 ms).
 */
function microsSincePgEpoch(ms: number): number | bigint {
  const since = ms - PG_EPOCH_MS;
  return since < EXACT_MS && since > -EXACT_MS ? since * 1000 : BigInt(since) * 1000n;
}

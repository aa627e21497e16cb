// Canonical reading lines for the columnar decoder, a series at a time. In a batch most readings
// share their sensor, metric, unit, quality and meta with many others and differ only in seq, ts
// and value; the parts they share are written once per combination by the protocol's own
// ReadingEncoder and cut around those three fields, so the per-record work is three numbers and a
// concatenation. The cuts rely only on JCS member order (…, "seq", "ts", "unit", "v", "value"
// last), and the sink recomputes the root over the result, so a slip here can only refuse a batch.
import type { JsonValue } from '../canonical.ts';
import { ReadingEncoder } from '../reading-encoder.ts';

export interface ReadingTemplate {
  /** everything up to and including `"seq":` */
  head: string;
  /** `,"unit":…,"v":1,"value":` */
  unitToValue: string;
}

export class ReadingLines {
  private readonly encoder: ReadingEncoder;
  private readonly templates = new Map<string, ReadingTemplate>();

  constructor(device: string) {
    this.encoder = new ReadingEncoder(device);
  }

  /**
   * The shared parts for one combination of series, meta, score and flags; `key` names that
   * combination and must differ whenever any of them does.
   */
  template(key: string, series: { sensor: string; metric: string; unit: string }, meta: { [k: string]: JsonValue } | undefined, score: number, flags: readonly string[]): ReadingTemplate {
    let t = this.templates.get(key);
    if (t === undefined) {
      t = this.cut(series, meta, score, flags);
      this.templates.set(key, t);
    }
    return t;
  }

  /** The line of one reading of a template's combination. */
  static line(t: ReadingTemplate, seq: number, ts: number, value: number | null): string {
    return t.head + seq + ',"ts":' + ts + t.unitToValue + (value === null ? 'null' : Object.is(value, -0) ? '0' : String(value)) + '}';
  }

  private cut(series: { sensor: string; metric: string; unit: string }, meta: { [k: string]: JsonValue } | undefined, score: number, flags: readonly string[]): ReadingTemplate {
    const sample = this.encoder.encode(0, { ...series, ts: 0, value: null, ...(meta ? { meta } : {}) }, { score, flags: [...flags] });
    // "seq" is the last member before "ts"; an earlier `,"seq":` can only be inside meta.
    const seqAt = sample.lastIndexOf(',"seq":0,"ts":0,"unit":');
    const tail = ',"value":null}';
    if (seqAt < 0 || !sample.endsWith(tail)) throw new Error('the reading encoder no longer writes seq, ts, unit, v, value last');
    return { head: sample.slice(0, seqAt + ',"seq":'.length), unitToValue: sample.slice(seqAt + ',"seq":0,"ts":0'.length, sample.length - 'null}'.length) };
  }
}

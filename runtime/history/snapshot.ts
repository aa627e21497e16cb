// The history saved to disk, so that a restart does not blank the page even when the uplink has
// long since deleted the records it was built from. Binary, since a full history is millions of
// numbers: a magic line, a JSON header (what it covers, the series and their bucket counts, the
// gaps), then per series its buckets as float64 LE quintuples (bucket, min, max, sum, n).
//
// The file is the device's own, but it is still read as hostile: every length is checked against
// the bounds before anything is allocated, and a file that does not hold together is refused
// whole (the caller then rebuilds from the journal alone).
import { isValidName } from '../../protocol/records.ts';
import { MAX_BUCKETS_PER_SERIES } from './config.ts';
import { MAX_GAPS, MAX_UNIT_CHARS, type GapSpan, type HistoryIndex, type SeriesInfo } from './history-index.ts';

const MAGIC = Buffer.from('FPHIST1\n');
const MAX_HEADER_BYTES = 4 * 1024 * 1024;
const QUINT = 5 * 8;

interface Header {
  v: 1;
  savedAt: number;
  lastSeq: number;
  /** the journal's recovery epoch of lastSeq; absent means 1 */
  epoch?: number;
  bucketMs: number;
  series: (SeriesInfo & { n: number })[];
  gaps: GapSpan[];
}

export function encodeSnapshot(index: HistoryIndex, savedAt: number): Buffer {
  const series: Header['series'] = [];
  const bodies: Buffer[] = [];
  for (const s of index.dump()) {
    const body = Buffer.allocUnsafe(s.count * QUINT);
    let at = 0;
    for (const q of s.buckets) for (const v of q) at = body.writeDoubleLE(v, at);
    series.push({ ...s.info, n: at / QUINT });
    bodies.push(body.subarray(0, at));
  }
  const header: Header = { v: 1, savedAt, lastSeq: index.lastSeq, ...(index.epoch > 1 ? { epoch: index.epoch } : {}), bucketMs: index.bucketMs, series, gaps: index.allGaps() };
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(json.length);
  return Buffer.concat([MAGIC, len, json, ...bodies]);
}

/** Load a snapshot into an empty index; returns when it was saved. Throws a one-line reason when the file does not hold together. */
export function decodeSnapshot(buf: Buffer, index: HistoryIndex): { savedAt: number; lastSeq: number } {
  if (buf.length < MAGIC.length + 4 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('not a history snapshot');
  const headerLen = buf.readUInt32LE(MAGIC.length);
  if (headerLen > MAX_HEADER_BYTES || MAGIC.length + 4 + headerLen > buf.length) throw new Error('header length out of bounds');
  let h: Header;
  try {
    h = JSON.parse(buf.toString('utf8', MAGIC.length + 4, MAGIC.length + 4 + headerLen)) as Header;
  } catch {
    throw new Error('header is not JSON');
  }
  const problem = headerProblem(h, index.bucketMs);
  if (problem) throw new Error(problem);
  let at = MAGIC.length + 4 + headerLen;
  const expected = at + h.series.reduce((sum, s) => sum + s.n * QUINT, 0);
  if (expected !== buf.length) throw new Error(`size ${buf.length} bytes, the header describes ${expected}`);
  for (const s of h.series) {
    const info = { sensor: s.sensor, metric: s.metric, unit: s.unit };
    for (let k = 0; k < s.n; k++, at += QUINT) {
      const bucket = buf.readDoubleLE(at);
      const min = buf.readDoubleLE(at + 8);
      const max = buf.readDoubleLE(at + 16);
      const sum = buf.readDoubleLE(at + 24);
      const n = buf.readDoubleLE(at + 32);
      if (!Number.isSafeInteger(bucket) || bucket < 0 || !Number.isSafeInteger(n) || n < 1 || !Number.isFinite(min) || !Number.isFinite(max) || !Number.isFinite(sum) || min > max) {
        throw new Error(`a bucket of ${s.sensor}/${s.metric} does not hold together`);
      }
      index.mergeBucket(info, bucket, min, max, sum, n);
    }
  }
  for (const g of h.gaps) index.noteGap(g);
  index.lastSeq = h.lastSeq;
  index.epoch = h.epoch ?? 1;
  return { savedAt: h.savedAt, lastSeq: h.lastSeq };
}

function headerProblem(h: Header, bucketMs: number): string | null {
  if (typeof h !== 'object' || h === null || h.v !== 1) return 'unknown snapshot version';
  if (!Number.isSafeInteger(h.savedAt) || !Number.isSafeInteger(h.lastSeq) || h.lastSeq < 0) return 'savedAt or lastSeq is not an integer';
  if (h.epoch !== undefined && (!Number.isSafeInteger(h.epoch) || h.epoch < 2)) return 'epoch is not an integer >= 2';
  if (h.bucketMs !== bucketMs) return `saved with ${h.bucketMs} ms buckets, configured ${bucketMs} ms`;
  if (!Array.isArray(h.series) || !Array.isArray(h.gaps) || h.gaps.length > MAX_GAPS) return 'series or gaps malformed';
  for (const s of h.series) {
    if (typeof s !== 'object' || s === null || !isValidName(s.sensor) || !isValidName(s.metric) || typeof s.unit !== 'string' || s.unit.length > MAX_UNIT_CHARS) return 'a series is malformed';
    if (!Number.isSafeInteger(s.n) || s.n < 0 || s.n > MAX_BUCKETS_PER_SERIES) return `series ${s.sensor}/${s.metric} has ${s.n} buckets`;
  }
  for (const g of h.gaps) {
    if (typeof g !== 'object' || g === null || ![g.seq, g.dropped, g.from, g.to].every(Number.isSafeInteger) || typeof g.reason !== 'string' || g.reason.length > 128) return 'a gap is malformed';
  }
  return null;
}

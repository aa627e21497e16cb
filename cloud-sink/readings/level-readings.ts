// The readings index in the sink's LevelDB, written in the same batch write that accepts the batch
// (level-store.ts): an accepted batch is queryable at once, and there is nothing to fill in later.
// A batch's readings of one series within one UTC hour are one chunk (reading-chunk.ts), keyed
// series!hour!epoch!batch; one key per series names its unit, which is the series catalogue
// "latest per sensor" walks (then one reverse seek over the last hour's chunks); and each batch's
// hourly sums per series, which a query in whole-hour steps reads instead of the readings.
//
// The first layout put one key per reading. Draining 200,000 readings of 20 sensors it cost 39%
// of the sink's throughput (192,700 readings/s without the index, 118,200 with): some 2.5 µs a
// reading inside LevelDB for a 50-byte key and its entry, against 1 µs of the sink's own work. A
// chunk holds a reading in about 4.4 bytes and adds three keys per series and hour of a batch:
// the same drain, in alternating pairs, went 12% slower with the index in chunks where it went
// 39% slower with a key per reading (README, Measured). A chunk is written
// once, whole, with its batch: never read back and rewritten in a commit, and a series over
// [from, to) is still one key range, from hour(from), since no chunk holds a reading outside its
// hour. Stores in the first layout are converted when they open (level-layout.ts).
import type { Level } from 'level';
import { BucketFold } from './buckets.ts';
import { foldBySeries, type SeriesSlot } from './fold.ts';
import { decodeChunk, encodeChunk, type ChunkReadings } from './reading-chunk.ts';
import { HOUR_MS, hourlyPlan, hourStart, type LatestReading, type ReadingRow, type ReadingsIndex, type SeriesAnswer, type SeriesQuery } from './types.ts';

/** hourly sums a page */
const PAGE = 1000;
/** chunks a page: each holds at most one batch's readings of a series in an hour */
const CHUNK_PAGE = 64;
/** chunks a page when only the last hour is wanted: most hours have one or two */
const LAST_HOUR_PAGE = 4;

export type ReadingPut = { type: 'put'; key: string; value: string } | { type: 'put'; key: string; value: Buffer; valueEncoding: 'buffer' };

/** Names hold no '!' (protocol/names.ts), so these prefixes never run into each other. */
export const READINGS_KEYS = {
  chunks: (d: string, s: string, m: string) => `qc!${d}!${s}!${m}!`,
  // seqs and batch numbers start again in each recovery epoch: a later epoch's keys say theirs
  catalogue: (d: string, s: string, m: string) => `qs!${d}!${s}!${m}`,
  hourly: (d: string, s: string, m: string) => `qh!${d}!${s}!${m}!`,
  catalogueRange: (d: string) => ({ gte: `qs!${d}!`, lt: `qs!${d}!~` }),
  /** the first layout's key per reading, q!device!sensor!metric!ts!seq[!eN] */
  perReading: { gte: 'q!', lt: 'q!~' },
};
const K = READINGS_KEYS;

const inEpoch = (epoch: number) => (epoch === 1 ? '' : `!e${epoch}`);

const ZEROS = '0'.repeat(16);

/** pad() of a non-negative safe integer, without padStart's generality */
function pad16(n: number): string {
  const s = String(n);
  return s.length >= 16 ? s : ZEROS.slice(s.length) + s;
}

/**
 * The puts that index a batch's readings: a chunk per series and hour, each series' unit, and the
 * batch's hourly sums per series. All keyed by batch: putting a batch's readings again changes nothing.
 */
export function readingPuts(device: string, batch: number, rows: readonly ReadingRow[], epoch = 1): ReadingPut[] {
  const { slots, slotOf } = foldBySeries(rows);
  const bySlot = new Map<SeriesSlot, number[]>(slots.map((slot) => [slot, []]));
  for (let i = 0; i < rows.length; i++) bySlot.get(slotOf[i]!)!.push(i);
  const tail = `!${pad16(epoch)}!${pad16(batch)}`;
  const suffix = inEpoch(epoch);
  const ops: ReadingPut[] = [];
  for (const slot of slots) {
    const idx = inReadingOrder(rows, bySlot.get(slot)!);
    const prefix = K.chunks(device, slot.sensor, slot.metric);
    for (let a = 0; a < idx.length;) {
      const hour = hourStart(rows[idx[a]!]!.ts);
      let b = a + 1;
      while (b < idx.length && rows[idx[b]!]!.ts < hour + HOUR_MS) b++;
      ops.push({ type: 'put', key: `${prefix}${pad16(hour)}${tail}`, value: encodeChunk(rows, a === 0 && b === idx.length ? idx : idx.slice(a, b), hour), valueEncoding: 'buffer' });
      a = b;
    }
    ops.push({ type: 'put', key: K.catalogue(device, slot.sensor, slot.metric), value: slot.latest.unit });
    const hourly = K.hourly(device, slot.sensor, slot.metric);
    for (const [hour, h] of slot.hours) ops.push({ type: 'put', key: `${hourly}${pad16(hour)}!${pad16(batch)}${suffix}`, value: `${h.n}\t${h.sum}\t${h.min}\t${h.max}` });
  }
  return ops;
}

/**
 * A series' row indices by (ts, seq); of readings with the same ts and seq (a batch never holds
 * two) the last is kept, as a key per reading kept the last put.
 */
function inReadingOrder(rows: readonly ReadingRow[], idx: number[]): number[] {
  let sorted = true;
  for (let k = 1; k < idx.length && sorted; k++) {
    const a = rows[idx[k - 1]!]!;
    const b = rows[idx[k]!]!;
    sorted = a.ts < b.ts || (a.ts === b.ts && a.seq < b.seq);
  }
  if (sorted) return idx;
  const byOrder = idx.slice().sort((x, y) => rows[x]!.ts - rows[y]!.ts || rows[x]!.seq - rows[y]!.seq);
  return byOrder.filter((i, k) => k === byOrder.length - 1 || rows[byOrder[k + 1]!]!.ts !== rows[i]!.ts || rows[byOrder[k + 1]!]!.seq !== rows[i]!.seq);
}

/**
 * Whether reading (ts, seq) of `epoch` comes before the other: by ts, seq, then epoch in the order
 * the first layout's keys gave it (epoch 1, then '!e10' before '!e2'), so that sums add in the same order.
 */
function before(ts: number, seq: number, epoch: number, ts2: number, seq2: number, epoch2: number): boolean {
  if (ts !== ts2) return ts < ts2;
  if (seq !== seq2) return seq < seq2;
  return inEpoch(epoch) < inEpoch(epoch2);
}

interface HourChunk {
  epoch: number;
  data: Uint8Array;
}

/** Each hour's chunks of a key range, an hour at a time, in hour order. */
async function eachHour(db: Level<string, string>, prefix: string, gte: string, lt: string, reverse: boolean, fn: (hour: number, chunks: HourChunk[]) => boolean | void): Promise<void> {
  const pageSize = reverse ? LAST_HOUR_PAGE : CHUNK_PAGE;
  const it = db.iterator<string, Uint8Array>({ gte, lt, reverse, valueEncoding: 'view' });
  let hourKey = '';
  let chunks: HourChunk[] = [];
  try {
    for (;;) {
      const page = await it.nextv(pageSize);
      for (const [key, data] of page) {
        const h = key.slice(prefix.length, prefix.length + 16);
        if (h !== hourKey && chunks.length > 0) {
          if (fn(Number(hourKey), chunks) === false) return;
          chunks = [];
        }
        hourKey = h;
        chunks.push({ epoch: Number(key.slice(prefix.length + 17, prefix.length + 33)), data });
      }
      if (page.length === 0) break;
    }
    if (chunks.length > 0) fn(Number(hourKey), chunks);
  } finally {
    await it.close();
  }
}

/** The readings of one hour's chunks, merged into reading order (one chunk is in order already). */
function mergeHour(hour: number, chunks: HourChunk[]): ChunkReadings {
  if (chunks.length === 1) return decodeChunk(chunks[0]!.data, hour);
  const parts = chunks.map((c) => decodeChunk(c.data, hour));
  const n = parts.reduce((a, p) => a + p.n, 0);
  const ts = new Float64Array(n);
  const seq = new Float64Array(n);
  const value = new Float64Array(n);
  const epoch = new Float64Array(n);
  let at = 0;
  parts.forEach((p, c) => {
    ts.set(p.ts, at);
    seq.set(p.seq, at);
    value.set(p.value, at);
    epoch.fill(chunks[c]!.epoch, at, at + p.n);
    at += p.n;
  });
  let inOrder = true;
  for (let k = 1; k < n && inOrder; k++) inOrder = before(ts[k - 1]!, seq[k - 1]!, epoch[k - 1]!, ts[k]!, seq[k]!, epoch[k]!);
  if (inOrder) return { n, ts, seq, value, quality: null };
  // batches whose readings interleave in time (two epochs over the same hours): sorted once
  const order = Array.from({ length: n }, (_, k) => k).sort((x, y) => (before(ts[x]!, seq[x]!, epoch[x]!, ts[y]!, seq[y]!, epoch[y]!) ? -1 : 1));
  return { n, ts: Float64Array.from(order, (k) => ts[k]!), seq: Float64Array.from(order, (k) => seq[k]!), value: Float64Array.from(order, (k) => value[k]!), quality: null };
}

export class LevelReadingsIndex implements ReadingsIndex {
  private readonly level: () => Level<string, string>;

  constructor(level: () => Level<string, string>) {
    this.level = level;
  }

  async series(q: SeriesQuery): Promise<SeriesAnswer> {
    const db = this.level();
    const unit = (await db.get(K.catalogue(q.device, q.sensor, q.metric))) ?? null;
    const fold = new BucketFold(q.from, q.step);
    let rawFrom = q.from;
    const plan = hourlyPlan(q);
    if (plan && plan.hourlyUntil > q.from) {
      const prefix = K.hourly(q.device, q.sensor, q.metric);
      const it = db.iterator({ gte: prefix + pad16(q.from), lt: prefix + pad16(plan.hourlyUntil) });
      try {
        for (let page = await it.nextv(PAGE); page.length > 0; page = await it.nextv(PAGE)) {
          for (const [key, value] of page) {
            const [n, sum, min, max] = value.split('\t').map(Number) as [number, number, number, number];
            fold.addSums(Number(key.slice(prefix.length, prefix.length + 16)), n, sum, min, max);
          }
        }
      } finally {
        await it.close();
      }
      rawFrom = plan.hourlyUntil;
    }
    if (rawFrom < q.to) {
      const prefix = K.chunks(q.device, q.sensor, q.metric);
      // no chunk spans hours: nothing before rawFrom's hour holds a reading in range
      await eachHour(db, prefix, prefix + pad16(hourStart(rawFrom)), prefix + pad16(q.to), false, (hour, chunks) => {
        const r = mergeHour(hour, chunks);
        for (let k = 0; k < r.n; k++) {
          const ts = r.ts[k]!;
          const v = r.value[k]!;
          if (ts >= rawFrom && ts < q.to && !Number.isNaN(v)) fold.add(ts, v);
        }
      });
    }
    return { unit, points: fold.finish() };
  }

  async latest(device: string, limit: number): Promise<LatestReading[]> {
    const out: LatestReading[] = [];
    for await (const [key, unit] of this.level().iterator({ ...K.catalogueRange(device), limit })) {
      const [, , sensor, metric] = key.split('!') as [string, string, string, string];
      const prefix = K.chunks(device, sensor, metric);
      let best: { r: ChunkReadings; k: number; epoch: number } | null = null;
      // the last hour's chunks, one per batch that reached it: the latest reading is the last of one of them
      await eachHour(this.level(), prefix, prefix, `${prefix}~`, true, (hour, chunks) => {
        for (const c of chunks) {
          const r = decodeChunk(c.data, hour, true);
          const k = r.n - 1;
          if (k >= 0 && (!best || before(best.r.ts[best.k]!, best.r.seq[best.k]!, best.epoch, r.ts[k]!, r.seq[k]!, c.epoch))) best = { r, k, epoch: c.epoch };
        }
        return false;
      });
      if (!best) continue;
      const { r, k } = best as { r: ChunkReadings; k: number };
      const v = r.value[k]!;
      out.push({ sensor, metric, unit, ts: r.ts[k]!, value: Number.isNaN(v) ? null : v, quality: r.quality!(k) });
    }
    return out;
  }
}

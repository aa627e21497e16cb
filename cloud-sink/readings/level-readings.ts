// The readings index in the sink's LevelDB, written in the same batch write that accepts the batch
// (level-store.ts). One key per reading, ordered by series then time, so that a series over a
// range is one key range read in pages and folded as it streams; one key per series naming its
// unit, which is the series catalogue "latest per sensor" walks (then one reverse seek each); and
// each batch's hourly sums per series, which a query in whole-hour steps reads instead.
//
// The MRV register index (cloud-sink/mrv/index/) packs a register's readings into chunks, built
// after the batches are stored; that suits a report that reads whole years of a few registers.
// Here every sensor is indexed while its batch is accepted, and appending to a chunk would mean a
// read and a rewrite of that chunk inside every commit; a key per reading is a plain put.
import type { Level } from 'level';
import { pad } from '../store/types.ts';
import { BucketFold } from './buckets.ts';
import { foldBySeries } from './fold.ts';
import { hourlyPlan, type LatestReading, type ReadingRow, type ReadingsIndex, type SeriesAnswer, type SeriesQuery } from './types.ts';

const PAGE = 1000;

/** Names hold no '!' (protocol/names.ts), so these prefixes never run into each other. */
const K = {
  series: (d: string, s: string, m: string) => `q!${d}!${s}!${m}!`,
  // seqs and batch numbers start again in each recovery epoch: a later epoch's keys say theirs
  catalogue: (d: string, s: string, m: string) => `qs!${d}!${s}!${m}`,
  hourly: (d: string, s: string, m: string) => `qh!${d}!${s}!${m}!`,
  catalogueRange: (d: string) => ({ gte: `qs!${d}!`, lt: `qs!${d}!~` }),
};

const inEpoch = (epoch: number) => (epoch === 1 ? '' : `!e${epoch}`);

/** The value as text ('' for a failed read), then the quality score, then the flags when there are any. */
function encodeValue(r: ReadingRow): string {
  const head = `${r.value === null ? '' : r.value}\t${r.score}`;
  return r.flags.length > 0 ? `${head}\t${JSON.stringify(r.flags)}` : head;
}

const ZEROS = '0'.repeat(16);

/** pad() of a non-negative safe integer, without padStart's generality: once per reading, twice */
function pad16(n: number): string {
  const s = String(n);
  return s.length >= 16 ? s : ZEROS.slice(s.length) + s;
}

/**
 * The puts that index a batch's readings: each reading, its series' unit, and the batch's hourly
 * sums per series (keyed by batch: putting a batch's readings again changes nothing). A series' key
 * prefix is made once per batch, not once per reading.
 */
export function readingPuts(device: string, batch: number, rows: readonly ReadingRow[], epoch = 1): { type: 'put'; key: string; value: string }[] {
  const { slots, slotOf } = foldBySeries(rows);
  const prefixes = new Map(slots.map((slot) => [slot, K.series(device, slot.sensor, slot.metric)]));
  const suffix = inEpoch(epoch);
  const ops: { type: 'put'; key: string; value: string }[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    ops[i] = { type: 'put', key: `${prefixes.get(slotOf[i]!)}${pad16(r.ts)}!${pad16(r.seq)}${suffix}`, value: encodeValue(r) };
  }
  for (const slot of slots) {
    ops.push({ type: 'put', key: K.catalogue(device, slot.sensor, slot.metric), value: slot.latest.unit });
    const hourly = K.hourly(device, slot.sensor, slot.metric);
    for (const [hour, h] of slot.hours) ops.push({ type: 'put', key: `${hourly}${pad16(hour)}!${pad16(batch)}${suffix}`, value: `${h.n}\t${h.sum}\t${h.min}\t${h.max}` });
  }
  return ops;
}

/** Every entry of [gte, lt), a page at a time. */
async function eachEntry(db: Level<string, string>, gte: string, lt: string, fn: (key: string, value: string) => void): Promise<void> {
  const it = db.iterator({ gte, lt });
  try {
    for (;;) {
      const page = await it.nextv(PAGE);
      if (page.length === 0) return;
      for (const [key, value] of page) fn(key, value);
    }
  } finally {
    await it.close();
  }
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
      await eachEntry(db, prefix + pad(q.from), prefix + pad(plan.hourlyUntil), (key, value) => {
        const [n, sum, min, max] = value.split('\t').map(Number) as [number, number, number, number];
        fold.addSums(Number(key.slice(prefix.length, prefix.length + 16)), n, sum, min, max);
      });
      rawFrom = plan.hourlyUntil;
    }
    if (rawFrom < q.to) {
      const prefix = K.series(q.device, q.sensor, q.metric);
      await eachEntry(db, prefix + pad(rawFrom), prefix + pad(q.to), (key, value) => {
        const tab = value.indexOf('\t');
        if (tab === 0) return; // a failed read: no value
        fold.add(Number(key.slice(prefix.length, prefix.length + 16)), Number(value.slice(0, tab)));
      });
    }
    return { unit, points: fold.finish() };
  }

  async latest(device: string, limit: number): Promise<LatestReading[]> {
    const out: LatestReading[] = [];
    for await (const [key, unit] of this.level().iterator({ ...K.catalogueRange(device), limit })) {
      const [, , sensor, metric] = key.split('!') as [string, string, string, string];
      const prefix = K.series(device, sensor, metric);
      for await (const [rk, value] of this.level().iterator({ gte: prefix, lt: `${prefix}~`, reverse: true, limit: 1 })) {
        const [v, score, flags] = value.split('\t') as [string, string, string | undefined];
        out.push({
          sensor, metric, unit, ts: Number(rk.slice(prefix.length, prefix.length + 16)), value: v === '' ? null : Number(v),
          quality: { score: Number(score), flags: flags ? (JSON.parse(flags) as string[]) : [] },
        });
      }
    }
    return out;
  }
}

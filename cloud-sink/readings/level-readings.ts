// The readings index in the sink's LevelDB, written in the same batch write that accepts the batch
// (level-store.ts). One key per reading, ordered by series then time, so that a series over a
// range is one key range read in pages and folded as it streams; and one key per series naming
// its unit, which is the series catalogue "latest per sensor" walks (then one reverse seek each).
//
// The MRV register index (cloud-sink/mrv/index/) packs a register's readings into chunks, built
// after the batches are stored; that suits a report that reads whole years of a few registers.
// Here every sensor is indexed while its batch is accepted, and appending to a chunk would mean a
// read and a rewrite of that chunk inside every commit; a key per reading is a plain put.
import type { Level } from 'level';
import { pad } from '../store/types.ts';
import { BucketFold } from './buckets.ts';
import { latestOfRows, type LatestReading, type ReadingRow, type ReadingsIndex, type SeriesAnswer, type SeriesQuery } from './types.ts';

const PAGE = 1000;

/** Names hold no '!' (protocol/names.ts), so these prefixes never run into each other. */
const K = {
  series: (d: string, s: string, m: string) => `q!${d}!${s}!${m}!`,
  reading: (d: string, r: ReadingRow) => `q!${d}!${r.sensor}!${r.metric}!${pad(r.ts)}!${pad(r.seq)}`,
  catalogue: (d: string, s: string, m: string) => `qs!${d}!${s}!${m}`,
  catalogueRange: (d: string) => ({ gte: `qs!${d}!`, lt: `qs!${d}!~` }),
};

/** The value as text ('' for a failed read), then the quality score, then the flags when there are any. */
function encodeValue(r: ReadingRow): string {
  const head = `${r.value === null ? '' : r.value}\t${r.score}`;
  return r.flags.length > 0 ? `${head}\t${JSON.stringify(r.flags)}` : head;
}

/** The puts that index a batch's readings. */
export function readingPuts(device: string, rows: readonly ReadingRow[]): { type: 'put'; key: string; value: string }[] {
  const ops = rows.map((r) => ({ type: 'put' as const, key: K.reading(device, r), value: encodeValue(r) }));
  for (const r of latestOfRows(rows).values()) ops.push({ type: 'put', key: K.catalogue(device, r.sensor, r.metric), value: r.unit });
  return ops;
}

export class LevelReadingsIndex implements ReadingsIndex {
  private readonly level: () => Level<string, string>;

  constructor(level: () => Level<string, string>) {
    this.level = level;
  }

  async series(q: SeriesQuery): Promise<SeriesAnswer> {
    const prefix = K.series(q.device, q.sensor, q.metric);
    const unit = (await this.level().get(K.catalogue(q.device, q.sensor, q.metric))) ?? null;
    const fold = new BucketFold(q.from, q.step);
    if (q.to <= 0) return { unit, points: [] };
    const it = this.level().iterator({ gte: prefix + pad(Math.max(0, q.from)), lt: prefix + pad(q.to) });
    try {
      for (;;) {
        const page = await it.nextv(PAGE);
        if (page.length === 0) break;
        for (const [key, value] of page) {
          const tab = value.indexOf('\t');
          if (tab === 0) continue; // a failed read: no value
          fold.add(Number(key.slice(prefix.length, prefix.length + 16)), Number(value.slice(0, tab)));
        }
      }
    } finally {
      await it.close();
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

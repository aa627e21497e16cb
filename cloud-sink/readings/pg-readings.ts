// The readings index in PostgreSQL: the `readings` table (partitioned by month, see
// pg-partitions.ts) and `readings_latest`, written inside the transaction that stores the batch,
// and the two queries the API and Grafana ask. A series query is one range of the primary key
// (device, sensor, metric, ts) with the value carried in the index: an index-only scan.
import type pg from 'pg';
import { BucketFold } from './buckets.ts';
import {
  hourlyPartials, hourlyPlan, latestOfRows, type LatestReading, type ReadingRow, type ReadingsIndex, type SeriesAnswer, type SeriesQuery,
} from './types.ts';

/** ms since the epoch as timestamptz, exactly (a float division would round) */
const MS = (p: string) => `(timestamptz 'epoch' + ${p}::bigint * interval '1 millisecond')`;

/** A PostgreSQL array literal of text elements: quality flags are free strings. */
function textArray(items: readonly string[]): string {
  return items.length === 0 ? '{}' : `{${items.map((s) => `"${s.replace(/[\\"]/g, '\\$&')}"`).join(',')}}`;
}

function columns(rows: readonly ReadingRow[]) {
  const n = rows.length;
  const c = {
    sensor: new Array<string>(n), metric: new Array<string>(n), ts: new Array<number>(n), value: new Array<number | null>(n),
    unit: new Array<string>(n), score: new Array<number>(n), flags: new Array<string>(n), seq: new Array<number>(n),
  };
  rows.forEach((r, i) => {
    c.sensor[i] = r.sensor; c.metric[i] = r.metric; c.ts[i] = r.ts; c.value[i] = r.value;
    c.unit[i] = r.unit; c.score[i] = r.score; c.flags[i] = textArray(r.flags); c.seq[i] = r.seq;
  });
  return [c.sensor, c.metric, c.ts, c.value, c.unit, c.score, c.flags, c.seq];
}

/** The columns of columns() as rows, from parameter $first on. */
function unnestFrom(first: number): string {
  const types = ['text', 'text', 'bigint', 'float8', 'text', 'float8', 'text', 'bigint'];
  return `unnest(${types.map((t, i) => `$${first + i}::${t}[]`).join(', ')}) AS x(s, m, t, v, u, q, f, n)`;
}

/**
 * Insert a batch's readings, and move each series' latest reading forward, on the client of the
 * transaction that stores the batch. Arrays, not one parameter per value: one statement however
 * many readings, and no limit of 65,535 parameters to meet. No ON CONFLICT on the readings: the
 * transaction holds the device's head row and stores only the next batch, so a reading cannot be
 * there already, and a plain insert is cheaper than a speculative one; were it there, the primary
 * key would refuse it and the batch with it rather than store anything twice.
 */
export async function insertReadings(c: pg.PoolClient, device: string, batch: number, rows: readonly ReadingRow[], epoch = 1): Promise<void> {
  if (rows.length === 0) return;
  await c.query(
    `INSERT INTO readings (device, sensor, metric, ts, value, unit, quality, flags, seq, batch, epoch)
     SELECT $1, s, m, ${MS('t')}, v, u, q, f::text[], n, $2, $3 FROM ${unnestFrom(4)}`,
    [device, batch, epoch, ...columns(rows)]);
  await c.query(
    `INSERT INTO readings_latest AS l (device, sensor, metric, ts, value, unit, quality, flags, seq)
     SELECT $1, s, m, ${MS('t')}, v, u, q, f::text[], n FROM ${unnestFrom(2)}
     ON CONFLICT (device, sensor, metric) DO UPDATE
       SET ts = excluded.ts, value = excluded.value, unit = excluded.unit, quality = excluded.quality, flags = excluded.flags, seq = excluded.seq
       WHERE (l.ts, l.seq) < (excluded.ts, excluded.seq)`,
    [device, ...columns([...latestOfRows(rows).values()])]);
  const sums = hourlyPartials(rows);
  if (sums.length === 0) return;
  await c.query(
    `INSERT INTO readings_hourly (device, sensor, metric, hour, batch, epoch, n, sum, min, max)
     SELECT $1, s, m, ${MS('h')}, $2, $3, n, su, mi, ma
     FROM unnest($4::text[], $5::text[], $6::bigint[], $7::int[], $8::float8[], $9::float8[], $10::float8[]) AS x(s, m, h, n, su, mi, ma)
     ON CONFLICT DO NOTHING`,
    [device, batch, epoch, sums.map((h) => h.sensor), sums.map((h) => h.metric), sums.map((h) => h.hour), sums.map((h) => h.n),
      sums.map((h) => h.sum), sums.map((h) => h.min), sums.map((h) => h.max)]);
}

/**
 * The series query, reading by reading, as the API and the bench ask it (the README's Grafana panel
 * asks its own form). The bucket is grouped as a timestamptz and turned into milliseconds once per
 * bucket: per reading, the numeric that extract(epoch) returns costs more than the rest of the row.
 * It answers sums, not averages, so that its first bucket can be merged with hourly sums; $4..$5 is
 * the range read, $7 the start its buckets count from.
 */
export const SERIES_SQL = `
SELECT (extract(epoch FROM b) * 1000)::bigint AS t, count(*)::int AS n, sum(value) AS sum, min(value) AS min, max(value) AS max
FROM (SELECT date_bin($6::bigint * interval '1 millisecond', ts, ${MS('$7')}) AS b, value FROM readings
      WHERE device = $1 AND sensor = $2 AND metric = $3 AND ts >= ${MS('$4')} AND ts < ${MS('$5')} AND value IS NOT NULL) AS r
GROUP BY b ORDER BY b`;

/** The same from the batches' hourly sums, for whole-hour buckets from a whole hour. */
export const HOURLY_SQL = `
SELECT (extract(epoch FROM b) * 1000)::bigint AS t, sum(n)::bigint AS n, sum(sum) AS sum, min(min) AS min, max(max) AS max
FROM (SELECT date_bin($6::bigint * interval '1 millisecond', hour, ${MS('$4')}) AS b, n, sum, min, max FROM readings_hourly
      WHERE device = $1 AND sensor = $2 AND metric = $3 AND hour >= ${MS('$4')} AND hour < ${MS('$5')}) AS r
GROUP BY b ORDER BY b`;

type SumsRow = { t: string; n: string | number; sum: number; min: number; max: number };

export const LATEST_SQL = `
SELECT sensor, metric, unit, (extract(epoch FROM ts) * 1000)::bigint AS ts, value, quality, flags
FROM readings_latest WHERE device = $1 ORDER BY sensor, metric LIMIT $2`;

export class PgReadingsIndex implements ReadingsIndex {
  private readonly db: () => pg.Pool;

  constructor(db: () => pg.Pool) {
    this.db = db;
  }

  async series(q: SeriesQuery): Promise<SeriesAnswer> {
    const plan = hourlyPlan(q);
    const hourlyUntil = plan && plan.hourlyUntil > q.from ? plan.hourlyUntil : q.from;
    const series = [q.device, q.sensor, q.metric];
    const [hourly, raw, unit] = await Promise.all([
      hourlyUntil > q.from ? this.db().query<SumsRow>(HOURLY_SQL, [...series, q.from, hourlyUntil, q.step]) : null,
      hourlyUntil < q.to ? this.db().query<SumsRow>(SERIES_SQL, [...series, hourlyUntil, q.to, q.step, q.from]) : null,
      this.db().query<{ unit: string }>('SELECT unit FROM readings_latest WHERE device = $1 AND sensor = $2 AND metric = $3', [q.device, q.sensor, q.metric]),
    ]);
    // both in bucket order, the raw part after the hourly one; a bucket both touch is merged
    const fold = new BucketFold(q.from, q.step);
    for (const r of [...(hourly?.rows ?? []), ...(raw?.rows ?? [])]) fold.addSums(Number(r.t), Number(r.n), r.sum, r.min, r.max);
    return { unit: unit.rows[0]?.unit ?? null, points: fold.finish() };
  }

  async latest(device: string, limit: number): Promise<LatestReading[]> {
    const { rows } = await this.db().query<{ sensor: string; metric: string; unit: string; ts: string; value: number | null; quality: number; flags: string[] }>(LATEST_SQL, [device, limit]);
    return rows.map((r) => ({ sensor: r.sensor, metric: r.metric, unit: r.unit, ts: Number(r.ts), value: r.value, quality: { score: r.quality, flags: r.flags } }));
  }
}

// The readings index in PostgreSQL, as the API asks it: readings_data (partitioned by month, see
// pg-partitions.ts; written by pg-readings-write.ts) by series id, readings_latest and
// readings_hourly. A series query is one range of the (series, ts) index per unit the series came
// in, with the value carried in the index: an index-only scan.
import type pg from 'pg';
import { BucketFold } from './buckets.ts';
import { hourlyPlan, type LatestReading, type ReadingsIndex, type SeriesAnswer, type SeriesQuery } from './types.ts';

/** ms since the epoch as timestamptz, exactly (a float division would round) */
const MS = (p: string) => `(timestamptz 'epoch' + ${p}::bigint * interval '1 millisecond')`;

/**
 * The ids of a sensor's metric, one per unit it came in, looked up once (an initplan): the range
 * read is then a range of the (series, ts) index per id.
 */
const SERIES_IDS = 'ARRAY(SELECT id FROM readings_series WHERE device = $1 AND sensor = $2 AND metric = $3)';

/**
 * The series query, reading by reading, as the API and the bench ask it (the README's Grafana panel
 * asks its own form). The bucket is grouped as a timestamptz and turned into milliseconds once per
 * bucket: per reading, the numeric that extract(epoch) returns costs more than the rest of the row.
 * It answers sums, not averages, so that its first bucket can be merged with hourly sums; $4..$5 is
 * the range read, $7 the start its buckets count from.
 */
export const SERIES_SQL = `
SELECT (extract(epoch FROM b) * 1000)::bigint AS t, count(*)::int AS n, sum(value) AS sum, min(value) AS min, max(value) AS max
FROM (SELECT date_bin($6::bigint * interval '1 millisecond', ts, ${MS('$7')}) AS b, value FROM readings_data
      WHERE series = ANY(${SERIES_IDS}) AND ts >= ${MS('$4')} AND ts < ${MS('$5')} AND value IS NOT NULL) AS r
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
  private readonly settled: () => Promise<void>;

  /** @param settled resolves once the readings of the batches this process accepted so far are written */
  constructor(db: () => pg.Pool, settled: () => Promise<void> = () => Promise.resolve()) {
    this.db = db;
    this.settled = settled;
  }

  async series(q: SeriesQuery): Promise<SeriesAnswer> {
    await this.settled();
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
    await this.settled();
    const { rows } = await this.db().query<{ sensor: string; metric: string; unit: string; ts: string; value: number | null; quality: number; flags: string[] }>(LATEST_SQL, [device, limit]);
    return rows.map((r) => ({ sensor: r.sensor, metric: r.metric, unit: r.unit, ts: Number(r.ts), value: r.value, quality: { score: r.quality, flags: r.flags } }));
  }
}

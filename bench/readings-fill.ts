// The synthetic readings `bench readings` queries: a grid of devices x sensors at one reading a
// minute, and one dense series (a sensor with 30 days at 1/min) for the 30-day query to chew on.
// PostgreSQL is filled in SQL (generate_series) into the tables of migration 007, never through HTTP; LevelDB through the same
// puts the store writes when it accepts a batch.
import type { Level } from 'level';
import type pg from 'pg';
import { readingPuts } from '../cloud-sink/readings/level-readings.ts';
import type { ReadingRow } from '../cloud-sink/readings/types.ts';

export const MIN = 60_000;
export const DAY = 86_400_000;
export const DENSE_DEVICE = 'bench-dense';
export const SERIES = { sensor: 's-1', metric: 'co2_ppm' };

export interface Layout {
  devices: number;
  sensors: number;
  /** the grid's newest minute ends here */
  end: number;
  /** grid minutes held at the largest size */
  maxMinutes: number;
  /** readings of the dense series (at most 30 days of minutes) */
  denseRows: number;
}

export const gridDevice = (d: number) => `bench-${String(d).padStart(4, '0')}`;

/** The layout for sizes up to `maxRows`: the dense series takes up to half of the smallest size. */
export function layout(sizes: number[], devices: number, sensors: number, end: number): Layout {
  const denseRows = Math.min(30 * 1440, Math.floor(sizes[0]! / 2));
  return { devices, sensors, end, denseRows, maxMinutes: Math.ceil((sizes[sizes.length - 1]! - denseRows) / (devices * sensors)) };
}

/** Grid minutes held at `rows`, counted back from the newest. */
export function minutesFor(l: Layout, rows: number): number {
  return Math.max(1, Math.ceil((rows - l.denseRows) / (l.devices * l.sensors)));
}

const MS = (p: string) => `(timestamptz 'epoch' + ${p} * interval '1 millisecond')`;

/**
 * An INSERT INTO readings_data of rows (d, s, m, ts, value, seq, batch) from `rows`, a query naming
 * the device, sensor and metric, that also adds its rows to the hourly sums, as accepting a batch
 * does; each series is found in readings_series (fillSeriesPg makes them).
 */
function insertWithHourlySums(rows: string): string {
  return `WITH src AS (${rows}),
    ins AS (INSERT INTO readings_data (series, epoch, ts, seq, batch, value)
      SELECT rs.id, 1, src.ts, src.seq, src.batch, src.value FROM src JOIN readings_series rs ON (rs.device, rs.sensor, rs.metric, rs.unit) = (src.d, src.s, src.m, 'ppm')
      RETURNING series, ts, value, batch)
    INSERT INTO readings_hourly (device, sensor, metric, hour, batch, n, sum, min, max)
    SELECT rs.device, rs.sensor, rs.metric, date_bin('1 hour', ts, timestamptz 'epoch'), batch, count(*), sum(value), min(value), max(value)
    FROM ins JOIN readings_series rs ON rs.id = ins.series WHERE value IS NOT NULL GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (device, sensor, metric, hour, batch, epoch) DO UPDATE SET n = readings_hourly.n + excluded.n, sum = readings_hourly.sum + excluded.sum,
      min = least(readings_hourly.min, excluded.min), max = greatest(readings_hourly.max, excluded.max)`;
}

/** The grid's minutes [fromMinute, toMinute) (0 is the oldest of maxMinutes), a few devices per statement. */
export async function fillGridPg(db: pg.Pool, l: Layout, fromMinute: number, toMinute: number, progress: (done: number) => void): Promise<void> {
  const perStatement = Math.max(1, Math.floor(400_000 / (l.sensors * (toMinute - fromMinute))));
  const start = l.end - l.maxMinutes * MIN;
  for (let d = 1; d <= l.devices; d += perStatement) {
    const last = Math.min(l.devices, d + perStatement - 1);
    await db.query(insertWithHourlySums(
      `SELECT 'bench-' || lpad(d::text, 4, '0') AS d, 's-' || s AS s, 'co2_ppm' AS m, ${MS('($3::bigint + m::bigint * 60000)')} AS ts,
              (400 + ((d * 31 + s * 7 + m) % 200))::float8 AS value, m::bigint * $4 + s AS seq, (m / 25 + 1)::bigint AS batch
       FROM generate_series($1::int, $2::int) AS d, generate_series(1, $4::int) AS s, generate_series($5::int, $6::int) AS m`),
      [d, last, start, l.sensors, fromMinute, toMinute - 1]);
    progress(last);
  }
}

/** The series catalogue, the dense series and every series' latest reading. */
export async function fillDenseAndLatestPg(db: pg.Pool, l: Layout): Promise<void> {
  await db.query(
    `INSERT INTO readings_series (device, sensor, metric, unit)
     SELECT 'bench-' || lpad(d::text, 4, '0'), 's-' || s, 'co2_ppm', 'ppm' FROM generate_series(1, $1::int) AS d, generate_series(1, $2::int) AS s
     UNION ALL SELECT $3, $4, $5, 'ppm'`,
    [l.devices, l.sensors, DENSE_DEVICE, SERIES.sensor, SERIES.metric]);
  await db.query(insertWithHourlySums(
    `SELECT $1::text AS d, $2::text AS s, $3::text AS m, ${MS('($4::bigint - k::bigint * 60000)')} AS ts, (400 + (k % 300))::float8 AS value,
            $5::bigint - k AS seq, ($5::bigint - k) / 500 + 1 AS batch
     FROM generate_series(0, $5::int - 1) AS k`),
    [DENSE_DEVICE, SERIES.sensor, SERIES.metric, l.end - MIN, l.denseRows]);
  const newest = l.maxMinutes - 1;
  await db.query(
    `INSERT INTO readings_latest (device, sensor, metric, ts, value, unit, quality, flags, seq)
     SELECT 'bench-' || lpad(d::text, 4, '0'), 's-' || s, 'co2_ppm', ${MS('($3::bigint + $4::bigint * 60000)')}, 400 + ((d * 31 + s * 7 + $4) % 200), 'ppm', 1, '{}'::text[], $4::bigint * $2 + s
     FROM generate_series(1, $1::int) AS d, generate_series(1, $2::int) AS s
     UNION ALL SELECT $5, $6, $7, ${MS('($8::bigint)')}, 400, 'ppm', 1, '{}'::text[], $9`,
    [l.devices, l.sensors, l.end - l.maxMinutes * MIN, newest, DENSE_DEVICE, SERIES.sensor, SERIES.metric, l.end - MIN, l.denseRows]);
}

/** The same readings in a LevelDB, as the store's accepting writes put them. */
export async function fillLevel(db: Level<string, string>, l: Layout, minutes: number, progress: (done: number) => void): Promise<void> {
  const start = l.end - l.maxMinutes * MIN;
  const row = (sensor: string, ts: number, value: number, seq: number): ReadingRow => ({ sensor, metric: 'co2_ppm', ts, value, unit: 'ppm', score: 1, flags: [], seq });
  const dense: ReadingRow[] = [];
  for (let k = l.denseRows - 1; k >= 0; k--) dense.push(row(SERIES.sensor, l.end - MIN - k * MIN, 400 + (k % 300), l.denseRows - k));
  for (let i = 0; i < dense.length; i += 10_000) await db.batch<string, string | Buffer>(readingPuts(DENSE_DEVICE, 1 + i / 10_000, dense.slice(i, i + 10_000)), {});
  for (let d = 1; d <= l.devices; d++) {
    const rows: ReadingRow[] = [];
    for (let m = l.maxMinutes - minutes; m < l.maxMinutes; m++) {
      for (let s = 1; s <= l.sensors; s++) rows.push(row(`s-${s}`, start + m * MIN, 400 + ((d * 31 + s * 7 + m) % 200), m * l.sensors + s));
    }
    await db.batch<string, string | Buffer>(readingPuts(gridDevice(d), 1, rows), {});
    if (d % 50 === 0 || d === l.devices) progress(d);
  }
}

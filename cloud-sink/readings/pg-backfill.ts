// Readings of batches the sink holds but the readings table does not: the batches stored before
// the table existed (migration 003 marks them), or while the sink ran with the index off (marked
// at that start). Filled in at start, in SQL from the stored canonical lines, under the flag's row
// lock so that sink processes starting together do it once; readings already there are kept.
import type pg from 'pg';

const NAME = `'^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$'`;

const FILL_SQL = `
INSERT INTO readings (device, sensor, metric, ts, value, unit, quality, flags, seq, batch, epoch)
SELECT b.device, r->>'sensor', r->>'metric', timestamptz 'epoch' + (r->>'ts')::bigint * interval '1 millisecond',
       (r->>'value')::double precision, r->>'unit', coalesce((r->'quality'->>'score')::double precision, 0),
       coalesce(ARRAY(SELECT jsonb_array_elements_text(r->'quality'->'flags')), '{}'), (r->>'seq')::bigint, b.batch, b.epoch
FROM sink_batches b, LATERAL (SELECT line::jsonb AS r FROM regexp_split_to_table(b.records, E'\\n') AS line) AS lines
WHERE b.records IS NOT NULL AND b.records <> '' AND r->>'kind' = 'reading'
  AND r->>'sensor' ~ ${NAME} AND r->>'metric' ~ ${NAME} AND (r->>'ts')::bigint >= 0
ON CONFLICT DO NOTHING`;

const LATEST_SQL = `
INSERT INTO readings_latest AS l (device, sensor, metric, ts, value, unit, quality, flags, seq)
SELECT DISTINCT ON (device, sensor, metric) device, sensor, metric, ts, value, unit, quality, flags, seq
FROM readings ORDER BY device, sensor, metric, ts DESC, seq DESC
ON CONFLICT (device, sensor, metric) DO UPDATE
  SET ts = excluded.ts, value = excluded.value, unit = excluded.unit, quality = excluded.quality, flags = excluded.flags, seq = excluded.seq
  WHERE (l.ts, l.seq) < (excluded.ts, excluded.seq)`;

const HOURLY_SQL = `
INSERT INTO readings_hourly (device, sensor, metric, hour, batch, epoch, n, sum, min, max)
SELECT device, sensor, metric, date_bin('1 hour', ts, timestamptz 'epoch'), batch, epoch, count(*), sum(value), min(value), max(value)
FROM readings WHERE value IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6
ON CONFLICT DO NOTHING`;

/** With the index on: fill in what is missing, if anything is. Returns the readings added. */
export async function backfillReadings(c: pg.PoolClient): Promise<number> {
  await c.query('BEGIN');
  try {
    const { rows } = await c.query<{ needed: boolean }>('SELECT needed FROM readings_backfill FOR UPDATE');
    let added = 0;
    if (rows[0]?.needed) {
      added = (await c.query(FILL_SQL)).rowCount ?? 0;
      await c.query(LATEST_SQL);
      await c.query(HOURLY_SQL);
      await c.query('UPDATE readings_backfill SET needed = false');
    }
    await c.query('COMMIT');
    return added;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw new Error(`filling in the readings of stored batches: ${(err as Error).message}`);
  }
}

/** With the index off: the batches stored from now on will need filling in. */
export async function markBackfillNeeded(c: pg.PoolClient): Promise<void> {
  await c.query('UPDATE readings_backfill SET needed = true');
}

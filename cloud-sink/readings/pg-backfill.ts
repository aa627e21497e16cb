// Readings of batches the sink holds but the readings table does not: batches whose entry in
// readings_pending (migration 007) was left behind: stored before the table existed, while the
// sink ran with the index off, or accepted by a process that died before it wrote their readings
// (pg-indexer.ts). Filled in from the stored canonical lines, in SQL, a few hundred batches per
// transaction: their entries are locked (skipping those another process holds) and taken out in
// the transaction that writes their readings, so no batch's readings are written twice.
import type pg from 'pg';

const NAME = `'^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$'`;

/**
 * The readings the index can hold of the batches $1..$3 (devices, epochs, batch numbers): device,
 * epoch, batch and the record as jsonb (r).
 */
const PENDING = `(SELECT b.device, b.epoch, b.batch, r
FROM sink_batches b JOIN unnest($1::text[], $2::int[], $3::bigint[]) AS k(device, epoch, batch) USING (device, epoch, batch),
     LATERAL (SELECT line::jsonb AS r FROM regexp_split_to_table(b.records, E'\\n') AS line) AS lines
WHERE b.records IS NOT NULL AND b.records <> '' AND r->>'kind' = 'reading'
  AND r->>'sensor' ~ ${NAME} AND r->>'metric' ~ ${NAME} AND (r->>'ts')::bigint >= 0) AS p`;

/** Entries left behind (older than $1 ms), locked for this transaction; those another holds are skipped. */
const CLAIM_SQL = `
SELECT device, epoch, batch FROM readings_pending WHERE since < now() - $1::bigint * interval '1 millisecond'
ORDER BY since LIMIT $2 FOR UPDATE SKIP LOCKED`;

const SERIES_SQL = `
INSERT INTO readings_series (device, sensor, metric, unit)
SELECT DISTINCT p.device, r->>'sensor', r->>'metric', r->>'unit' FROM ${PENDING}
ON CONFLICT DO NOTHING`;

/**
 * The readings, then from the rows just written each series' latest reading and each batch's
 * hourly sums (by sensor and metric, whatever the unit, as the live path sums them).
 */
const FILL_SQL = `
WITH filled AS (
  INSERT INTO readings_data (series, epoch, ts, seq, batch, value, quality, flags)
  SELECT s.id, p.epoch, timestamptz 'epoch' + (r->>'ts')::bigint * interval '1 millisecond', (r->>'seq')::bigint, p.batch,
         (r->>'value')::double precision, nullif(coalesce((r->'quality'->>'score')::double precision, 0), 1),
         nullif(ARRAY(SELECT jsonb_array_elements_text(r->'quality'->'flags')), '{}')
  FROM ${PENDING}
  JOIN readings_series s ON (s.device, s.sensor, s.metric, s.unit) = (p.device, r->>'sensor', r->>'metric', r->>'unit')
  RETURNING *),
named AS (SELECT s.device, s.sensor, s.metric, s.unit, f.* FROM filled f JOIN readings_series s ON s.id = f.series),
latest AS (
  INSERT INTO readings_latest AS l (device, sensor, metric, ts, value, unit, quality, flags, seq)
  SELECT DISTINCT ON (device, sensor, metric) device, sensor, metric, ts, value, unit, coalesce(quality, 1), coalesce(flags, '{}'), seq
  FROM named ORDER BY device, sensor, metric, ts DESC, seq DESC
  ON CONFLICT (device, sensor, metric) DO UPDATE
    SET ts = excluded.ts, value = excluded.value, unit = excluded.unit, quality = excluded.quality, flags = excluded.flags, seq = excluded.seq
    WHERE (l.ts, l.seq) < (excluded.ts, excluded.seq)
  RETURNING 1),
hourly AS (
  INSERT INTO readings_hourly (device, sensor, metric, hour, batch, epoch, n, sum, min, max)
  SELECT device, sensor, metric, date_bin('1 hour', ts, timestamptz 'epoch'), batch, epoch, count(*), sum(value), min(value), max(value)
  FROM named WHERE value IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6
  ON CONFLICT DO NOTHING
  RETURNING 1)
SELECT (SELECT count(*) FROM filled)::bigint AS added, (SELECT count(*) FROM latest) AS latest, (SELECT count(*) FROM hourly) AS hourly`;

/** Batches per transaction: a few hundred thousand readings at most. */
const CLAIM = 200;

/**
 * Fill in the readings of the entries in readings_pending older than `olderThanMs` (0: all), a
 * transaction at a time until none is left. Returns the readings added.
 */
export async function fillPending(db: () => pg.Pool, olderThanMs: number): Promise<number> {
  let added = 0;
  for (;;) {
    const c = await db().connect();
    try {
      await c.query('BEGIN');
      const { rows } = await c.query<{ device: string; epoch: number; batch: string }>(CLAIM_SQL, [olderThanMs, CLAIM]);
      if (rows.length > 0) {
        const keys = [rows.map((r) => r.device), rows.map((r) => r.epoch), rows.map((r) => r.batch)];
        await c.query(SERIES_SQL, keys);
        added += Number((await c.query<{ added: string }>(FILL_SQL, keys)).rows[0]!.added);
        await c.query('DELETE FROM readings_pending WHERE (device, epoch, batch) IN (SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[]))', keys);
      }
      await c.query('COMMIT');
      if (rows.length < CLAIM) return added;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw new Error(`filling in the readings of stored batches: ${(err as Error).message}`);
    } finally {
      c.release();
    }
  }
}

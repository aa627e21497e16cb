// Migration 007 on a real PostgreSQL (FIELDPROOF_TEST_PG): a database at migration 005 with readings
// in the old wide table (in a month partition and in the default one, a unit change, flags and a
// score other than 1, two epochs) and batches stored while the index was off; after it the
// `readings` view shows the same rows, the month partitions are there under their names, the
// batches whose readings were missing are pending, and a store opened on it fills them in.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { headerHash } from '../../protocol/batch.ts';
import { generateKey } from '../../protocol/signature.ts';
import { makeChain } from '../../test/support/sink.ts';
import { migrate, migrations } from './migrate.ts';
import { PostgresSinkStore } from './postgres-store.ts';

const PG = process.env.FIELDPROOF_TEST_PG;
const T0 = Date.UTC(2026, 1, 10);

const OLD_ROWS = `
INSERT INTO readings (device, sensor, metric, ts, value, unit, quality, flags, seq, batch, epoch) VALUES
  ('dev-a', 'co2-1', 'co2_ppm', '2026-02-10T00:00:00Z', 410, 'ppm', 1, '{}', 1, 1, 1),
  ('dev-a', 'co2-1', 'co2_ppm', '2026-02-10T00:00:01Z', NULL, 'ppm', 0, '{read_failed}', 2, 1, 1),
  ('dev-a', 'co2-1', 'co2_ppm', '2026-02-10T00:00:02Z', 0.41, 'frac', 0.5, '{"say \\"hi\\"",ü}', 3, 1, 1),
  ('dev-a', 'co2-1', 'co2_ppm', '2026-02-10T00:00:03Z', 420, 'ppm', 1, '{}', 1, 1, 2),
  ('dev-b', 't-1', 'temp_c', '2040-06-15T12:00:00Z', 21.5, 'C', 1, '{}', 1, 1, 1)`;

describe('migration 007: readings by series', { skip: PG ? false : 'FIELDPROOF_TEST_PG is not set' }, () => {
  const schema = `fp_mig6_${process.pid}_${Date.now().toString(36)}`;
  const db = new pg.Pool({ connectionString: PG, max: 3, options: `-c search_path=${schema}` });

  before(async () => {
    await db.query(`CREATE SCHEMA ${schema}`);
    const c = await db.connect();
    try {
      // the schema as a sink at migration 005 left it, with a month partition its upkeep made
      await c.query('CREATE TABLE sink_schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
      for (const m of migrations().filter((m) => m.version <= 5)) {
        await c.query(m.sql);
        await c.query('INSERT INTO sink_schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      }
      await c.query(`CREATE TABLE readings_p2026_02 PARTITION OF readings FOR VALUES FROM ('2026-02-01T00:00:00Z') TO ('2026-03-01T00:00:00Z')`);
      await c.query(OLD_ROWS);
      // batch 1 of dev-a indexed; batches 2 and 3 of dev-c stored with the index off
      const chain = makeChain('dev-c', generateKey(), 3, 4, { start: T0 });
      for (const [i, b] of chain.entries()) {
        await c.query(
          `INSERT INTO sink_batches (device, epoch, batch, first_seq, last_seq, hash, header, records, pruned, min_ts, max_ts, received_at)
           VALUES ($1, 1, $2, $3, $4, $5, $6, $7, false, NULL, NULL, 0)`,
          ['dev-c', b.header.batch, b.header.first, b.header.last, headerHash(b.header), JSON.stringify(b.header), b.records.map((r) => JSON.stringify(r)).join('\n')]);
        if (i === 0) {
          await c.query(`INSERT INTO readings (device, sensor, metric, ts, value, unit, quality, flags, seq, batch)
                         SELECT 'dev-c', r->>'sensor', r->>'metric', timestamptz 'epoch' + (r->>'ts')::bigint * interval '1 ms', (r->>'value')::float8, r->>'unit', 1, '{}', (r->>'seq')::bigint, 1
                         FROM jsonb_array_elements($1::jsonb) AS r`, [JSON.stringify(b.records)]);
        }
      }
      await c.query('UPDATE readings_backfill SET needed = true');
      assert.deepEqual(await migrate(c), [6, 7]);
    } finally {
      c.release();
    }
  });
  after(async () => {
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.end();
  });

  it('moves every reading, and the view shows the columns and values the table had', async () => {
    const { rows } = await db.query(`SELECT device, sensor, metric, ts, value, unit, quality, flags, seq, batch, epoch FROM readings WHERE device IN ('dev-a', 'dev-b') ORDER BY device, epoch, seq`);
    const at = (iso: string) => new Date(iso);
    assert.deepEqual(rows.map((r) => ({ ...r, seq: Number(r.seq), batch: Number(r.batch) })), [
      { device: 'dev-a', sensor: 'co2-1', metric: 'co2_ppm', ts: at('2026-02-10T00:00:00Z'), value: 410, unit: 'ppm', quality: 1, flags: [], seq: 1, batch: 1, epoch: 1 },
      { device: 'dev-a', sensor: 'co2-1', metric: 'co2_ppm', ts: at('2026-02-10T00:00:01Z'), value: null, unit: 'ppm', quality: 0, flags: ['read_failed'], seq: 2, batch: 1, epoch: 1 },
      { device: 'dev-a', sensor: 'co2-1', metric: 'co2_ppm', ts: at('2026-02-10T00:00:02Z'), value: 0.41, unit: 'frac', quality: 0.5, flags: ['say "hi"', 'ü'], seq: 3, batch: 1, epoch: 1 },
      { device: 'dev-a', sensor: 'co2-1', metric: 'co2_ppm', ts: at('2026-02-10T00:00:03Z'), value: 420, unit: 'ppm', quality: 1, flags: [], seq: 1, batch: 1, epoch: 2 },
      { device: 'dev-b', sensor: 't-1', metric: 'temp_c', ts: at('2040-06-15T12:00:00Z'), value: 21.5, unit: 'C', quality: 1, flags: [], seq: 1, batch: 1, epoch: 1 },
    ]);
    const parts = await db.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'readings_data'::regclass ORDER BY 1`);
    assert.deepEqual(parts.rows.map((r) => r.name), ['readings_default', 'readings_p2026_02'], 'the partitions, under the names they had');
    assert.equal((await db.query(`SELECT count(*)::int AS n FROM readings_p2026_02`)).rows[0].n, 8, 'dev-a and batch 1 of dev-c in their month');
    assert.equal((await db.query(`SELECT count(*)::int AS n FROM readings_default`)).rows[0].n, 1);
    assert.equal((await db.query(`SELECT to_regclass('readings_v5') AS t`)).rows[0].t, null, 'the old table is gone');
  });

  it('marks the batches whose readings were missing, and a store opened on it fills them in', async () => {
    assert.deepEqual((await db.query(`SELECT device, batch FROM readings_pending ORDER BY batch`)).rows.map((r) => `${r.device}/${r.batch}`), ['dev-c/2', 'dev-c/3']);
    const store = new PostgresSinkStore({ url: PG!, schema, poolSize: 2, readings: { enabled: true, monthsAhead: 0 } });
    await store.open();
    try {
      const { rows } = await db.query(`SELECT seq FROM readings WHERE device = 'dev-c' ORDER BY seq`);
      assert.deepEqual(rows.map((r) => Number(r.seq)), Array.from({ length: 12 }, (_, i) => i + 1), 'every reading of dev-c, once');
      const q = { device: 'dev-a', sensor: 'co2-1', metric: 'co2_ppm', from: T0, to: T0 + 10_000, step: 10_000 };
      assert.deepEqual((await store.readings()!.series(q)).points, [{ t: T0, min: 0.41, avg: (410 + 0.41 + 420) / 3, max: 420, n: 3 }], 'a series across units and epochs');
    } finally {
      await store.close();
    }
  });
});

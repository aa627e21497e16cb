// Monthly partitions of the readings table on a real PostgreSQL: made ahead at start, a reading
// outside every partition kept (default partition) and answered, and moved into its month's
// partition when that is created.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { headerHash, type Batch } from '../../protocol/batch.ts';
import { ZERO_HASH } from '../../protocol/hash.ts';
import { readingRecord } from '../../protocol/records.ts';
import { generateKey } from '../../protocol/signature.ts';
import { signBatch } from '../../test/support/sink.ts';
import { PostgresSinkStore } from '../store/postgres-store.ts';
import type { BatchToStore } from '../store/types.ts';
import { monthPartition, ReadingPartitions } from './pg-partitions.ts';

const PG = process.env.FIELDPROOF_TEST_PG;
/** a device clock 14 years ahead */
const FAR = Date.UTC(2040, 5, 15, 12);

function toStore(b: Batch): BatchToStore {
  return { header: b.header, hash: headerHash(b.header), text: b.records.map((r) => JSON.stringify(r)).join('\n'), pruned: false, minTs: null, maxTs: null, receivedAt: Date.now() };
}

describe('readings partitions', { skip: PG ? false : 'FIELDPROOF_TEST_PG is not set' }, () => {
  const schema = `fp_rparts_${process.pid}_${Date.now().toString(36)}`;
  const store = new PostgresSinkStore({ url: PG!, schema, poolSize: 2, readings: { enabled: true, monthsAhead: 2 } });
  const pool = new pg.Pool({ connectionString: PG, max: 2, options: `-c search_path=${schema}` });
  const partitions = async () =>
    (await pool.query<{ name: string }>(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'readings_data'::regclass ORDER BY 1`)).rows.map((r) => r.name);

  before(() => store.open());
  after(async () => {
    await store.close();
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.end();
  });

  it('creates the current month and the months ahead at start, once however often asked', async () => {
    const now = Date.now();
    const want = [0, 1, 2].map((k) => monthPartition(Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth() + k, 1)).name);
    const held = await partitions();
    for (const name of want) assert.ok(held.includes(name), `${name} in ${held.join(', ')}`);
    assert.ok(held.includes('readings_default'));
    assert.deepEqual(await new ReadingPartitions({ db: () => pool, monthsAhead: 2 }).ensure(), [], 'nothing more to make');
  });

  it('keeps a reading outside every partition, answers it, and moves it into its month when that is made', async () => {
    const key = generateKey();
    const now = Date.now();
    const records = [
      readingRecord('dev-far', 1, { sensor: 't-1', metric: 'temp_c', unit: 'C', ts: now, value: 20 }, { score: 1, flags: [] }),
      readingRecord('dev-far', 2, { sensor: 't-1', metric: 'temp_c', unit: 'C', ts: FAR, value: 30 }, { score: 1, flags: [] }),
    ];
    assert.deepEqual(await store.commitBatch(toStore(signBatch('dev-far', key, 1, records, ZERO_HASH))), { status: 'stored' });
    // asked first: a query waits for the readings of the batches the store accepted before it
    const q = { device: 'dev-far', sensor: 't-1', metric: 'temp_c', from: FAR - 3600_000, to: FAR + 3600_000, step: 3600_000 };
    assert.deepEqual((await store.readings()!.series(q)).points, [{ t: FAR, min: 30, avg: 30, max: 30, n: 1 }]);
    const inDefault = await pool.query(`SELECT seq FROM readings_default d JOIN readings_series s ON s.id = d.series WHERE s.device = 'dev-far'`);
    assert.deepEqual(inDefault.rows.map((r) => Number(r.seq)), [2]);

    const created = await new ReadingPartitions({ db: () => pool, monthsAhead: 0, now: () => FAR }).ensure();
    assert.deepEqual(created, ['readings_p2040_06']);
    assert.equal((await pool.query(`SELECT count(*)::int AS n FROM readings_default`)).rows[0].n, 0, 'moved out of the default partition');
    assert.equal((await pool.query(`SELECT count(*)::int AS n FROM readings_p2040_06`)).rows[0].n, 1);
    assert.deepEqual((await store.readings()!.series(q)).points, [{ t: FAR, min: 30, avg: 30, max: 30, n: 1 }], 'answered the same');
  });
});

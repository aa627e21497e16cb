// The PostgreSQL readings write (binary COPY into readings_data, after acceptance) on a real
// server (FIELDPROOF_TEST_PG): values COPY must carry exactly (a failed read, quality flags with
// quotes, backslashes, braces and non-ASCII, a score other than 1, a time beyond the partitions
// and one past the year 2255, where a microsecond count no longer fits a double), read back through
// the `readings` view; batches of several devices committed together; and the readings of batches
// accepted by a process that died before writing them, filled in at the next start.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { headerHash, type Batch } from '../../protocol/batch.ts';
import { ZERO_HASH } from '../../protocol/hash.ts';
import { readingRecord, type JournalRecord } from '../../protocol/records.ts';
import { generateKey } from '../../protocol/signature.ts';
import { makeChain, signBatch } from '../../test/support/sink.ts';
import { PostgresSinkStore } from '../store/postgres-store.ts';
import type { BatchToStore } from '../store/types.ts';
import { readingsOnArrival } from './arrival.ts';

const PG = process.env.FIELDPROOF_TEST_PG;
const T0 = Date.UTC(2026, 10, 20, 12);
/** a device clock 14 years ahead: beyond every partition, into readings_default */
const FAR = Date.UTC(2040, 5, 15, 12);
/** past 2255: microseconds since 2000 beyond 2^53 */
const BEYOND = Date.UTC(2300, 0, 1, 0, 0, 0, 7);
const ODD_FLAGS = ['say "hi"', 'back\\slash', 'brace{},comma', 'ünïcode ✓ 𝄞', 'NULL', ''];

function toStore(b: Batch, withReadings: boolean): BatchToStore {
  const text = b.records.map((r) => JSON.stringify(r)).join('\n');
  const out: BatchToStore = { header: b.header, hash: headerHash(b.header), text, pruned: false, minTs: null, maxTs: null, receivedAt: Date.now() };
  return withReadings ? { ...out, readings: readingsOnArrival({ header: b.header, pruned: false, records: b.records }) } : out;
}

describe('PostgreSQL readings written by COPY', { skip: PG ? false : 'FIELDPROOF_TEST_PG is not set' }, () => {
  const schema = `fp_rcopy_${process.pid}_${Date.now().toString(36)}`;
  const open = async (poolSize = 2) => {
    const store = new PostgresSinkStore({ url: PG!, schema, poolSize, readings: { enabled: true, monthsAhead: 1 } });
    await store.open();
    return store;
  };
  let store: PostgresSinkStore;
  const db = new pg.Pool({ connectionString: PG, max: 2, options: `-c search_path=${schema}` });
  const viewRows = async (device: string) =>
    (await db.query(`SELECT sensor, metric, (extract(epoch FROM ts) * 1000)::bigint AS ts, value, unit, quality, flags, seq, batch, epoch
                     FROM readings WHERE device = $1 ORDER BY seq`, [device])).rows
      .map((r) => ({ ...r, ts: Number(r.ts), seq: Number(r.seq), batch: Number(r.batch) }));

  before(async () => {
    store = await open();
  });
  after(async () => {
    await store.close();
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.end();
  });

  it('carries odd values exactly, decoded on arrival or read from the lines', async () => {
    for (const withReadings of [true, false]) {
      const device = `odd-${withReadings ? 'arrival' : 'lines'}`;
      const records: JournalRecord[] = [
        readingRecord(device, 1, { sensor: 'co2-1', metric: 'co2_ppm', unit: 'ppm', ts: T0, value: null }, { score: 0, flags: ['read_failed'] }),
        readingRecord(device, 2, { sensor: 'co2-1', metric: 'co2_ppm', unit: 'ppm', ts: T0 + 1, value: -0.000123 }, { score: 0.25, flags: ODD_FLAGS }),
        readingRecord(device, 3, { sensor: 'co2-1', metric: 'co2_ppm', unit: 'µmol/mol', ts: T0 + 2, value: 1e300 }, { score: 1, flags: [] }),
        readingRecord(device, 4, { sensor: 't-1', metric: 'temp_c', unit: 'C', ts: FAR, value: 21.5 }, { score: 1, flags: [] }),
        readingRecord(device, 5, { sensor: 't-1', metric: 'temp_c', unit: 'C', ts: BEYOND, value: 22 }, { score: 1, flags: [] }),
      ];
      assert.deepEqual(await store.commitBatch(toStore(signBatch(device, generateKey(), 1, records, ZERO_HASH), withReadings)), { status: 'stored' });
      await store.readings()!.latest(device, 10); // waits for the write
      const base = { batch: 1, epoch: 1 };
      assert.deepEqual(await viewRows(device), [
        { sensor: 'co2-1', metric: 'co2_ppm', ts: T0, value: null, unit: 'ppm', quality: 0, flags: ['read_failed'], seq: 1, ...base },
        { sensor: 'co2-1', metric: 'co2_ppm', ts: T0 + 1, value: -0.000123, unit: 'ppm', quality: 0.25, flags: ODD_FLAGS, seq: 2, ...base },
        { sensor: 'co2-1', metric: 'co2_ppm', ts: T0 + 2, value: 1e300, unit: 'µmol/mol', quality: 1, flags: [], seq: 3, ...base },
        { sensor: 't-1', metric: 'temp_c', ts: FAR, value: 21.5, unit: 'C', quality: 1, flags: [], seq: 4, ...base },
        { sensor: 't-1', metric: 'temp_c', ts: BEYOND, value: 22, unit: 'C', quality: 1, flags: [], seq: 5, ...base },
      ], withReadings ? 'from the readings decoded on arrival' : 'from the stored lines');
      const inDefault = await db.query(`SELECT seq FROM readings_default d JOIN readings_series s ON s.id = d.series WHERE s.device = $1 ORDER BY seq`, [device]);
      assert.deepEqual(inDefault.rows.map((r) => Number(r.seq)), [4, 5], 'readings beyond the partitions in the default one');
      // the unit changed within a series: both units' readings answer, in the latest unit
      const q = { device, sensor: 'co2-1', metric: 'co2_ppm', from: T0, to: T0 + 1000, step: 1000 };
      assert.deepEqual(await store.readings()!.series(q), { unit: 'µmol/mol', points: [{ t: T0, min: -0.000123, avg: (1e300 - 0.000123) / 2, max: 1e300, n: 2 }] });
    }
  });

  it('writes the readings of several devices committed together, each once', async () => {
    const key = generateKey();
    const chains = Array.from({ length: 8 }, (_, d) => makeChain(`many-${d}`, key, 3, 20, { start: T0 }));
    const outcomes = await Promise.all(chains.flatMap((c) => c.map((b) => store.commitBatch(toStore(b, true)))));
    assert.ok(outcomes.every((o) => o.status === 'stored' || o.status === 'out_of_order'));
    // what came out of order (a later batch grouped before its predecessor) is offered again, as a device would
    for (const c of chains) for (const b of c) await store.commitBatch(toStore(b, true));
    await store.readings()!.latest('many-0', 10);
    const { rows } = await db.query<{ device: string; n: number; distinct_seqs: number }>(
      `SELECT device, count(*)::int AS n, count(DISTINCT seq)::int AS distinct_seqs FROM readings WHERE device LIKE 'many-%' GROUP BY device ORDER BY device`);
    assert.deepEqual(rows, chains.map((_, d) => ({ device: `many-${d}`, n: 60, distinct_seqs: 60 })));
    assert.equal((await db.query(`SELECT count(*)::int AS n FROM readings_pending`)).rows[0].n, 0, 'no batch left pending');
  });

  it('writes the readings of batches accepted while its queue was full soon after, from their stored lines, not at the next sweep', async () => {
    // a queue of 50 readings: most of a burst of 12 batches of 20 is turned away
    const small = new PostgresSinkStore({ url: PG!, schema, poolSize: 2, readings: { enabled: true, monthsAhead: 1, maxQueuedReadings: 50 } });
    await small.open();
    try {
      const chain = makeChain('burst', generateKey(), 12, 20, { start: T0 });
      const started = Date.now();
      await Promise.all(chain.map((b) => small.commitBatch(toStore(b, true))));
      for (const b of chain) await small.commitBatch(toStore(b, true)); // those that came out of order
      await small.readings()!.latest('burst', 10); // waits for every batch this process accepted
      const rows = await viewRows('burst');
      assert.deepEqual(rows.map((r) => r.seq), Array.from({ length: 240 }, (_, i) => i + 1), 'every reading, once');
      assert.equal((await db.query(`SELECT count(*)::int AS n FROM readings_pending WHERE device = 'burst'`)).rows[0].n, 0);
      assert.ok(Date.now() - started < 25_000, 'written well before an entry looks left behind (30 s) to the sweep');
    } finally {
      await small.close();
    }
  });

  it('a readings query waits for the batches its process accepted, but not longer than its bound', async () => {
    const bounded = new PostgresSinkStore({ url: PG!, schema, poolSize: 2, readings: { enabled: true, monthsAhead: 1, settleWaitMs: 300 } });
    await bounded.open();
    const blocker = await db.connect();
    try {
      // the readings' table held by another transaction: the write waits behind it
      await blocker.query('BEGIN; LOCK TABLE readings_data IN ACCESS EXCLUSIVE MODE');
      const [b] = makeChain('held-up', generateKey(), 1, 10, { start: T0 });
      assert.deepEqual(await bounded.commitBatch(toStore(b!, true)), { status: 'stored' });
      const t0 = Date.now();
      assert.deepEqual(await bounded.readings()!.latest('held-up', 10), [], 'answered with what is written: nothing yet');
      const waited = Date.now() - t0;
      assert.ok(waited >= 250 && waited < 3000, `waited ${waited} ms`);
      await blocker.query('ROLLBACK');
      const after = await bounded.readings()!.latest('held-up', 10);
      assert.ok(after.length > 0, 'once the table is free, written and answered');
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      blocker.release();
      await bounded.close();
    }
  });

  it('fills in, at the next start, the readings of batches accepted but not yet written when the process stopped', async () => {
    const chain = makeChain('left-behind', generateKey(), 2, 10, { start: T0 });
    for (const b of chain) assert.deepEqual(await store.commitBatch(toStore(b, true)), { status: 'stored' });
    await store.readings()!.latest('left-behind', 10);
    // as if the process had died between the acceptance and the write: the readings gone, the entries back
    await db.query(`DELETE FROM readings_data WHERE series IN (SELECT id FROM readings_series WHERE device = 'left-behind')`);
    await db.query(`INSERT INTO readings_pending (device, epoch, batch) VALUES ('left-behind', 1, 1), ('left-behind', 1, 2)`);
    await store.close();
    store = await open();
    const rows = await viewRows('left-behind');
    assert.deepEqual(rows.map((r) => r.seq), Array.from({ length: 20 }, (_, i) => i + 1), 'every reading, once');
    assert.equal((await db.query(`SELECT count(*)::int AS n FROM readings_pending`)).rows[0].n, 0);
  });
});

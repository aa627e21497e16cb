import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { headerHash, signBatch, type Batch } from '../../../protocol/batch.ts';
import { canonicalize } from '../../../protocol/canonical.ts';
import { ZERO_HASH } from '../../../protocol/hash.ts';
import { planRecord, type PlanInput } from '../../../protocol/plan.ts';
import { gapRecord, readingRecord, type JournalRecord } from '../../../protocol/records.ts';
import { generateKey } from '../../../protocol/signature.ts';
import { prng } from '../../../kernel/prng.ts';
import pg from 'pg';
import { LevelSinkStore } from '../../store/level-store.ts';
import { PostgresSinkStore } from '../../store/postgres-store.ts';
import type { SinkStore } from '../../store/types.ts';
import { tempDir } from '../../../test/support/sink.ts';
import { share } from '../engine/apportion.ts';
import { SeriesWindow } from '../engine/series-window.ts';
import { decodeChunk, emptyPoints, encodeChunk, F, pushPoint } from './chunk-codec.ts';
import { RegisterIndex } from './register-index.ts';

const key = generateKey();
const T0 = 1_767_225_600_000;
const REG = { type: 'int32', bits: 32, signed: true, scale: 0.001, unit: 'kWh' as const };
const PLAN: PlanInput = {
  kind: 'plan', sensor: 'm1', ts: T0, serial: 'S', accuracyClass: '0.2S', calibratedAt: '2025-01-01', calibrationDue: '2030-01-01', intervalMs: 1000,
  export: { metric: 'e', ...REG }, import: { metric: 'i', ...REG },
};

/** A chain of batches: a plan, then per second export and import readings; a gap record and a pruned batch on the way. */
function chain(polls: number, perBatch: number): { batches: Batch[]; pruned: Set<number> } {
  const records: JournalRecord[] = [planRecord('d', 1, PLAN)];
  let seq = 2;
  for (let k = 1; k <= polls; k++) {
    const ts = T0 + k * 1000;
    if (k === 40) records.push(gapRecord('d', seq++, 7, ts - 500, ts - 100, 'overload'));
    const flags = k === 30 ? ['spike'] : [];
    records.push(readingRecord('d', seq++, { sensor: 'm1', metric: 'e', ts, value: 1000 + k * 0.01, unit: 'kWh', meta: { register: { bits: 32, scale: 0.001, signed: true, type: 'int32' } } }, { score: 1, flags }));
    records.push(readingRecord('d', seq++, { sensor: 'm1', metric: 'i', ts, value: k === 20 ? null : 10 + k * 0.001, unit: 'kWh' }, { score: 1, flags: k === 20 ? ['timeout'] : [] }));
    records.push(readingRecord('d', seq++, { sensor: 'other', metric: 'energy_kwh', ts, value: k, unit: 'kWh' }, { score: 1, flags: [] }));
  }
  const batches: Batch[] = [];
  let prev = ZERO_HASH;
  for (let i = 0, b = 1; i < records.length; i += perBatch, b++) {
    const batch = signBatch('d', key, b, records.slice(i, i + perBatch), prev, T0 + b);
    prev = headerHash(batch.header);
    batches.push(batch);
  }
  return { batches, pruned: new Set([Math.ceil(batches.length / 2)]) };
}

async function storeWith(dir: string, c: ReturnType<typeof chain>, upTo = Infinity, open?: SinkStore): Promise<SinkStore> {
  const store = open ?? new LevelSinkStore(dir);
  if (!open) await store.open();
  for (const b of c.batches.slice(0, upTo)) {
    const pruned = c.pruned.has(b.header.batch);
    const ts = b.records.filter((r) => r.kind === 'reading').map((r) => (r as { ts: number }).ts);
    const outcome = await store.commitBatch({
      header: b.header, hash: headerHash(b.header), text: pruned ? '' : b.records.map((r) => canonicalize(r)).join('\n'), pruned,
      minTs: pruned || ts.length === 0 ? null : Math.min(...ts), maxTs: pruned || ts.length === 0 ? null : Math.max(...ts), receivedAt: T0,
    });
    assert.equal(outcome.status, 'stored');
  }
  return store;
}

async function seriesOf(store: SinkStore, metric: string) {
  const w = await SeriesWindow.open(store.mrvStore(), 'd', 'm1', metric);
  await w.cover(0, Number.MAX_SAFE_INTEGER);
  const p = w.points();
  return { ts: [...p.ts.subarray(0, p.n)], value: [...p.value.subarray(0, p.n)], flags: [...p.flags.subarray(0, p.n)], names: [...p.flagNames] };
}

describe('MRV register index', () => {
  it('a chunk keeps timestamps, decimals, floats, seqs, flags and flag names exactly', () => {
    const rng = prng(5);
    for (const floats of [false, true]) {
      const p = emptyPoints();
      let ts = T0;
      for (let i = 0; i < 5000; i++) {
        ts += 900 + Math.floor(rng() * 200);
        const value = floats && i === 77 ? Math.PI : Math.round((1e6 + i * 12.345 + rng() * 10) * 1000) / 1000;
        const flags = i % 97 === 0 ? F.BAD : i % 13 === 0 ? F.NULL : 0;
        pushPoint(p, ts, value, i * 4 + 2, flags, flags === F.BAD ? ['spike', `n${i}`] : undefined, i < 4000 ? 1 : 2);
      }
      const back = decodeChunk(encodeChunk(p));
      assert.equal(back.n, p.n);
      assert.deepEqual([...back.ts.subarray(0, back.n)], [...p.ts.subarray(0, p.n)]);
      assert.deepEqual([...back.value.subarray(0, back.n)], [...p.value.subarray(0, p.n)]);
      assert.deepEqual([...back.seq.subarray(0, back.n)], [...p.seq.subarray(0, p.n)]);
      assert.deepEqual([...back.flags.subarray(0, back.n)], [...p.flags.subarray(0, p.n)]);
      assert.deepEqual([...back.flagNames], [...p.flagNames]);
      assert.deepEqual([...back.epoch.subarray(0, back.n)], [...p.epoch.subarray(0, p.n)]);
      if (!floats) assert.ok(encodeChunk(p).length < p.n * 6, `compact: ${encodeChunk(p).length} bytes for ${p.n} points`);
    }
  });

  it('a chunk written before epochs (no epoch column) reads as epoch 1', () => {
    const p = emptyPoints();
    for (let i = 0; i < 300; i++) pushPoint(p, T0 + i * 1000, i, i + 1, 0, undefined, 2);
    // the epoch column is the chunk's last: one run of (300, 2) is the varints 1, 300, 2
    const raw = inflateRawSync(encodeChunk(p));
    assert.deepEqual([...raw.subarray(raw.length - 4)], [1, 0xac, 0x02, 2]);
    const legacy = decodeChunk(deflateRawSync(raw.subarray(0, raw.length - 4)));
    assert.deepEqual([...legacy.seq.subarray(0, legacy.n)], [...p.seq.subarray(0, p.n)]);
    assert.ok(legacy.epoch.subarray(0, legacy.n).every((e) => e === 1));
  });

  it('shares of an amount over consecutive periods add up exactly and never exceed the exact proportion', () => {
    const rng = prng(9);
    for (let k = 0; k < 20_000; k++) {
      const t0 = Math.floor(rng() * 1e12);
      const t1 = t0 + 1 + Math.floor(rng() * 1e9);
      const amount = Math.floor((rng() - 0.3) * 1e13);
      const [a, b, c] = [0, 0, 0].map(() => t0 - 1e8 + Math.floor(rng() * (t1 - t0 + 2e8))).sort((x, y) => x - y) as [number, number, number];
      assert.equal(share(amount, t0, t1, a, b) + share(amount, t0, t1, b, c), share(amount, t0, t1, a, c));
      const exact = (amount * Math.max(0, Math.min(t1, c) - Math.max(t0, a))) / (t1 - t0);
      assert.ok(share(amount, t0, t1, a, c) <= exact + 1e-3 * Math.abs(exact) + 1, `${amount} over ${t0}..${t1}, [${a}, ${c})`);
    }
  });

  it('indexes the plan\'s registers with their flags, places gap records and the pruned batch in time, tallies unplanned energy', async () => {
    const tmp = tempDir();
    const c = chain(120, 50);
    const store = await storeWith(tmp.dir, c);
    try {
      const index = new RegisterIndex({ store, mrv: store.mrvStore(), commitEvery: 2 });
      const out = await index.catchUp('d');
      assert.equal(out.indexedThrough, c.batches.length);
      const mrv = store.mrvStore();
      assert.equal((await mrv.plans('d'))[0]!.record.serial, 'S');
      assert.deepEqual(await mrv.gaps('d'), [{ seq: 119, from: T0 + 39_500, to: T0 + 39_900, dropped: 7, reason: 'overload' }]);
      const [pruned] = await mrv.pruned('d');
      const b = c.batches[pruned!.batch - 1]!.records;
      assert.ok(pruned!.afterTs! <= (b[0] as { ts: number }).ts && pruned!.untilTs! >= (b.at(-1) as { ts: number }).ts, 'the pruned batch lies between the readings on either side');
      const e = await seriesOf(store, 'e');
      const missing = b.filter((r) => r.kind === 'reading' && r.metric === 'e').length;
      assert.equal(e.ts.length, 120 - missing);
      assert.equal(e.flags[e.ts.indexOf(T0 + 30_000)], F.BAD);
      assert.deepEqual(e.names.map(([, names]) => names), [['spike']]);
      const i = await seriesOf(store, 'i');
      assert.equal(i.flags[i.ts.indexOf(T0 + 20_000)], F.NULL);
      const unplanned = await mrv.unplanned('d', T0, T0 + 200_000);
      const lostOther = b.filter((r) => r.kind === 'reading' && r.sensor === 'other').length;
      assert.deepEqual(unplanned.map((u) => [u.sensor, u.count]), [['other', 120 - lostOther]]);
    } finally {
      await store.close();
      tmp.cleanup();
    }
  });

  it('indexing batch by batch as they arrive gives exactly the index made in one go, across chunk boundaries', async () => {
    const c = chain(8500, 397);
    const once = tempDir();
    const steps = tempDir();
    const a = await storeWith(once.dir, c);
    const b = await storeWith(steps.dir, c, 0);
    try {
      await new RegisterIndex({ store: a, mrv: a.mrvStore() }).catchUp('d');
      for (let n = 0; n < c.batches.length; n++) {
        const next = c.batches[n]!;
        const pruned = c.pruned.has(next.header.batch);
        const ts = next.records.filter((r) => r.kind === 'reading').map((r) => (r as { ts: number }).ts);
        await b.commitBatch({ header: next.header, hash: headerHash(next.header), text: pruned ? '' : next.records.map((r) => canonicalize(r)).join('\n'), pruned, minTs: pruned ? null : Math.min(...ts), maxTs: pruned ? null : Math.max(...ts), receivedAt: T0 });
        // a fresh index object each time: what a restarted sink carries on from is in the store
        await new RegisterIndex({ store: b, mrv: b.mrvStore(), commitEvery: 1 }).catchUp('d');
      }
      for (const metric of ['e', 'i']) assert.deepEqual(await seriesOf(b, metric), await seriesOf(a, metric), metric);
      assert.deepEqual(await b.mrvStore().pruned('d'), await a.mrvStore().pruned('d'));
      assert.deepEqual(await b.mrvStore().unplanned('d', 0, Number.MAX_SAFE_INTEGER), await a.mrvStore().unplanned('d', 0, Number.MAX_SAFE_INTEGER));
    } finally {
      await a.close();
      await b.close();
      once.cleanup();
      steps.cleanup();
    }
  });

  const PG = process.env.FIELDPROOF_TEST_PG;
  it('two sink processes catching up one device on PostgreSQL index each batch once', { skip: PG ? false : 'FIELDPROOF_TEST_PG is not set' }, async () => {
    const schema = `fp_mrv_idx_${process.pid}_${Date.now().toString(36)}`;
    const [a, b] = [new PostgresSinkStore({ url: PG!, schema, poolSize: 3 }), new PostgresSinkStore({ url: PG!, schema, poolSize: 3 })];
    await a.open();
    await b.open();
    const ref = tempDir();
    try {
      const c = chain(3000, 97);
      await storeWith('', c, Infinity, a);
      const one = await storeWith(ref.dir, c);
      await new RegisterIndex({ store: one, mrv: one.mrvStore() }).catchUp('d');
      const [x, y] = await Promise.all([
        new RegisterIndex({ store: a, mrv: a.mrvStore(), commitEvery: 3 }).catchUp('d'),
        new RegisterIndex({ store: b, mrv: b.mrvStore(), commitEvery: 5 }).catchUp('d'),
      ]);
      assert.equal(Math.max(x.indexedThrough, y.indexedThrough), c.batches.length);
      for (const metric of ['e', 'i']) assert.deepEqual(await seriesOf(b, metric), await seriesOf(one, metric), metric);
      assert.deepEqual(await a.mrvStore().plans('d'), await one.mrvStore().plans('d'));
      assert.deepEqual(await a.mrvStore().gaps('d'), await one.mrvStore().gaps('d'));
      assert.deepEqual(await a.mrvStore().unplanned('d', 0, Number.MAX_SAFE_INTEGER), await one.mrvStore().unplanned('d', 0, Number.MAX_SAFE_INTEGER));
      await one.close();
    } finally {
      await a.close();
      await b.close();
      ref.cleanup();
      const cl = new pg.Client({ connectionString: PG });
      await cl.connect();
      await cl.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await cl.end();
    }
  });
});

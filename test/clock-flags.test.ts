// The sink and the device clock: batches whose headers say the clock was not synchronised, that
// were created in the future by the sink's clock, or earlier than the batch before them, are
// accepted, stored with their flags, counted, shown in the device listing, and the MRV report
// counts the readings of unsynced batches. Real HTTP, LevelDB and PostgreSQL (FIELDPROOF_TEST_PG).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { headerHash, signBatch, signHeader, type ClockState } from '../protocol/batch.ts';
import { ZERO_HASH } from '../protocol/hash.ts';
import { readingRecord } from '../protocol/records.ts';
import { generateKey } from '../protocol/signature.ts';
import { sinkConfig } from '../cloud-sink/config.ts';
import { Sink } from '../cloud-sink/sink.ts';
import { getJson, postJson, tempDir } from './support/sink.ts';

const TOKEN = 'clock-flags-admin-token';
const T0 = 1763884800000;
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

type StoreConfig = { kind: 'level' } | { kind: 'postgres'; url: string; schema: string; poolSize: number };
const PG = process.env.FIELDPROOF_TEST_PG;
const stores: [string, StoreConfig | null][] = [
  ['LevelDB', { kind: 'level' }],
  ['PostgreSQL', PG ? { kind: 'postgres', url: PG, schema: `fp_clock_${process.pid}_${Date.now().toString(36)}`, poolSize: 4 } : null],
];

/** Five batches of 4 readings: fine, backwards, unsynced, future, stated as unknown. */
function batches(key: ReturnType<typeof generateKey>, now: number, device = 'dev-c') {
  const plan: { created: number; clock?: ClockState }[] = [
    { created: T0 + 10_000, clock: { synced: true, source: 'chrony', offsetMs: 0.4 } },
    { created: T0 + 5_000, clock: { synced: true, source: 'chrony', offsetMs: 0.3 } },
    { created: T0 + 20_000, clock: { synced: false, source: 'timesyncd' } },
    { created: now + 3_600_000, clock: { synced: true, source: 'chrony', offsetMs: 0.2 } },
    { created: T0 + 40_000, clock: { synced: false, source: 'unknown' } },
  ];
  let prev = ZERO_HASH;
  return plan.map((p, i) => {
    const records = Array.from({ length: 4 }, (_, k) => readingRecord(device, i * 4 + k + 1, { sensor: 's', metric: 'm', unit: 'u', ts: T0 + i * 10_000 + k * 1000, value: k }, { score: 1, flags: [] }));
    const b = signBatch(device, key, i + 1, records, prev, p.created);
    if (p.clock) {
      // signBatch states no clock: sign the header again with it.
      const { sig: _sig, v: _v, key: _key, ...fields } = b.header;
      b.header = signHeader({ ...fields, clock: p.clock }, key);
    }
    prev = headerHash(b.header);
    return b;
  });
}

for (const [name, store] of stores) {
  describe(`clock flags on the ${name} store`, { skip: store ? false : 'FIELDPROOF_TEST_PG is not set: no PostgreSQL to test against' }, () => {
    if (store?.kind === 'postgres') {
      after(async () => {
        const c = new pg.Client({ connectionString: store.url });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS ${store.schema} CASCADE`);
        await c.end();
      });
    }

    it('accepts, flags, counts and lists batches from the future, going backwards, or sealed unsynced; the report counts their readings', async () => {
      const tmp = tempDir('fieldproof-clock-sink-');
      cleanups.push(tmp.cleanup);
      const key = generateKey();
      const sink = new Sink(sinkConfig({ listen: '127.0.0.1:0', dataDir: tmp.dir, devices: [{ id: 'dev-c', key: key.public }], adminToken: TOKEN, store: store!, time: { futureToleranceMs: 60_000 } }));
      await sink.start();
      cleanups.push(() => sink.stop());
      for (const b of batches(key, Date.now())) {
        const r = await postJson(sink.url, b);
        assert.equal(r.body.status, 'stored', JSON.stringify(r.body));
      }
      const flags = [];
      for (let b = 1; b <= 5; b++) flags.push((await sink.store.batch('dev-c', b))!.timeFlags ?? []);
      assert.deepEqual(flags, [[], ['backwards'], ['unsynced'], ['future'], ['backwards', 'unsynced']]);

      const m = await sink.metrics.getSingleMetric('fieldproof_sink_time_flags_total')!.get();
      const count = (flag: string) => m.values.find((v) => v.labels.flag === flag)?.value;
      assert.deepEqual([count('future'), count('backwards'), count('unsynced')], [1, 2, 2]);

      const list = await getJson(`${sink.url}/v1/devices`, { authorization: `Bearer ${TOKEN}` });
      const dev = (list.body.devices as { id: string; time: unknown }[]).find((d) => d.id === 'dev-c')!;
      assert.deepEqual(dev.time, { future: 1, backwards: 2, unsynced: 2 });

      const report = await getJson(`${sink.url}/v1/reports/dev-c?from=${T0}&to=${T0 + 60_000}`);
      assert.equal(report.status, 200, JSON.stringify(report.body));
      assert.deepEqual(report.body.time, { unsyncedReadings: 8, unsyncedBatches: 2, unstatedBatches: 0, futureBatches: 1, backwardsBatches: 2 });
      assert.ok((report.body.warnings as string[]).some((w) => /8 reading\(s\) of the period were taken while the device clock was not synchronised/.test(w)));
      const part = await getJson(`${sink.url}/v1/reports/dev-c?from=${T0 + 21_000}&to=${T0 + 60_000}`);
      assert.equal((part.body.time as { unsyncedReadings: number }).unsyncedReadings, 7, 'only the readings inside the period: 3 of batch 3, 4 of batch 5');
      const csv = await getJson(`${sink.url}/v1/reports/dev-c?from=${T0}&to=${T0 + 60_000}&format=csv`);
      assert.match(String(csv.body.text), /^time,unsynced_readings,,,,8,readings,/m);
      const html = await getJson(`${sink.url}/v1/reports/dev-c?from=${T0}&to=${T0 + 60_000}&format=html`);
      assert.match(String(html.body.text), /Device clock: 8 reading\(s\) in 2 batch\(es\) sealed while the device clock was not synchronised/);
    });

    it('flags a batch going backwards from one that another sink process stored before it', async () => {
      const tmp = tempDir('fieldproof-clock-sink-');
      cleanups.push(tmp.cleanup);
      const key = generateKey();
      const [first, second] = batches(key, Date.now(), 'dev-d');
      const config = sinkConfig({ listen: '127.0.0.1:0', dataDir: tmp.dir, devices: [{ id: 'dev-d', key: key.public }], adminToken: TOKEN, store: store! });
      // batch 1 through one process, batch 2 through the next: the second knows batch 1 only from the store
      const earlier = new Sink(config);
      await earlier.start();
      assert.equal((await postJson(earlier.url, first!)).body.status, 'stored');
      await earlier.stop();
      const later = new Sink(config);
      await later.start();
      cleanups.push(() => later.stop());
      assert.equal((await postJson(later.url, second!)).body.status, 'stored');
      assert.deepEqual((await later.store.batch('dev-d', 2))!.timeFlags, ['backwards']);
    });
  });
}

describe('a sink config for the clock', () => {
  it('refuses a negative tolerance and unknown keys under time', () => {
    assert.throws(() => sinkConfig({ dataDir: '/tmp/x', time: { futureToleranceMs: -1 } }), /time\.futureToleranceMs/);
    assert.throws(() => sinkConfig({ dataDir: '/tmp/x', time: { tolerance: 1 } as never }), /time/);
  });
});

// PostgreSQL store against a real server: FIELDPROOF_TEST_PG names the database (CI creates it).
// Each test run works in a schema of its own, dropped at the end.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { headerHash } from '../../protocol/batch.ts';
import { generateKey } from '../../protocol/signature.ts';
import { verifyRecordProof } from '../../protocol/proof.ts';
import { sinkConfig } from '../config.ts';
import { Sink } from '../sink.ts';
import { getJson, makeChain, postColumnar, postJson, signBatch, tempDir } from '../../test/support/sink.ts';
import { migrations } from './migrate.ts';
import { PostgresSinkStore } from './postgres-store.ts';

const PG = process.env.FIELDPROOF_TEST_PG;
const skip = PG ? false : 'FIELDPROOF_TEST_PG is not set: no PostgreSQL to test against (.ci/run sets it)';

describe('PostgreSQL store', { skip }, () => {
  const schema = `fp_test_${process.pid}_${Date.now().toString(36)}`;
  const key = generateKey();
  const tmp = tempDir();
  const sinks: Sink[] = [];

  const newSink = async () => {
    const s = new Sink(sinkConfig({
      listen: '127.0.0.1:0', dataDir: tmp.dir, devices: [{ id: 'fleet-1', key: key.public }],
      store: { kind: 'postgres', url: PG!, schema, poolSize: 4 },
      // the races below send more requests at once from one address than a device would
      limits: { maxRequestsPerClient: 64 },
    }));
    await s.start();
    sinks.push(s);
    return s;
  };

  before(async () => {
    await newSink();
    await newSink();
  });
  after(async () => {
    for (const s of sinks) await s.stop();
    const c = new pg.Client({ connectionString: PG });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
    tmp.cleanup();
  });

  it('applies each migration once, however many sinks start', async () => {
    const c = new pg.Client({ connectionString: PG });
    await c.connect();
    const { rows } = await c.query(`SELECT version FROM ${schema}.sink_schema_migrations ORDER BY version`);
    await c.end();
    assert.deepEqual(rows.map((r) => r.version), migrations().map((m) => m.version));
    const again = new PostgresSinkStore({ url: PG!, schema });
    await again.open();
    await again.close();
  });

  it('stores each batch once when two sink processes over one database are sent the same batches at the same time', async () => {
    const chain = makeChain('fleet-1', key, 12, 50);
    const [a, b] = sinks as [Sink, Sink];
    const replies = await Promise.all(chain.flatMap((batch, i) => [
      (i % 2 ? postJson : postColumnar)(a.url, batch),
      (i % 2 ? postColumnar : postJson)(b.url, batch),
      postJson(i % 3 ? a.url : b.url, batch, true),
    ]));
    for (const r of replies) assert.ok(r.status === 200 || (r.status === 409 && r.body.code === 'out_of_order'), JSON.stringify(r.body));
    // What raced ahead of its predecessor is sent again, as the uplink would.
    for (const batch of chain) {
      const r = await postJson(a.url, batch);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    const stored = replies.filter((r) => r.body.status === 'stored').length;
    assert.ok(stored <= 12);
    const c = new pg.Client({ connectionString: PG });
    await c.connect();
    const { rows } = await c.query(`SELECT batch, count(*)::int AS n FROM ${schema}.sink_batches WHERE device = 'fleet-1' GROUP BY batch ORDER BY batch`);
    await c.end();
    assert.deepEqual(rows.map((r) => [Number(r.batch), r.n]), chain.map((_, i) => [i + 1, 1]));
    assert.equal((await a.store.head('fleet-1')).batch, 12);
    const exported: unknown[] = [];
    for await (const { row, lines } of b.store.batches('fleet-1')) exported.push({ header: row.header, records: lines.map((l) => JSON.parse(l)) });
    assert.deepEqual(exported, chain.map((x) => ({ header: x.header, records: x.records })));
  });

  it('refuses equivocation through the other process and serves proofs from either', async () => {
    const chain = makeChain('fleet-1', key, 3, 50);
    const records = structuredClone(chain[2]!.records);
    (records[1] as { value: number }).value = -1;
    const twin = signBatch('fleet-1', key, 3, records, headerHash(chain[1]!.header));
    const r = await postJson(sinks[1]!.url, twin);
    assert.equal(r.status, 409);
    assert.equal(r.body.code, 'equivocation');
    assert.equal((await sinks[0]!.store.equivocations()).length, 1);
    const p = await getJson(`${sinks[1]!.url}/v1/proofs/fleet-1/333`);
    assert.equal(p.status, 200);
    assert.equal(verifyRecordProof(p.body).ok, true);
  });

  it('puts every batch in exactly one anchor even when both processes anchor at once', async () => {
    const [a, b] = sinks as [Sink, Sink];
    const build = (hashes: string[]) => hashes.join('').slice(0, 64);
    const [x, y] = await Promise.all([
      a.store.withAnchorLock(() => a.store.createAnchor(1000, Date.now(), build)),
      b.store.withAnchorLock(() => b.store.createAnchor(1000, Date.now(), build)),
    ]);
    const made = [x, y].filter((v) => v);
    assert.equal(made.length, 1, 'one anchor between the two');
    assert.equal(made[0]!.size, 12);
    assert.equal((await a.store.anchorLeaves(made[0]!.id)).length, 12);
    assert.equal(await b.store.unanchoredCount(), 0);
  });

  it('leaves the batches an admission rule holds back unanchored, for a later anchor', async () => {
    const [a, b] = sinks as [Sink, Sink];
    for (const batch of makeChain('fleet-1', key, 14, 50).slice(12)) assert.equal((await postJson(a.url, batch)).status, 200);
    assert.deepEqual(await b.store.unanchoredDevices(100), ['fleet-1']);
    const build = (hashes: string[]) => hashes.join('').slice(0, 64);
    assert.equal(await a.store.createAnchor(1000, Date.now(), build, () => false), null, 'all held back: no anchor');
    const some = (await a.store.createAnchor(1000, Date.now(), build, (h) => h.batch !== 13))!;
    assert.equal(some.size, 1);
    assert.equal((await a.store.batch('fleet-1', 14))!.anchorId, some.id);
    assert.equal((await a.store.batch('fleet-1', 13))!.anchorId, null);
    assert.equal(await b.store.unanchoredCount(), 1);
    const rest = (await b.store.createAnchor(1000, Date.now(), build))!;
    assert.equal((await b.store.anchorLeaves(rest.id)).length, 1);
    assert.deepEqual(await a.store.unanchoredDevices(100), []);
  });
});

// Pruning is signed: a batch the device dropped at its disk bound is held by the sink as pruned
// only beside the device's signed gap record naming it. A real journal with a small bound, a real
// uplink and a real sink over HTTP, on LevelDB and on PostgreSQL (FIELDPROOF_TEST_PG); a third
// party's "pruned": true refused; a sink's pruned receipt never deletes records the device holds.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { headerHash } from '../protocol/batch.ts';
import { verifyRecordProof, type RecordProof } from '../protocol/proof.ts';
import { checkReceipt, signReceipt } from '../protocol/receipt.ts';
import type { ReadingInput } from '../protocol/records.ts';
import { generateKey, type DeviceKey } from '../protocol/signature.ts';
import { sinkConfig } from '../cloud-sink/config.ts';
import { Sink } from '../cloud-sink/sink.ts';
import { silentLogger } from '../kernel/log.ts';
import { Registry } from '../kernel/metrics.ts';
import { Journal } from '../runtime/journal/journal.ts';
import { uplinkSchema } from '../runtime/uplink/config.ts';
import { Uplink } from '../runtime/uplink/uplink.ts';
import { runCli } from './support/cli.ts';
import { getJson, postJson, tempDir } from './support/sink.ts';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function scratch(): string {
  const t = tempDir('fieldproof-prune-');
  cleanups.push(t.cleanup);
  return t.dir;
}

function readings(n: number, from: number): ReadingInput[] {
  return Array.from({ length: n }, (_, i) => ({ sensor: `t-${(i + from) % 3}`, metric: 'temperature_c', unit: 'degC', ts: 1763884800000 + (i + from) * 333, value: 20 + ((i + from) % 7) / 10 }));
}

/** A device that journaled 8 batches of 100 readings under a bound that holds about three. */
async function prunedJournal(dir: string, key: DeviceKey): Promise<Journal> {
  const j = await Journal.open({ dir, device: 'dev-1', key, batch: { maxRecords: 100, maxBytes: 1e6, maxAgeMs: 3_600_000 }, commitMaxWaitMs: 1, maxBytes: 60_000, policy: 'drop-oldest' });
  cleanups.push(() => j.close());
  for (let i = 0; i < 8; i++) {
    await j.appendMany(readings(100, i * 100));
    await j.sealNow();
  }
  return j;
}

function uplink(journal: Journal, url: string, dataDir: string, metrics = new Registry()): Uplink {
  const u = new Uplink({ journal, device: 'dev-1', dataDir, log: silentLogger(), metrics, config: uplinkSchema.parse({ url, backoffInitialMs: 50, backoffMaxMs: 300 }) });
  cleanups.push(() => u.stop());
  return u;
}

type StoreConfig = { kind: 'level' } | { kind: 'postgres'; url: string; schema: string; poolSize: number };

async function startSink(dir: string, key: DeviceKey, store: StoreConfig): Promise<Sink> {
  const s = new Sink(sinkConfig({ listen: '127.0.0.1:0', dataDir: dir, devices: [{ id: 'dev-1', key: key.public }], store }));
  await s.start();
  cleanups.push(() => s.stop());
  return s;
}

async function refusedCount(sink: Sink, reason: string): Promise<number> {
  const m = await sink.metrics.getSingleMetric('fieldproof_sink_refused_total')!.get();
  return m.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

const PG = process.env.FIELDPROOF_TEST_PG;
const stores: [string, () => StoreConfig | null][] = [
  ['LevelDB', () => ({ kind: 'level' })],
  ['PostgreSQL', () => (PG ? { kind: 'postgres', url: PG, schema: `fp_prune_${process.pid}_${Date.now().toString(36)}`, poolSize: 4 } : null)],
];

for (const [name, storeOf] of stores) {
  const store = storeOf();
  describe(`signed pruning, ${name} store`, { skip: store ? false : 'FIELDPROOF_TEST_PG is not set: no PostgreSQL to test against' }, () => {
    if (store?.kind === 'postgres') {
      after(async () => {
        const c = new pg.Client({ connectionString: store.url });
        await c.connect();
        for (const suffix of ['a', 'b', 'c']) await c.query(`DROP SCHEMA IF EXISTS ${store.schema}_${suffix} CASCADE`);
        await c.end();
      });
    }

    /** Each test its own PostgreSQL schema: both use device dev-1. */
    const own = (suffix: string): StoreConfig => (store?.kind === 'postgres' ? { ...store, schema: `${store.schema}_${suffix}` } : store!);

    it('a drop-oldest run reaches the sink as pruned headers with their signed gap records, and proofs of them are drop proofs', async () => {
      const dir = scratch();
      const key = generateKey();
      const j = await prunedJournal(join(dir, 'dev'), key);
      const prunedBatches = j.stats().prunedBatches;
      assert.ok(prunedBatches >= 2, `the bound dropped unsent batches (${prunedBatches})`);
      const sink = await startSink(join(dir, 'sink'), key, own('a'));
      const up = uplink(j, sink.url, join(dir, 'dev'));
      await up.start();
      assert.ok(await up.drained(30_000), 'every batch acknowledged');
      await up.stop();

      const rows = [];
      for await (const { row, lines } of sink.store.batches('dev-1')) rows.push({ row, lines });
      assert.equal(rows.length, j.stats().lastBatch);
      const pruned = rows.filter((r) => r.row.pruned);
      assert.equal(pruned.length, prunedBatches);
      for (const { row, lines } of pruned) {
        assert.equal(lines.length, 0);
        assert.ok(row.cover, `batch ${row.header.batch} is held with its cover`);
        assert.ok(row.cover.record.batches!.some((b) => b.batch === row.header.batch && b.hash === row.hash));
      }

      // A record of a pruned batch has no proof; the answer is the device's signed word for the drop.
      const seq = pruned[0]!.row.header.first + 3;
      const p = await getJson(`${sink.url}/v1/proofs/dev-1/${seq}`);
      assert.equal(p.status, 200, JSON.stringify(p.body));
      const proof = p.body as unknown as RecordProof;
      assert.equal(proof.pruned!.header.batch, pruned[0]!.row.header.batch);
      const check = verifyRecordProof(proof, { deviceKey: key.public });
      assert.ok(check.ok, JSON.stringify(check.steps));
      assert.equal(check.dropped?.batch, pruned[0]!.row.header.batch);

      const file = join(dir, 'drop-proof.json');
      writeFileSync(file, JSON.stringify(proof));
      const cli = await runCli(['verify', file, '--device-key', key.public]);
      assert.equal(cli.code, 0, cli.stdout + cli.stderr);
      assert.match(cli.stdout, /dropped by the device at its disk bound/);
      assert.match(cli.stdout, /proof holds, and ends at the device key given/);

      // The head's receipt says its batch is held with records (the last batch is whole).
      const head = await getJson(`${sink.url}/v1/devices/dev-1/head`);
      assert.equal((head.body.receipt as { pruned?: boolean }).pruned, undefined);

      // sink-export keeps each pruned batch's cover: its lines replay into another sink as they are.
      await sink.stop();
      const sinkYaml = join(dir, 'sink.yaml');
      writeFileSync(sinkYaml, JSON.stringify({ listen: '127.0.0.1:0', dataDir: join(dir, 'sink'), devices: [{ id: 'dev-1', key: key.public }], store: own('a') }));
      const exported = await runCli(['sink-export', '--config', sinkYaml]);
      assert.equal(exported.code, 0, exported.stderr);
      const lines = exported.stdout.trim().split('\n').map((l) => JSON.parse(l) as { pruned?: boolean; cover?: unknown });
      assert.equal(lines.filter((l) => l.pruned && l.cover).length, prunedBatches);
      const replica = await startSink(join(dir, 'replica'), key, own('c'));
      for (const l of lines) assert.equal((await postJson(replica.url, l as never)).body.status, 'stored');
    });

    it('refuses a third party\'s "pruned": true on a public header, counts it, and the device\'s real batch is then stored whole', async () => {
      const dir = scratch();
      const key = generateKey();
      const j = await Journal.open({ dir: join(dir, 'dev'), device: 'dev-1', key, batch: { maxRecords: 50, maxBytes: 1e6, maxAgeMs: 3_600_000 }, commitMaxWaitMs: 1 });
      cleanups.push(() => j.close());
      await j.appendMany(readings(150, 0));
      await j.sealNow();
      const sink = await startSink(join(dir, 'sink'), key, own('b'));
      const b1 = (await j.readBatch(1))!;
      const b2 = (await j.readBatch(2))!;
      const first = await postJson(sink.url, b1);
      assert.equal(first.body.status, "stored", JSON.stringify(first.body));

      // The header of batch 2 is public once anyone saw it: replayed with the flag, no cover.
      const bare = await postJson(sink.url, { header: b2.header, records: [], pruned: true });
      assert.equal(bare.status, 422);
      assert.equal(bare.body.code, 'uncovered_prune');
      assert.match(String(bare.body.error), /no signed gap record of the device covers it/);
      // A cover made up by the attacker: a gap record naming batch 2 in a batch it signed itself.
      const other = generateKey();
      const { signBatch } = await import('../protocol/batch.ts');
      const { gapRecord } = await import('../protocol/records.ts');
      const gap = gapRecord('dev-1', 101, 50, 1, 2, 'disk_full', [{ batch: 2, hash: headerHash(b2.header) }]);
      const fake = signBatch('dev-1', other, 3, [gap], headerHash(b2.header), 5);
      const forged = await postJson(sink.url, { header: b2.header, records: [], pruned: true, cover: { header: fake.header, record: gap, index: 0, path: [] } } as never);
      assert.equal(forged.status, 422);
      assert.match(String(forged.body.error), /not signed by the same device and key/);
      assert.equal(await refusedCount(sink, 'uncovered_prune'), 2);

      const up = uplink(j, sink.url, join(dir, 'dev'));
      await up.start();
      assert.ok(await up.drained(20_000));
      await up.stop();
      const row = (await sink.store.batch('dev-1', 2))!;
      assert.equal(row.pruned, false);
      assert.equal((await sink.store.records('dev-1', 2)).length, 50);
      assert.equal((await getJson(`${sink.url}/v1/proofs/dev-1/75`)).status, 200);
    });
  });
}

describe('the device and a sink that claims to hold a prune', () => {
  it('does not delete a batch it holds the records of on a receipt that says pruned, nor on a head that says so', async () => {
    const dir = scratch();
    const key = generateKey();
    const sinkKey = generateKey();
    const j = await Journal.open({ dir: join(dir, 'dev'), device: 'dev-1', key, batch: { maxRecords: 50, maxBytes: 1e6, maxAgeMs: 3_600_000 }, commitMaxWaitMs: 1 });
    cleanups.push(() => j.close());
    await j.appendMany(readings(100, 0));
    await j.sealNow();
    // A sink with the right key that answers every batch as held pruned: the receipt is valid, and says pruned.
    let posts = 0;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        if (req.method === 'GET') {
          const h = j.header(2)!;
          const receipt = signReceipt(sinkKey, { device: 'dev-1', batch: 2, header: headerHash(h), pruned: true }, Date.now());
          res.end(JSON.stringify({ device: 'dev-1', batch: 2, hash: headerHash(h), last: h.last, receipt }));
          return;
        }
        posts++;
        const body = JSON.parse(gunzipSync(Buffer.concat(chunks)).toString('utf8')) as { header: { batch: number } };
        const h = j.header(body.header.batch)!;
        const receipt = signReceipt(sinkKey, { device: 'dev-1', batch: h.batch, header: headerHash(h), pruned: true }, Date.now());
        res.end(JSON.stringify({ status: 'duplicate', device: 'dev-1', batch: h.batch, hash: headerHash(h), receipt }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as { port: number }).port;
    const metrics = new Registry();
    const u = new Uplink({
      journal: j, device: 'dev-1', dataDir: join(dir, 'dev'), log: silentLogger(), metrics,
      config: uplinkSchema.parse({ url: `http://127.0.0.1:${port}`, sinkKey: sinkKey.public, encoding: 'json', backoffInitialMs: 20, backoffMaxMs: 50 }),
    });
    cleanups.push(() => u.stop());
    await u.start();
    await new Promise((r) => setTimeout(r, 800));
    await u.stop();
    assert.equal(j.stats().ackedBatch, 0, 'nothing deleted');
    assert.equal((await j.readBatch(1))!.records.length, 50);
    const refused = (await metrics.getSingleMetric('fieldproof_uplink_receipts_refused_total')!.get()).values;
    assert.ok((refused.find((v) => v.labels.reason === 'receipt_pruned')?.value ?? 0) >= 1, JSON.stringify(refused));
    assert.equal(posts, 0, 'the head answer is refused first, so nothing is sent past it');
    // The same receipt is an acknowledgement of a batch sent as pruned.
    const h = j.header(1)!;
    const r = signReceipt(sinkKey, { device: 'dev-1', batch: 1, header: headerHash(h), pruned: true }, 1);
    assert.equal(checkReceipt(r, { device: 'dev-1', batch: 1, header: headerHash(h), pruned: false }).ok, false);
    assert.equal(checkReceipt(r, { device: 'dev-1', batch: 1, header: headerHash(h) }).ok, true);
  });
});

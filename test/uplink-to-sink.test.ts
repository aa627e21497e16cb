// The uplink against the real journal and a real sink over HTTP (and HTTPS with a private CA).
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { generateKey, type DeviceKey } from '../protocol/signature.ts';
import type { ReadingInput } from '../protocol/records.ts';
import { sinkConfig, type SinkConfigInput } from '../cloud-sink/config.ts';
import { Sink } from '../cloud-sink/sink.ts';
import { getJson, postJson, tempDir } from './support/sink.ts';
import { Journal } from '../runtime/journal/journal.ts';
import { chunkKey } from '../runtime/journal/layout.ts';
import { silentLogger } from '../kernel/log.ts';
import { Registry } from '../kernel/metrics.ts';
import { uplinkSchema, type UplinkConfig } from '../runtime/uplink/config.ts';
import { Uplink } from '../runtime/uplink/uplink.ts';
import { freeTcpPort as freePort } from '../kernel/net.ts';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function readings(n: number, from = 0): ReadingInput[] {
  return Array.from({ length: n }, (_, i) => ({ sensor: `t-${(i + from) % 3}`, metric: 'temperature_c', unit: 'degC', ts: 1763884800000 + (i + from) * 333, value: Math.round(200 + Math.sin(i) * 30) / 10 }));
}

async function journalWith(dir: string, key: DeviceKey, n: number, opts: { maxBytes?: number } = {}): Promise<Journal> {
  const j = await Journal.open({ dir, device: 'dev-1', key, batch: { maxRecords: 50, maxBytes: 1e6, maxAgeMs: 3_600_000 }, commitMaxWaitMs: 1, ...(opts.maxBytes ? { maxBytes: opts.maxBytes } : {}) });
  cleanups.push(() => j.close());
  if (n > 0) {
    await j.appendMany(readings(n));
    await j.sealNow();
  }
  return j;
}

async function startSink(dir: string, key: DeviceKey, extra: Partial<SinkConfigInput> = {}): Promise<Sink> {
  const s = new Sink(sinkConfig({ listen: '127.0.0.1:0', dataDir: dir, devices: [{ id: 'dev-1', key: key.public }], ...extra }));
  await s.start();
  cleanups.push(() => s.stop());
  return s;
}

function tempDataDir(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

/** Whatever a failed assertion leaves running is stopped at the end, so that the file still ends. */
function uplink(journal: Journal, url: string, config: Partial<UplinkConfig> = {}, metrics = new Registry()): Uplink {
  const u = new Uplink({ journal, device: 'dev-1', dataDir: tempDataDir(), log: silentLogger(), metrics, config: uplinkSchema.parse({ url, backoffInitialMs: 50, backoffMaxMs: 400, ...config }) });
  cleanups.push(() => u.stop());
  return u;
}

async function exported(sink: Sink): Promise<{ header: unknown; records: unknown[]; pruned?: boolean }[]> {
  const out = [];
  for await (const { row, lines } of sink.store.batches('dev-1')) out.push({ header: row.header, records: lines.map((l) => JSON.parse(l)), ...(row.pruned ? { pruned: true } : {}) });
  return out;
}

async function heldBatches(j: Journal) {
  const out = [];
  for (let b = j.ackedBatch + 1; b <= j.stats().lastBatch; b++) out.push(await j.readBatch(b));
  return out;
}


describe('uplink', () => {
  for (const encoding of ['columnar', 'json'] as const) {
    it(`drains the journal oldest first (${encoding}) and the sink holds exactly what the journal held`, async () => {
      const tmp = tempDir();
      cleanups.push(tmp.cleanup);
      const key = generateKey();
      const j = await journalWith(join(tmp.dir, 'dev'), key, 1000);
      const before = await heldBatches(j);
      assert.equal(before.length, 20);
      const sink = await startSink(join(tmp.dir, 'sink'), key);
      const up = uplink(j, sink.url, { encoding, inFlight: 4 });
      await up.start();
      assert.ok(await up.drained(20_000));
      await up.stop();
      assert.equal(j.stats().ackedBatch, 20);
      assert.equal(j.stats().unsentRecords, 0);
      assert.deepEqual(await exported(sink), before.map((b) => ({ header: b!.header, records: b!.records })));
      await sink.stop();
      await j.close();
    });
  }

  it('keeps everything through an outage, backs off, and drains when the sink comes', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const key = generateKey();
    const j = await journalWith(join(tmp.dir, 'dev'), key, 300);
    const port = await freePort();
    const metrics = new Registry();
    const up = uplink(j, `http://127.0.0.1:${port}`, {}, metrics);
    await up.start();
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(j.stats().ackedBatch, 0, 'nothing is deleted while the sink is away');
    const backlog = (await metrics.getSingleMetric('fieldproof_uplink_backlog_batches')!.get()).values[0]!.value;
    assert.equal(backlog, 6);
    const errors = (await metrics.getSingleMetric('fieldproof_uplink_errors_total')!.get()).values;
    assert.ok(errors.some((e) => e.labels.reason === 'unreachable'));
    // readings keep coming during the outage
    await j.appendMany(readings(100, 300));
    await j.sealNow();
    const sink = await startSink(join(tmp.dir, 'sink'), key, { listen: `127.0.0.1:${port}` });
    assert.ok(await up.drained(20_000));
    await up.stop();
    assert.equal(j.stats().ackedBatch, 8);
    assert.equal((await sink.store.head('dev-1')).last, 400);
    await sink.stop();
    await j.close();
  });

  it('resumes after a restart from what the sink holds, without resending it', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const key = generateKey();
    const j = await journalWith(join(tmp.dir, 'dev'), key, 500);
    const sink = await startSink(join(tmp.dir, 'sink'), key);
    // The sink got batches 1..4 but the device died before acknowledging them.
    for (const b of (await heldBatches(j)).slice(0, 4)) assert.equal((await postJson(sink.url, b!)).body.status, 'stored');
    const metrics = new Registry();
    const up = uplink(j, sink.url, {}, metrics);
    await up.start();
    assert.ok(await up.drained(20_000));
    await up.stop();
    const sent = (await metrics.getSingleMetric('fieldproof_uplink_batches_total')!.get()).values;
    assert.equal(sent.find((v) => v.labels.outcome === 'duplicate'), undefined, 'nothing the sink held was sent again');
    assert.equal(sent.find((v) => v.labels.outcome === 'stored')!.value, 6);
    assert.equal(j.stats().ackedBatch, 10);
    await sink.stop();
    await j.close();
  });

  it('sends a batch the journal failed to read again, and nothing after it before it', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const key = generateKey();
    const j = await journalWith(join(tmp.dir, 'dev'), key, 500);
    const before = await heldBatches(j);
    // The first read of batch 3's records fails as a disk's read error would.
    const db = (j as unknown as { db: { get: (k: string, ...rest: unknown[]) => Promise<string | undefined> } }).db;
    const realGet = db.get;
    db.get = async function (k: string, ...rest: unknown[]) {
      if (k !== chunkKey(101)) return realGet.call(db, k, ...rest);
      db.get = realGet;
      throw new Error('IO error: read failed');
    };
    const sink = await startSink(join(tmp.dir, 'sink'), key);
    const metrics = new Registry();
    const up = uplink(j, sink.url, { inFlight: 4 }, metrics);
    await up.start();
    assert.ok(await up.drained(20_000));
    await up.stop();
    const errors = (await metrics.getSingleMetric('fieldproof_uplink_errors_total')!.get()).values;
    assert.equal(errors.find((e) => e.labels.reason === 'journal')?.value, 1, 'the read failed once');
    assert.equal(db.get, realGet, 'and was made again');
    assert.equal(j.stats().ackedBatch, 10);
    assert.deepEqual(await exported(sink), before.map((b) => ({ header: b!.header, records: b!.records })), 'every batch, once, in order');
    await sink.stop();
    await j.close();
  });

  it('sends batches the disk bound dropped as pruned headers, which the sink stores as such', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const key = generateKey();
    const j = await journalWith(join(tmp.dir, 'dev'), key, 0, { maxBytes: 60_000 });
    for (let i = 0; i < 8; i++) {
      await j.appendMany(readings(100, i * 100));
      await j.sealNow();
    }
    assert.ok(j.stats().prunedBatches > 0, 'the bound dropped some unsent batches');
    const sink = await startSink(join(tmp.dir, 'sink'), key);
    const up = uplink(j, sink.url);
    await up.start();
    assert.ok(await up.drained(20_000));
    await up.stop();
    const stored = await exported(sink);
    assert.equal(stored.length, j.stats().lastBatch);
    const pruned = stored.filter((b) => b.pruned);
    assert.ok(pruned.length > 0);
    assert.ok(pruned.every((b) => b.records.length === 0));
    const gap = stored.flatMap((b) => b.records).find((r) => (r as { kind: string }).kind === 'gap') as { dropped: number } | undefined;
    assert.ok(gap && gap.dropped > 0, 'a signed gap record says how much was dropped');
    const seq = (pruned[0]!.header as { first: number }).first;
    const p = await getJson(`${sink.url}/v1/proofs/dev-1/${seq}`);
    assert.equal(p.status, 200, 'a drop proof: the signed gap record naming the batch');
    assert.equal((p.body.pruned as { header: { first: number } }).header.first, seq);
    await sink.stop();
    await j.close();
  });

  it('talks TLS to a sink whose certificate a private CA signed, and refuses it without that CA', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const d = tmp.dir;
    const certs = fileURLToPath(new URL('../runtime/uplink/testdata/', import.meta.url));
    const key = generateKey();
    const j = await journalWith(join(d, 'dev'), key, 200);
    const sink = await startSink(join(d, 'sink'), key, { tls: { cert: join(certs, 'sink.pem'), key: join(certs, 'sink.key') } });
    assert.match(sink.url, /^https:/);

    const metrics = new Registry();
    const plain = uplink(j, sink.url, {}, metrics);
    await plain.start();
    await new Promise((r) => setTimeout(r, 500));
    await plain.stop();
    assert.equal(j.stats().ackedBatch, 0, 'an unknown CA is refused and nothing is deleted');

    const up = uplink(j, sink.url, { ca: join(certs, 'ca.pem') });
    await up.start();
    assert.ok(await up.drained(20_000));
    await up.stop();
    assert.equal(j.stats().ackedBatch, 4);
    await sink.stop();
    await j.close();
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { headerHash, signHeader } from '../protocol/batch.ts';
import { verifyRecordProof } from '../protocol/proof.ts';
import { COLUMNAR_CONTENT_TYPE, encodeColumnar } from '../protocol/columnar/encoder.ts';
import { gapRecord } from '../protocol/records.ts';
import { generateKey } from '../protocol/signature.ts';
import { sinkConfig } from './config.ts';
import { Sink } from './sink.ts';
import { getJson, makeChain, postColumnar, postJson, postRaw, signBatch, tempDir } from '../test/support/sink.ts';

const ADMIN = 'admin-token-for-tests-0123456789';

describe('sink: verification, idempotency, refusals', () => {
  const key = generateKey();
  const other = generateKey();
  const tmp = tempDir();
  let sink: Sink;
  let url: string;
  const chain = makeChain('site-a', key, 6, 40, { withGap: true });

  before(async () => {
    sink = new Sink(sinkConfig({ listen: '127.0.0.1:0', dataDir: tmp.dir, devices: [{ id: 'site-a', key: key.public }], adminToken: ADMIN, limits: { maxRecords: 1000, maxBodyBytes: 200_000 } }));
    await sink.start();
    url = sink.url;
  });
  after(async () => {
    await sink.stop();
    tmp.cleanup();
  });

  async function storedBatches(): Promise<number> {
    return (await sink.store.head('site-a')).batch;
  }

  it('stores the first batch, and answers a replay of it as a duplicate without storing it twice', async () => {
    const r = await postJson(url, chain[0]!);
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'stored');
    const again = await postJson(url, chain[0]!, true);
    assert.equal(again.status, 200);
    assert.equal(again.body.status, 'duplicate');
    assert.equal(await storedBatches(), 1);
  });

  it('refuses a changed value (422) and stores nothing', async () => {
    const b = structuredClone(chain[1]!);
    (b.records[3] as { value: number }).value = 99.99;
    const r = await postJson(url, b);
    assert.equal(r.status, 422);
    assert.equal(r.body.code, 'bad_root');
    assert.match(String(r.body.error), /root does not match/);
    assert.equal(await storedBatches(), 1);
  });

  it('refuses the same change in a columnar body', async () => {
    const b = structuredClone(chain[1]!);
    (b.records[5] as { value: number }).value = 1;
    const r = await postColumnar(url, b);
    assert.equal(r.status, 422);
    assert.equal(r.body.code, 'bad_root');
    assert.equal(await storedBatches(), 1);
  });

  it('refuses reordered records (422)', async () => {
    const b = structuredClone(chain[1]!);
    [b.records[2], b.records[3]] = [b.records[3]!, b.records[2]!];
    const r = await postJson(url, b);
    assert.equal(r.status, 422);
    assert.match(String(r.body.error), /has seq \d+, expected/);
    assert.equal(await storedBatches(), 1);
  });

  it('refuses a batch signed with a key that is not the device\'s (403)', async () => {
    const forged = signBatch('site-a', other, 2, chain[1]!.records, headerHash(chain[0]!.header));
    const r = await postJson(url, forged);
    assert.equal(r.status, 403);
    assert.equal(r.body.code, 'wrong_key');
    const unknown = makeChain('site-z', other, 1, 3)[0]!;
    const u = await postJson(url, unknown);
    assert.equal(u.status, 403);
    assert.equal(u.body.code, 'unknown_device');
    assert.equal(await storedBatches(), 1);
  });

  it('refuses a header whose signature does not verify (422)', async () => {
    const b = structuredClone(chain[1]!);
    b.header.created += 1;
    const r = await postJson(url, b);
    assert.equal(r.status, 422);
    assert.equal(r.body.code, 'bad_signature');
  });

  it('refuses a record holding a number JSON cannot carry (1e999, read as Infinity) as the batch\'s fault: 422, counted, not an internal error', async () => {
    const text = JSON.stringify(chain[1]!).replace('"score":1', '"score":1e999');
    assert.ok(text.includes('1e999'));
    const r = await postRaw(url, text, { 'content-type': 'application/json' });
    assert.deepEqual([r.status, r.body.code], [422, 'bad_records'], JSON.stringify(r.body));
    assert.match(String(r.body.error), /^batch 2 of site-a: record \d+: the record has no canonical encoding: cannot encode non-finite number Infinity$/);
    assert.match(await (await request(`${url}/metrics`)).body.text(), /fieldproof_sink_refused_total\{reason="bad_records"\} [1-9]/);
    assert.equal(await storedBatches(), 1);
  });

  it('takes or refuses one batch alike in either encoding: meta nested past the JSON body\'s bound, a meta of Infinity', async () => {
    const withMeta = (meta: Record<string, unknown>) => signBatch('site-a', key, 2, [{ ...chain[1]!.records[0]!, meta } as never], headerHash(chain[0]!.header));
    const nested = (levels: number) => {
      let meta: Record<string, unknown> = { x: 1 };
      for (let i = 1; i < levels; i++) meta = { n: meta };
      return meta;
    };
    // 16 levels of body: {"records": [{"meta": ...}]} leaves 13 to the meta, which a proof then nests in 15.
    const deep = withMeta(nested(14));
    const json = await postJson(url, deep);
    const columnar = await postColumnar(url, deep);
    assert.deepEqual([json.status, columnar.status], [400, 400], `${JSON.stringify(json.body)} ${JSON.stringify(columnar.body)}`);
    // (the encoder writes a record with meta this deep whole, as a raw record)
    assert.match(String(columnar.body.error), /^columnar body has a raw record nested deeper than 14 levels, which a JSON body may not hold$/);
    // 1e999 written into the columnar body's meta (the same length as the 12345 it replaces) reads as Infinity.
    const odd = withMeta({ x: 12345 });
    const body = encodeColumnar(odd.header, odd.records as never);
    const at = body.indexOf('{"x":12345}');
    assert.ok(at > 0);
    body.write('{"x":1e999}', at);
    const r = await postRaw(url, body, { 'content-type': COLUMNAR_CONTENT_TYPE });
    assert.deepEqual([r.status, r.body.code], [422, 'bad_records'], JSON.stringify(r.body));
    assert.match(String(r.body.error), /cannot encode non-finite number Infinity/);
    assert.equal(await storedBatches(), 1);
  });

  it('refuses a record too large for a proof of it to be read, in either encoding', async () => {
    // 1.1 MB of meta: the batch fits the body limits gzipped, and a proof of it would not fit the 1 MiB a verifier reads
    const big = signBatch('site-a', key, 2, [{ ...chain[1]!.records[0]!, meta: { note: 'x'.repeat(1_100_000) } } as never], headerHash(chain[0]!.header));
    for (const r of [await postJson(url, big, true), await postColumnar(url, big)]) {
      assert.deepEqual([r.status, r.body.code], [422, 'bad_records'], JSON.stringify(r.body).slice(0, 300));
      assert.match(String(r.body.error), /^batch 2 of site-a: record 0: the record is 11\d{5} bytes, more than the 524288 a proof of it may carry$/);
    }
    assert.equal(await storedBatches(), 1);
  });

  it('refuses a batch with a missing predecessor (409, naming what the sink has)', async () => {
    const r = await postJson(url, chain[2]!);
    assert.equal(r.status, 409);
    assert.equal(r.body.code, 'out_of_order');
    assert.equal(r.body.have, 1);
    assert.match(String(r.body.error), /batch 2 is missing/);
    assert.equal(await storedBatches(), 1);
  });

  it('refuses a truncated body (400) and a truncated gzip body (400)', async () => {
    const text = JSON.stringify(chain[1]);
    const r = await postRaw(url, text.slice(0, text.length - 20), { 'content-type': 'application/json' });
    assert.equal(r.status, 400);
    assert.match(String(r.body.error), /not valid JSON/);
    const gz = gzipSync(text);
    const g = await postRaw(url, gz.subarray(0, gz.length - 10), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    assert.equal(g.status, 400);
    assert.match(String(g.body.error), /gzip/);
    assert.equal(await storedBatches(), 1);
  });

  it('refuses bodies over the limits (413) and unknown content types (415)', async () => {
    const big = makeChain('site-a', key, 1, 1001)[0]!;
    const r = await postJson(url, big, true);
    assert.equal(r.status, 413);
    const huge = await postRaw(url, Buffer.alloc(300_000, 0x20), { 'content-type': 'application/json' });
    assert.equal(huge.status, 413);
    const t = await postRaw(url, 'x', { 'content-type': 'text/plain' });
    assert.equal(t.status, 415);
  });

  it('takes the rest of the chain in either encoding, with a gap record', async () => {
    for (const [i, b] of chain.slice(1).entries()) {
      const r = i % 2 ? await postJson(url, b, true) : await postColumnar(url, b);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.status, 'stored');
    }
    assert.equal(await storedBatches(), 6);
    const stored: unknown[] = [];
    for await (const { row, lines } of sink.store.batches('site-a')) stored.push({ header: row.header, records: lines.map((l) => JSON.parse(l)) });
    assert.deepEqual(stored, chain.map((b) => ({ header: b.header, records: b.records })));
  });

  it('refuses and reports a different batch under a number already held (equivocation, 409)', async () => {
    const records = structuredClone(chain[2]!.records);
    (records[0] as { value: number }).value = 1234;
    const twin = signBatch('site-a', key, 3, records, headerHash(chain[1]!.header));
    const r = await postJson(url, twin);
    assert.equal(r.status, 409);
    assert.equal(r.body.code, 'equivocation');
    const reports = await getJson(`${url}/v1/equivocations`, { authorization: `Bearer ${ADMIN}` });
    const list = reports.body.equivocations as { batch: number; offeredHash: string }[];
    assert.equal(list.length, 1);
    assert.equal(list[0]!.batch, 3);
    assert.equal(list[0]!.offeredHash, headerHash(twin.header));
    const metrics = await request(`${url}/metrics`).then((r) => r.body.text());
    assert.match(metrics, /fieldproof_sink_equivocations_total 1/);
    assert.match(metrics, /fieldproof_sink_refused_total\{reason="bad_root"\} 2/);
  });

  it('serves proofs that verify, and any changed byte makes the proof fail', async () => {
    const res = await getJson(`${url}/v1/proofs/site-a/77`);
    assert.equal(res.status, 200);
    const proof = res.body;
    assert.equal((proof.record as { seq: number }).seq, 77);
    assert.equal(proof.anchor, undefined);
    assert.equal(verifyRecordProof(proof).ok, true);
    const text = JSON.stringify(proof);
    let failures = 0;
    let tried = 0;
    for (let i = 0; i < text.length; i += 3) {
      const c = text[i]!;
      const swapped = c === '1' ? '2' : c === 'a' ? 'b' : /[0-9a-f]/.test(c) ? '0' === c ? '1' : 'a' : null;
      if (!swapped) continue;
      let changed: unknown;
      try {
        changed = JSON.parse(text.slice(0, i) + swapped + text.slice(i + 1));
      } catch {
        continue;
      }
      tried++;
      if (!verifyRecordProof(changed).ok) failures++;
    }
    assert.ok(tried > 200);
    assert.equal(failures, tried, 'every changed byte is caught');
  });

  it('answers 404 for a seq the sink does not hold', async () => {
    const r = await getJson(`${url}/v1/proofs/site-a/100000`);
    assert.equal(r.status, 404);
    assert.match(String(r.body.error), /holds seq 1\.\.240/);
  });

  it('answers 400 for a seq or an epoch not written as a decimal integer, which Number() would read as another', async () => {
    for (const path of ['site-a/0x4d', 'site-a/7.7e1', 'site-a/077', 'site-a/77.0', 'site-a/%2077', 'site-a/77?epoch=0x1', 'site-a/77?epoch=1e0', 'site-a/77?epoch=01']) {
      const r = await getJson(`${url}/v1/proofs/${path}`);
      assert.deepEqual([r.status, r.body.code], [400, 'bad_query'], path);
    }
    assert.equal((await getJson(`${url}/v1/proofs/site-a/77?epoch=1`)).status, 200);
    assert.deepEqual((await getJson(`${url}/v1/proofs/-site-a/77`)).body.code, 'bad_device_name');
  });

  it('serves the MRV report as JSON, CSV and HTML; power readings without a monitoring plan earn nothing', async () => {
    const from = 1763884800000;
    const to = from + 60_000;
    const r = await getJson(`${url}/v1/reports/site-a?from=${from}&to=${to}`);
    assert.equal(r.status, 200);
    const rep = r.body as { energy: { creditedKwh: number; netKwh: number; events: unknown[] }; completeness: { ratio: number }; dataLoss: { droppedOnDevice: number }; warnings: string[] };
    // four power sensors and no meter plan: the power integral is no longer taken for energy
    assert.equal(rep.energy.creditedKwh, 0);
    assert.equal(rep.energy.netKwh, 0);
    assert.equal(rep.completeness.ratio, 0);
    assert.ok(rep.warnings.some((w) => /has a monitoring plan in force/.test(w)), rep.warnings.join('; '));
    assert.equal(rep.dataLoss.droppedOnDevice, 120, 'the device\'s gap record counts for the time it describes');
    const csv = await request(`${url}/v1/reports/site-a?from=${from}&to=${to}&format=csv`).then(async (x) => ({ type: x.headers['content-type'], text: await x.body.text() }));
    assert.match(String(csv.type), /text\/csv/);
    const rows = csv.text.trim().split('\n');
    assert.equal(rows[0], 'section,name,sensor,ts,time_utc,value,unit,detail');
    assert.ok(rows.some((l) => l.startsWith('data_loss,dropped_on_device,,,,120,records,')));
    const html = await request(`${url}/v1/reports/site-a?from=${from}&to=${to}&format=html`).then(async (x) => ({ type: x.headers['content-type'], text: await x.body.text() }));
    assert.match(String(html.type), /text\/html/);
    assert.match(html.text, /Monitoring report/);
    assert.equal((await getJson(`${url}/v1/reports/site-a?from=x`)).status, 400);
    assert.equal((await getJson(`${url}/v1/reports/site-a?from=${from}&to=${to}&format=pdf`)).status, 400);
  });

  it('registers devices through the admin API only with the token', async () => {
    const k = generateKey();
    const no = await request(`${url}/v1/devices`, { method: 'POST', body: JSON.stringify({ id: 'site-b', key: k.public }) });
    assert.equal(no.statusCode, 401);
    await no.body.dump();
    const yes = await request(`${url}/v1/devices`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ id: 'site-b', key: k.public }) });
    assert.equal(yes.statusCode, 201);
    await yes.body.dump();
    const clash = await request(`${url}/v1/devices`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ id: 'site-b', key: other.public }) });
    assert.equal(clash.statusCode, 409);
    await clash.body.dump();
    const b = makeChain('site-b', k, 1, 5)[0]!;
    assert.equal((await postJson(url, b)).body.status, 'stored');
  });
});

describe('sink: pruned batches', () => {
  it('stores a pruned header only beside the signed gap record naming it, and answers its proofs with that record', async () => {
    const key = generateKey();
    const tmp = tempDir();
    const sink = new Sink(sinkConfig({ listen: '127.0.0.1:0', dataDir: tmp.dir, devices: [{ id: 'site-p', key: key.public }] }));
    await sink.start();
    try {
      const chain = makeChain('site-p', key, 2, 10);
      assert.equal((await postJson(sink.url, chain[0]!)).body.status, 'stored');
      const b2 = chain[1]!;
      const hash2 = headerHash(b2.header);
      // Batch 3 carries the device's gap record naming batch 2 (seq 21..30 dropped).
      const gap = gapRecord('site-p', 21, 10, 1, 2, 'disk_full', [{ batch: 2, hash: hash2 }]);
      const b3 = signBatch('site-p', key, 3, [gap], hash2);
      const alone = await postJson(sink.url, { header: b2.header, records: [], pruned: true });
      assert.equal(alone.status, 422);
      assert.equal(alone.body.code, 'uncovered_prune');
      const cover = { header: b3.header, record: gap, index: 0, path: [] };
      const pruned = await postJson(sink.url, { header: b2.header, records: [], pruned: true, cover } as never);
      assert.equal(pruned.status, 200, JSON.stringify(pruned.body));
      assert.equal((pruned.body.receipt as { pruned?: boolean }).pruned, true, 'the receipt says the batch is held as pruned');
      const again = await postJson(sink.url, b2);
      assert.equal(again.body.status, 'duplicate');
      assert.equal((again.body.receipt as { pruned?: boolean }).pruned, true, 'and says so to whoever sends its records after');
      // a cover naming another hash is a forged prune
      const other = gapRecord('site-p', 21, 10, 1, 2, 'disk_full', [{ batch: 2, hash: '00'.repeat(32) }]);
      const b3x = signBatch('site-p', key, 3, [other], hash2);
      const wrong = await postJson(sink.url, { header: makeChain('site-p', key, 2, 10, { start: 5 })[1]!.header, records: [], pruned: true, cover: { header: b3x.header, record: other, index: 0, path: [] } } as never);
      assert.equal(wrong.status, 422, JSON.stringify(wrong.body));
      assert.equal((await postColumnar(sink.url, b3)).body.status, 'stored');
      const p = await getJson(`${sink.url}/v1/proofs/site-p/15`);
      assert.equal(p.status, 200, JSON.stringify(p.body));
      const check = verifyRecordProof(p.body, { deviceKey: key.public });
      assert.ok(check.ok, JSON.stringify(check.steps));
      assert.equal(check.dropped?.batch, 2);
      assert.equal((await getJson(`${sink.url}/v1/proofs/site-p/5`)).status, 200);
      // a pruned body that still carries records, or a forged header, is refused
      const forged = signHeader({ ...chain[1]!.header, created: 5 }, generateKey());
      const bad = await postJson(sink.url, { header: { ...forged, key: key.public }, records: [], pruned: true });
      assert.equal(bad.status, 422);
    } finally {
      await sink.stop();
      tmp.cleanup();
    }
  });
});

describe('sink: the readings index off', () => {
  it("hands the store no decoded readings when it keeps no index, and every reading when it does", async () => {
    const key = generateKey();
    for (const enabled of [false, true]) {
      const tmp = tempDir();
      const sink = new Sink(sinkConfig({ listen: '127.0.0.1:0', dataDir: tmp.dir, devices: [{ id: 'site-r', key: key.public }], readings: { enabled } }));
      await sink.start();
      try {
        const handed: (number | undefined)[] = [];
        const store = sink.store;
        const commit = store.commitBatch.bind(store);
        store.commitBatch = (b) => (handed.push(b.readings?.length), commit(b));
        const chain = makeChain('site-r', key, 2, 25);
        assert.equal((await postJson(sink.url, chain[0]!)).body.status, 'stored');
        assert.equal((await postColumnar(sink.url, chain[1]!)).body.status, 'stored');
        assert.equal(store.indexesReadings, enabled);
        assert.equal(store.readings() !== null, enabled);
        assert.deepEqual(handed, enabled ? [25, 25] : [0, 0]);
      } finally {
        await sink.stop();
        tmp.cleanup();
      }
    }
  });
});

// Recovery epochs between the real journal and uplink and a real sink over HTTP, on real LevelDB
// files: a journal deleted with the key kept, a journal restored from an older copy (its readings
// since the copy re-journaled, never sent under the old numbers), the admin's acceptance, and an
// equivocation or a wrong key stopping the uplink with one alert and one report.
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { request } from 'undici';
import { chainProblem, epochOf, headerHash, signBatch as signProtocolBatch, type BatchHeader } from '../protocol/batch.ts';
import { verifyRecordProof } from '../protocol/proof.ts';
import type { JournalRecord, ReadingInput, ReadingRecord } from '../protocol/records.ts';
import { restartRecord, type RestartRecord } from '../protocol/restart.ts';
import { generateKey, type DeviceKey } from '../protocol/signature.ts';
import { sinkConfig } from '../cloud-sink/config.ts';
import { Sink } from '../cloud-sink/sink.ts';
import { MapStatusBoard } from '../kernel/status-board.ts';
import { Registry } from '../kernel/metrics.ts';
import { AlertsComponent } from '../runtime/alerts/alerts.ts';
import { alertsSchema } from '../runtime/alerts/config.ts';
import type { AlertEvent } from '../runtime/alerts/engine.ts';
import { Journal } from '../runtime/journal/journal.ts';
import { uplinkSchema } from '../runtime/uplink/config.ts';
import { HALT_FILE } from '../runtime/uplink/halt.ts';
import { Uplink } from '../runtime/uplink/uplink.ts';
import { drainAndClose } from './support/uplink-runs.ts';
import { until } from './support/until.ts';
import { getJson, postJson, signBatch, tempDir } from './support/sink.ts';

const ADMIN = 'admin-token-for-tests';
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

let tsBase = 1763884800000;
function readings(n: number): ReadingInput[] {
  return Array.from({ length: n }, (_, i) => ({ sensor: `s-${i % 3}`, metric: 'temperature_c', unit: 'degC', ts: tsBase++, value: 20 + (i % 7) }));
}

async function openJournal(dir: string, key: DeviceKey): Promise<Journal> {
  return Journal.open({ dir, device: 'dev-1', key, batch: { maxRecords: 10, maxBytes: 1e6, maxAgeMs: 3_600_000 }, commitMaxWaitMs: 1 });
}

async function startSink(dataDir: string, key: DeviceKey): Promise<Sink> {
  const s = new Sink(sinkConfig({ listen: '127.0.0.1:0', dataDir, adminToken: ADMIN, devices: [{ id: 'dev-1', key: key.public }] }));
  await s.start();
  cleanups.push(() => s.stop());
  return s;
}

/** A device key, a data dir for it, and a sink that has `registered` for the device (its key by default). */
async function scene(registered?: DeviceKey): Promise<{ key: DeviceKey; root: string; dataDir: string; sink: Sink }> {
  const key = generateKey();
  const root = tempDir('fieldproof-epochs-').dir;
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  return { key, root, dataDir: join(root, 'device'), sink: await startSink(join(root, 'sink'), registered ?? key) };
}

function startUplink(journal: Journal, dataDir: string, url: string, board = new MapStatusBoard(), metrics = new Registry()): Uplink {
  const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
  const u = new Uplink({ journal, device: 'dev-1', dataDir, log, metrics, board, config: uplinkSchema.parse({ url, backoffInitialMs: 30, backoffMaxMs: 150 }) });
  cleanups.push(() => u.stop());
  return u;
}

const admin = { authorization: `Bearer ${ADMIN}` };

/** Every batch the sink holds, epoch by epoch, with its records. */
async function stored(sink: Sink): Promise<Map<number, { header: BatchHeader; records: JournalRecord[] }[]>> {
  const store = sink.store;
  const out = new Map<number, { header: BatchHeader; records: JournalRecord[] }[]>();
  for (const epoch of await store.epochs('dev-1')) {
    const list = [];
    for await (const { row, lines } of store.batches('dev-1', 1, epoch)) list.push({ header: row.header, records: lines.map((l) => JSON.parse(l) as JournalRecord) });
    out.set(epoch, list);
  }
  return out;
}

describe('recovery epochs', () => {
  it('a journal restored from an older copy starts epoch 2, waits for the admin, then every reading is at the sink once', async () => {
    const { key, root, dataDir, sink } = await scene();
    const taken: ReadingInput[] = [];

    // Run 1: 30 readings, all at the sink. Then the operator copies the data dir.
    let j = await openJournal(dataDir, key);
    let u = startUplink(j, dataDir, sink.url);
    await u.start();
    let batch = readings(30);
    taken.push(...batch);
    await j.appendMany(batch);
    await drainAndClose(j, u);
    // The copy holds a few readings not yet sealed or sent, as a copy taken mid-run would.
    j = await openJournal(dataDir, key);
    batch = readings(15);
    taken.push(...batch);
    await j.appendMany(batch);
    await j.close();
    cpSync(dataDir, join(root, 'copy'), { recursive: true });

    // Run 2 goes on: 25 more readings, all at the sink (epoch 1 now holds what the copy does not know).
    j = await openJournal(dataDir, key);
    u = startUplink(j, dataDir, sink.url);
    await u.start();
    batch = readings(25);
    taken.push(...batch);
    await j.appendMany(batch);
    await drainAndClose(j, u);
    const epoch1Head = await getJson(`${sink.url}/v1/devices/dev-1/head`);
    assert.equal(epoch1Head.body.batch, 8);

    // The SD card dies; the copy is restored. Offline, the device takes 12 readings and seals
    // batch 5 of epoch 1, which conflicts with the sink's batch 5.
    rmSync(dataDir, { recursive: true, force: true });
    cpSync(join(root, 'copy'), dataDir, { recursive: true });
    j = await openJournal(dataDir, key);
    cleanups.push(() => j.close());
    batch = readings(12);
    taken.push(...batch);
    await j.appendMany(batch);
    await j.sealNow();
    assert.equal(j.stats().lastBatch, 7);

    const board = new MapStatusBoard();
    u = startUplink(j, dataDir, sink.url, board);
    await u.start();
    await until('the journal starts epoch 2', () => j.epoch === 2);
    await until('the sink notes the restart', async () => ((await getJson(`${sink.url}/v1/restarts`, admin)).body.restarts as unknown[] | undefined)?.length === 1);
    const restarts = (await getJson(`${sink.url}/v1/restarts?device=dev-1`, admin)).body.restarts as { epoch: number; reason: string; from: unknown; acceptedAt: number | null }[];
    assert.equal(restarts[0]!.epoch, 2);
    assert.equal(restarts[0]!.reason, 'journal_behind_sink');
    assert.deepEqual(restarts[0]!.from, { epoch: 1, batch: 8, hash: epoch1Head.body.hash });
    assert.equal(restarts[0]!.acceptedAt, null);
    await until('the device waits for the admin', () => (board.get('uplink.restartPending') as { epoch?: number } | undefined)?.epoch === 2);
    // New readings keep being journaled while it waits.
    batch = readings(5);
    taken.push(...batch);
    await j.appendMany(batch);
    assert.equal((await getJson(`${sink.url}/v1/devices/dev-1/head`)).body.batch, 8, 'nothing of epoch 2 is stored before the acceptance');
    assert.deepEqual((await getJson(`${sink.url}/v1/equivocations`, admin)).body.equivocations, [], 'no conflicting batch was ever sent');

    // A restart that is not pending is refused; the pending one is accepted.
    const wrong = await request(`${sink.url}/v1/devices/dev-1/restarts/3/accept`, { method: 'POST', headers: admin });
    assert.equal(wrong.statusCode, 409);
    await wrong.body.dump();
    const ok = await request(`${sink.url}/v1/devices/dev-1/restarts/2/accept`, { method: 'POST', headers: admin });
    assert.equal(ok.statusCode, 200);
    await ok.body.dump();
    await j.sealNow();
    assert.equal(await u.drained(20_000), true, 'epoch 2 drains once accepted');

    // Every reading taken is at the sink exactly once, across both epochs, and both chains verify.
    const chains = await stored(sink);
    assert.deepEqual([...chains.keys()], [1, 2]);
    assert.equal(chainProblem(chains.get(1)!.map((b) => b.header)), null);
    const e2 = chains.get(2)!;
    const restart = e2[0]!.records[0] as RestartRecord;
    assert.equal(restart.kind, 'restart');
    assert.equal(chainProblem(e2.map((b) => b.header), null, restart.from.hash), null);
    assert.ok(e2.every((b) => epochOf(b.header) === 2));
    const key4 = (r: { sensor: string; ts: number }) => `${r.sensor}@${r.ts}`;
    const atSink = [...chains.values()].flat().flatMap((b) => b.records).filter((r): r is ReadingRecord => r.kind === 'reading').map(key4);
    assert.equal(new Set(atSink).size, atSink.length, 'no reading twice');
    assert.deepEqual(new Set(atSink), new Set(taken.map(key4)), 'every reading taken');

    // Proofs of either epoch verify against the device key, the restart record's among them.
    for (const [epoch, seq] of [[1, 5], [2, 1], [2, 3]] as const) {
      const p = await getJson(`${sink.url}/v1/proofs/dev-1/${seq}?epoch=${epoch}`);
      assert.equal(p.status, 200);
      assert.equal(verifyRecordProof(p.body, { deviceKey: key.public }).ok, true, `proof of seq ${seq} of epoch ${epoch}`);
      assert.equal(epochOf((p.body as { header: BatchHeader }).header), epoch);
    }
  });

  it('a copy older than an accepted epoch starts the next one, joined to the sink\'s current chain', async () => {
    const { key, root, dataDir, sink } = await scene();
    const taken: ReadingInput[] = [];
    const take = async (j: Journal, n: number) => {
      const batch = readings(n);
      taken.push(...batch);
      await j.appendMany(batch);
    };
    let j = await openJournal(dataDir, key);
    let u = startUplink(j, dataDir, sink.url);
    await u.start();
    await take(j, 20);
    await drainAndClose(j, u);
    j = await openJournal(dataDir, key);
    await take(j, 5); // sealed at close, in the copy, and sent by this journal before it is lost
    await j.close();
    cpSync(dataDir, join(root, 'copy'), { recursive: true });
    j = await openJournal(dataDir, key);
    u = startUplink(j, dataDir, sink.url);
    await u.start();
    await drainAndClose(j, u);

    // The journal is lost; epoch 2 is accepted and carries on.
    rmSync(join(dataDir, 'journal'), { recursive: true, force: true });
    j = await openJournal(dataDir, key);
    u = startUplink(j, dataDir, sink.url);
    await u.start();
    await take(j, 4);
    await until('epoch 2 asked for', async () => (await request(`${sink.url}/v1/devices/dev-1/restarts/2/accept`, { method: 'POST', headers: admin }).then(async (r) => (await r.body.dump(), r.statusCode))) === 200);
    await drainAndClose(j, u);

    // The old copy comes back: epoch 3, joined to epoch 2's head, carrying only what the sink lacks.
    rmSync(dataDir, { recursive: true, force: true });
    cpSync(join(root, 'copy'), dataDir, { recursive: true });
    j = await openJournal(dataDir, key);
    cleanups.push(() => j.close());
    await take(j, 3);
    u = startUplink(j, dataDir, sink.url);
    await u.start();
    await until('epoch 3', () => j.epoch === 3);
    const head2 = (await getJson(`${sink.url}/v1/devices/dev-1/head`)).body;
    assert.equal(head2.epoch, 2);
    await until('epoch 3 accepted', async () => (await request(`${sink.url}/v1/devices/dev-1/restarts/3/accept`, { method: 'POST', headers: admin }).then(async (r) => (await r.body.dump(), r.statusCode))) === 200);
    await j.sealNow();
    assert.equal(await u.drained(20_000), true);

    const chains = await stored(sink);
    assert.deepEqual([...chains.keys()], [1, 2, 3]);
    const restart3 = chains.get(3)![0]!.records[0] as RestartRecord;
    assert.deepEqual(restart3.from, { epoch: 2, batch: head2.batch, hash: head2.hash });
    assert.equal(restart3.rejournaled, 3, 'only the readings taken since the restore: the copy\'s batch 3 is at the sink');
    const atSink = [...chains.values()].flat().flatMap((b) => b.records).filter((r): r is ReadingRecord => r.kind === 'reading').map((r) => `${r.sensor}@${r.ts}`);
    assert.equal(new Set(atSink).size, atSink.length, 'no reading twice');
    assert.deepEqual(new Set(atSink), new Set(taken.map((r) => `${r.sensor}@${r.ts}`)));
  });

  it('a journal deleted with the key kept starts epoch 2 as journal_lost', async () => {
    const { key, dataDir, sink } = await scene();
    let j = await openJournal(dataDir, key);
    let u = startUplink(j, dataDir, sink.url);
    await u.start();
    await j.appendMany(readings(20));
    await drainAndClose(j, u);
    rmSync(join(dataDir, 'journal'), { recursive: true, force: true });
    j = await openJournal(dataDir, key);
    cleanups.push(() => j.close());
    await j.appendMany(readings(3));
    u = startUplink(j, dataDir, sink.url);
    await u.start();
    await until('epoch 2', () => j.epoch === 2);
    await until('the restart is noted', async () => ((await getJson(`${sink.url}/v1/restarts`, admin)).body.restarts as unknown[] | undefined)?.length === 1);
    const [r] = (await getJson(`${sink.url}/v1/restarts`, admin)).body.restarts as { reason: string; rejournaled: number }[];
    assert.equal(r!.reason, 'journal_lost');
    assert.equal(r!.rejournaled, 3);
  });

  it('an equivocation stops the uplink with one alert, and the sink keeps one report however often it is offered', async () => {
    const { key, dataDir, sink } = await scene();
    const j = await openJournal(dataDir, key);
    cleanups.push(() => j.close());
    const board = new MapStatusBoard();
    const alerts: AlertEvent[] = [];
    const alertsPart = new AlertsComponent({
      config: alertsSchema.parse({}), device: 'dev-1', dataDir, log: pino({ level: 'silent' }), metrics: new Registry(), board,
      onCommitted: () => undefined, sourceStatuses: () => [],
    });
    alertsPart.events.on('alert', (e) => alerts.push(e));
    await alertsPart.start();
    cleanups.push(() => alertsPart.stop());
    const metrics = new Registry();
    const u = startUplink(j, dataDir, sink.url, board, metrics);
    await u.start();
    await until('the uplink is synced', () => (board.get('uplink.state') as { state?: string } | undefined)?.state === 'synced');
    // Something else holding the device's key (a clone) gets its batch 1 to the sink first.
    const clone = signBatch('dev-1', key, 1, [{ v: 1, kind: 'gap', device: 'dev-1', seq: 1, dropped: 0, from: 1, to: 1, reason: 'overload' }], '0'.repeat(64));
    assert.equal((await postJson(sink.url, clone)).status, 200);
    await j.appendMany(readings(10));
    await until('the uplink stops', () => existsSync(join(dataDir, HALT_FILE)));
    const sent = async () => (await metrics.getSingleMetric('fieldproof_uplink_batches_total')!.get()).values.reduce((s, v) => s + v.value, 0);
    const before = await sent();
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(await sent(), before, 'a stopped uplink sends nothing more');
    const raised = alerts.filter((e) => e.type === 'raised' && e.alert.kind === 'uplink_halted');
    assert.equal(raised.length, 1);
    assert.match(raised[0]!.alert.detail!, /equivocation/);
    assert.equal(j.stats().unsentRecords, 10, 'the journal keeps everything');

    // The same conflicting batch, offered again and again, is one report.
    const mine = (await j.readBatch(1))!;
    for (let i = 0; i < 20; i++) assert.equal((await postJson(sink.url, mine)).body.code, 'equivocation');
    const reports = (await getJson(`${sink.url}/v1/equivocations`, admin)).body.equivocations as { offeredHash: string }[];
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.offeredHash, headerHash(mine.header));
  });

  it('a first batch other than the restart the admin accepted stops the uplink (bad_restart)', async () => {
    const { key, dataDir, sink } = await scene();
    const j = await openJournal(dataDir, key);
    cleanups.push(() => j.close());
    let u = startUplink(j, dataDir, sink.url);
    await u.start();
    await j.appendMany(readings(12));
    await j.sealNow();
    assert.equal(await u.drained(10_000), true);
    await u.stop();
    const head = (await getJson(`${sink.url}/v1/devices/dev-1/head`)).body as { batch: number; hash: string };
    const from = { epoch: 1, batch: head.batch, hash: head.hash };
    // Another holder of the key asks for epoch 2 first, and the admin accepts that one.
    const other = signProtocolBatch('dev-1', key, 1, [restartRecord('dev-1', 2, 'operator', from, 0, 1)], head.hash, 2, 2);
    assert.equal((await postJson(sink.url, other)).body.code, 'restart_pending');
    const ok = await request(`${sink.url}/v1/devices/dev-1/restarts/2/accept`, { method: 'POST', headers: admin });
    assert.equal(ok.statusCode, 200);
    await ok.body.dump();
    await j.startEpoch({ reason: 'journal_lost', from, heldThrough: j.stats().lastBatch });
    u = startUplink(j, dataDir, sink.url);
    await u.start();
    await until('the uplink stops', () => existsSync(join(dataDir, HALT_FILE)));
    assert.equal(JSON.parse(readFileSync(join(dataDir, HALT_FILE), 'utf8')).code, 'bad_restart');
  });

  it('a wrong_key refusal stops the uplink and is remembered across a restart', async () => {
    const { key, dataDir, sink } = await scene(generateKey());
    const j = await openJournal(dataDir, key);
    cleanups.push(() => j.close());
    await j.appendMany(readings(10));
    let u = startUplink(j, dataDir, sink.url);
    await u.start();
    await until('the uplink stops', () => existsSync(join(dataDir, HALT_FILE)));
    await u.stop();
    const board = new MapStatusBoard();
    u = startUplink(j, dataDir, sink.url, board);
    await u.start();
    assert.equal((board.get('uplink.halted') as { code: string }).code, 'wrong_key');
  });
});

// The MRV report after a real restore: a metered device (a journal and its uplink, on real
// LevelDB files) sends to a real sink over HTTP; its data dir is copied mid-run, it runs on, the
// card dies and the copy is restored after 30 s off. The device starts epoch 2 on its own, the
// admin accepts it, and the report over periods before, across and after the restore credits the
// meter's true energy: nothing lost across the restart, nothing counted twice, readings cited
// with the epoch whose proof holds them. Truth: 36 kW out, 3.6 kW in: 9 mWh per millisecond.
import assert from 'node:assert/strict';
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import type { PlanInput } from '../protocol/plan.ts';
import { verifyRecordProof, type RecordProof } from '../protocol/proof.ts';
import type { ReadingInput, ReadingRecord } from '../protocol/records.ts';
import { generateKey, type DeviceKey } from '../protocol/signature.ts';
import { sinkConfig } from '../cloud-sink/config.ts';
import type { MrvReport } from '../cloud-sink/mrv/report.ts';
import { Sink } from '../cloud-sink/sink.ts';
import { MapStatusBoard } from '../kernel/status-board.ts';
import { Registry } from '../kernel/metrics.ts';
import { Journal } from '../runtime/journal/journal.ts';
import { uplinkSchema } from '../runtime/uplink/config.ts';
import { Uplink } from '../runtime/uplink/uplink.ts';
import { drainAndClose } from './support/uplink-runs.ts';
import { until } from './support/until.ts';
import { getJson, tempDir } from './support/sink.ts';

const ADMIN = 'admin-token-for-mrv-restore';
const T0 = Date.UTC(2026, 3, 1, 8);
const at = (poll: number) => T0 + poll * 1000;
const TRUTH_MWH_PER_MS = 9;
/** one count (1 Wh) at each end of each of the two registers */
const RESOLUTION_MWH = 4 * 1000;
const REGISTER = { type: 'int32', bits: 32, signed: true, scale: 0.001, unit: 'kWh' as const };
const PLAN: PlanInput = {
  kind: 'plan', sensor: 'meter-1', ts: at(0), serial: 'ION-R-1', accuracyClass: '0.2S', calibratedAt: '2025-01-01', calibrationDue: '2030-01-01',
  intervalMs: 1000, ratedKw: 50, export: { metric: 'energy_delivered_kwh', ...REGISTER }, import: { metric: 'energy_received_kwh', ...REGISTER },
};
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Both registers as the meter shows them at `poll`, to the watt-hour. */
function poll(k: number): ReadingInput[] {
  const ms = at(k) - T0;
  const meta = { register: { bits: 32, scale: 0.001, signed: true, type: 'int32' } };
  const kwh = (x: number) => Math.floor(x * 1000) / 1000;
  return [
    { sensor: 'meter-1', metric: PLAN.export.metric, unit: 'kWh', ts: at(k), value: kwh(1000 + (36 * ms) / 3_600_000), meta },
    { sensor: 'meter-1', metric: PLAN.import.metric, unit: 'kWh', ts: at(k), value: kwh(100 + (3.6 * ms) / 3_600_000), meta },
  ];
}

async function polls(j: Journal, from: number, to: number): Promise<void> {
  for (let k = from; k <= to; k++) await j.appendMany(poll(k));
}

function openJournal(dir: string, key: DeviceKey): Promise<Journal> {
  return Journal.open({ dir, device: 'dev-m', key, batch: { maxRecords: 60, maxBytes: 1e6, maxAgeMs: 3_600_000 }, commitMaxWaitMs: 1 });
}

function startUplink(journal: Journal, dataDir: string, url: string, board = new MapStatusBoard()): Uplink {
  const u = new Uplink({ journal, device: 'dev-m', dataDir, log: pino({ level: 'silent' }), metrics: new Registry(), board, config: uplinkSchema.parse({ url, backoffInitialMs: 30, backoffMaxMs: 150 }) });
  cleanups.push(() => u.stop());
  return u;
}

describe('MRV report after a journal restored from a copy', () => {
  it('credits the true energy before, across and after the restore, each reading once, cited with its epoch', async () => {
    const key = generateKey();
    const root = tempDir('fieldproof-mrv-restore-').dir;
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    const dataDir = join(root, 'device');
    const sink = new Sink(sinkConfig({ listen: '127.0.0.1:0', dataDir: join(root, 'sink'), adminToken: ADMIN, devices: [{ id: 'dev-m', key: key.public }], report: { indexIntervalMs: 0 } }));
    await sink.start();
    cleanups.push(() => sink.stop());
    const report = async (from: number, to: number) => {
      const r = await getJson(`${sink.url}/v1/reports/dev-m?from=${from}&to=${to}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body as unknown as MrvReport;
    };

    // Run 1: the plan and 300 polls, all at the sink; then 50 more journaled, and the data dir copied.
    let j = await openJournal(dataDir, key);
    let u = startUplink(j, dataDir, sink.url);
    await u.start();
    await j.appendPlan(PLAN);
    await polls(j, 1, 300);
    await drainAndClose(j, u);
    j = await openJournal(dataDir, key);
    await polls(j, 301, 350);
    await j.close();
    cpSync(dataDir, join(root, 'copy'), { recursive: true });
    // Run 2 goes on to poll 600, all at the sink in epoch 1.
    j = await openJournal(dataDir, key);
    u = startUplink(j, dataDir, sink.url);
    await u.start();
    await polls(j, 351, 600);
    await drainAndClose(j, u);

    // The card dies; the copy is restored, 30 s later. The driver starts again: its plan, then on.
    rmSync(dataDir, { recursive: true, force: true });
    cpSync(join(root, 'copy'), dataDir, { recursive: true });
    j = await openJournal(dataDir, key);
    cleanups.push(() => j.close());
    await j.appendPlan({ ...PLAN, ts: at(630) + 500 });
    await polls(j, 631, 700);
    const board = new MapStatusBoard();
    u = startUplink(j, dataDir, sink.url, board);
    await u.start();
    await until('the device waits for the admin', () => (board.get('uplink.restartPending') as { epoch?: number } | undefined)?.epoch === 2);
    const waiting = await report(at(500), at(700));
    assert.equal(waiting.provisional, true, 'a pending epoch may hold readings of the period');
    assert.deepEqual(waiting.pendingEpochs.map((p) => p.epoch), [2]);
    const ok = await fetch(`${sink.url}/v1/devices/dev-m/restarts/2/accept`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(ok.status, 200, await ok.text());
    await polls(j, 701, 760);
    await j.sealNow();
    assert.equal(await u.drained(20_000), true, 'epoch 2 drains once accepted');

    const truth = (from: number, to: number) => TRUTH_MWH_PER_MS * (to - from);
    const mwh = (kwh: number) => Math.round(kwh * 1e6);
    const periods = [[at(10) + 250, at(590)], [at(590), at(640) + 1], [at(640) + 1, at(750) + 700], [at(10) + 250, at(750) + 700]] as const;
    const reports = [];
    for (const [from, to] of periods) {
      const r = await report(from, to);
      reports.push(r);
      assert.ok(Math.abs(mwh(r.energy.creditedKwh) - truth(from, to)) <= RESOLUTION_MWH, `${new Date(from).toISOString()}..${new Date(to).toISOString()}: credited ${r.energy.creditedKwh} kWh, truth ${truth(from, to) / 1e6}`);
      assert.equal(r.provisional, false);
      assert.deepEqual(r.energy.events, [], 'the register did not reset with the journal');
    }
    const [before, restart, afterwards, whole] = reports as [MrvReport, MrvReport, MrvReport, MrvReport];
    assert.equal(mwh(before.energy.creditedKwh) + mwh(restart.energy.creditedKwh) + mwh(afterwards.energy.creditedKwh), mwh(whole.energy.creditedKwh), 'the periods add up across the restore');
    assert.deepEqual(whole.epochs.map((e) => e.epoch), [1, 2]);
    assert.equal(whole.epochs[1]!.restart!.reason, 'journal_behind_sink');
    // what the restored device journaled offline travelled in epoch 2; none of it was held by the sink
    assert.equal(whole.epochs[1]!.restart!.rejournaled, 1 + 70 * 2);
    assert.deepEqual(whole.meters[0]!.carriedReadings, []);
    assert.deepEqual(whole.meters[0]!.outOfOrderReadings, []);
    assert.deepEqual(restart.energy.gaps.map((g) => [g.from, g.to, g.bridged]), [[at(600), at(631), true]], 'the 30 s off: one gap across the two chains, bridged');
    // every poll of the plan counted once: 750 - 10 polls in the whole period, but for the 30 missed
    assert.equal(whole.meters[0]!.completeness.present, 740 - 30);

    const cited = afterwards.meters[0]!.readings.first!;
    assert.equal(cited.epochExport, 2);
    const p = await getJson(`${sink.url}/v1/proofs/dev-m/${cited.seqExport}?epoch=2`);
    assert.equal(p.status, 200);
    assert.equal(verifyRecordProof(p.body as unknown as RecordProof, { deviceKey: key.public }).ok, true);
    const record = (p.body as unknown as RecordProof).record as ReadingRecord;
    assert.deepEqual([record.metric, record.ts, record.value], [PLAN.export.metric, cited.ts, cited.exportKwh]);
  });
});

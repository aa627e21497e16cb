// The MRV report across a recovery epoch, on a meter whose truth is known: the ION7550 simulator
// over Modbus TCP (36 kW out, 3.6 kW in: 9 mWh per millisecond), read by the driver's code and
// journaled. The device is off for 30 s and comes back as epoch 2 (its journal restored): a signed
// restart record joining the sink's last batch, the old chain's last 20 polls carried again under
// new seqs (one of them with another value), a gap record carried, a few readings stamped back in
// the old chain's time, the plan carried and declared again, then on. The
// same readings sent as one plain chain to a second sink are the reference: the report over any
// period must be the same, whichever chain carried the readings, and a cited epoch-2 reading's
// proof must verify. LevelDB, and PostgreSQL when FIELDPROOF_TEST_PG is set.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { headerHash, signBatch, signHeader, type Batch, type BatchHeader } from '../../protocol/batch.ts';
import { verifyRecordProof, type RecordProof } from '../../protocol/proof.ts';
import { gapRecord, readingRecord, type JournalRecord, type ReadingRecord } from '../../protocol/records.ts';
import { restartRecord } from '../../protocol/restart.ts';
import { generateKey } from '../../protocol/signature.ts';
import { dropPgSchema, getJson, postJson, tempDir } from '../../test/support/sink.ts';
import { VirtualMeterSite } from '../../test/support/virtual-meter-site.ts';
import { sinkConfig, type SinkConfigInput } from '../config.ts';
import { Sink } from '../sink.ts';
import type { MrvReport } from './report.ts';

const T0 = Date.UTC(2026, 2, 1, 12);
const at = (poll: number) => T0 + poll * 1000;
const POLLS = 1200;
/** polls the device missed while its journal was restored */
const OFF = { from: 601, to: 630 };
const CARRIED_POLLS = 20;
const TRUTH_MWH_PER_MS = 9;
const RESOLUTION_MWH = 4 * 1000;
const ADMIN = 'mrv-epochs-admin-token-0123';
const key = generateKey();
const PLAN = { export: 'energy_delivered_kwh', import: 'energy_received_kwh', power: 'power_kw', serial: 'ION-A-1', accuracyClass: '0.2S', calibratedAt: '2025-01-01', calibrationDue: '2027-01-01', ratedKw: 50 };

const mwhOf = (kwh: number) => Math.round(kwh * 1e6);
const truth = (from: number, to: number) => TRUTH_MWH_PER_MS * (to - from);

/** Every record the site journaled, in order, in one epoch (seqs 1..n). */
async function siteRecords(dir: string): Promise<JournalRecord[]> {
  const site = new VirtualMeterSite({ dir, device: 'site-a', key, t0: T0, exportKw: 36, importKw: 3.6, intervalMs: 1000, plan: PLAN, exportKwh: 1000, importKwh: 100 });
  await site.start();
  try {
    for (let i = 1; i <= POLLS; i++) {
      site.now = at(i);
      if (i >= OFF.from && i <= OFF.to) continue;
      if (i === OFF.to + 1) await site.declarePlan(); // the driver starts again
      await site.poll();
    }
    // a second meter on the site reports energy with no monitoring plan: tallied, credited nothing
    return (await site.batches()).flatMap((b) => b.records).flatMap((r) => r.kind === 'reading' && r.metric === PLAN.export
      ? [r, readingRecord('site-a', r.seq, { sensor: 'aux-meter', metric: 'energy_kwh', ts: r.ts, value: r.ts / 1e6, unit: 'kWh' }, { score: 1, flags: [] })]
      : [r]);
  } finally {
    await site.stop();
  }
}

/** The site's clock is not synchronised (no uplink for NTP): every batch says so in its signed header. */
function chainOf(records: JournalRecord[], prev: string, epoch: number, per = 150): Batch[] {
  const out: Batch[] = [];
  for (let i = 0, b = 1; i < records.length; i += per, b++) {
    const slice = records.slice(i, i + per);
    const batch = signBatch('site-a', key, b, slice, prev, ((slice.at(-1) as { ts?: number }).ts ?? T0) + 1, epoch);
    const { sig: _sig, v: _v, key: _key, ...fields } = batch.header;
    batch.header = signHeader({ ...fields, clock: { synced: false, source: 'timesyncd' } }, key);
    prev = headerHash(batch.header);
    out.push(batch);
  }
  return out;
}

interface Scenario {
  reference: Batch[];
  epoch1: Batch[];
  epoch2: Batch[];
  carried: ReadingRecord[];
  /** readings stamped half a second after old ones: instants no chain holds, before epoch 1's last */
  stale: ReadingRecord[];
  rejournaled: number;
}

/**
 * Epoch 1 holds the polls up to the outage. Epoch 2 opens with the restart record, carries the
 * last polls of epoch 1 and its plan again (as a device restored from a copy that never learnt
 * they were sent would), one export reading among them with another value, then goes on.
 */
function scenario(journaled: JournalRecord[]): Scenario {
  // the device dropped a few readings under load once: its gap record is carried into epoch 2 too
  const loadAt = journaled.findIndex((r) => r.kind === 'reading' && r.ts >= at(300));
  const overload = gapRecord('site-a', 0, 5, at(299) + 100, at(299) + 600, 'overload');
  const records = [...journaled.slice(0, loadAt), overload, ...journaled.slice(loadAt)].map((r, i) => ({ ...r, seq: i + 1 }) as JournalRecord);
  // the plan the driver declared when it started again belongs to epoch 2 too
  const cut = records.findIndex((r) => (r.kind === 'reading' || r.kind === 'plan') && r.ts >= at(OFF.from));
  const old = records.slice(0, cut);
  const epoch1 = chainOf(old, '0'.repeat(64), 1);
  const join = epoch1.at(-1)!.header;
  const tail = old.filter((r): r is ReadingRecord => r.kind === 'reading' && r.ts > at(OFF.from - 1 - CARRIED_POLLS));
  const changed = tail.filter((r) => r.metric === PLAN.export)[2]!;
  const carried = tail.map((r) => (r === changed ? { ...r, value: r.value! + 0.5 } : r));
  const plan = old.find((r) => r.kind === 'plan')!;
  const gap = old.find((r) => r.kind === 'gap')!;
  const stale = old.filter((r): r is ReadingRecord => r.kind === 'reading' && r.ts >= at(560) && r.ts <= at(562)).map((r) => ({ ...r, ts: r.ts + 500 }));
  const again = [plan, gap, ...carried, ...stale, ...records.slice(cut)];
  const renumbered = again.map((r, i) => ({ ...r, seq: i + 2 }) as JournalRecord);
  const restart = restartRecord('site-a', 2, 'journal_behind_sink', { epoch: 1, batch: join.batch, hash: headerHash(join) }, again.length - (records.length - cut), at(OFF.to));
  return { reference: chainOf(records, '0'.repeat(64), 1), epoch1, epoch2: chainOf([restart, ...renumbered], headerHash(join), 2), carried, stale, rejournaled: restart.rejournaled };
}

function suite(name: string, store: () => SinkConfigInput['store'] | null, cleanup: () => Promise<void> = async () => {}) {
  describe(`MRV report across recovery epochs on the ${name} store`, { skip: store() === null ? 'FIELDPROOF_TEST_PG is not set: no PostgreSQL to test against' : false }, () => {
    const tmp = tempDir();
    let sink: Sink;
    let reference: Sink;
    let s: Scenario;
    const start = async (dir: string, withStore: boolean) => {
      const x = new Sink(sinkConfig({
        listen: '127.0.0.1:0', dataDir: `${tmp.dir}/${dir}`, devices: [{ id: 'site-a', key: key.public }], adminToken: ADMIN,
        ...(withStore && store() ? { store: store()! } : {}), report: { indexIntervalMs: 0 },
      }));
      await x.start();
      return x;
    };
    const report = async (at: Sink, from: number, to: number, format = 'json') => {
      const r = await getJson(`${at.url}/v1/reports/site-a?from=${from}&to=${to}${format === 'json' ? '' : `&format=${format}`}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body as unknown as MrvReport & { text?: string };
    };
    const post = async (at: Sink, batches: Batch[]) => {
      for (const b of batches) assert.equal((await postJson(at.url, b)).body.status, 'stored');
    };

    before(async () => {
      s = scenario(await siteRecords(`${tmp.dir}/device`));
      sink = await start('sink', true);
      reference = await start('reference', false);
      await post(reference, s.reference);
      await post(sink, s.epoch1);
    });
    after(async () => {
      await sink?.stop();
      await reference?.stop();
      await cleanup();
      tmp.cleanup();
    });

    it('while epoch 2 waits for the admin, the report leaves it out, names it and is provisional', async () => {
      const refused = await postJson(sink.url, s.epoch2[0]!);
      assert.equal(refused.body.code, 'restart_pending');
      const r = await report(sink, at(500), at(900));
      assert.deepEqual(r.pendingEpochs.map((p) => p.epoch), [2]);
      assert.deepEqual(r.epochs.map((e) => e.epoch), [1]);
      assert.equal(r.provisional, true);
      assert.ok(r.warnings.some((w) => /recovery epoch 2 .* waits for an admin's acceptance/.test(w)), r.warnings.join('\n'));
      assert.ok(mwhOf(r.energy.creditedKwh) <= truth(at(500), at(OFF.from - 1)) + RESOLUTION_MWH, 'nothing past the last reading of epoch 1');
      const before = await report(sink, at(100), at(500));
      assert.equal(before.provisional, false, 'a period before the join is not touched by the pending epoch');

      const accepted = await fetch(`${sink.url}/v1/devices/site-a/restarts/2/accept`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
      assert.equal(accepted.status, 200, await accepted.text());
      await post(sink, s.epoch2);
    });

    it('before, across and after the restart, the report is the one plain chain would give, and the truth', async () => {
      const periods = { before: [at(100), at(500) + 300], across: [at(100), at(1100) + 700], after: [at(700), at(1100) + 700], restart: [at(590) + 250, at(640) + 1] } as const;
      for (const [name, [from, to]] of Object.entries(periods)) {
        const r = await report(sink, from, to);
        const ref = await report(reference, from, to);
        for (const f of ['exportedKwh', 'importedKwh', 'netKwh', 'creditedKwh'] as const) assert.equal(r.energy[f], ref.energy[f], `${name}: ${f}`);
        assert.deepEqual(r.completeness, ref.completeness, `${name}: completeness`);
        assert.deepEqual(r.energy.gaps, ref.energy.gaps, `${name}: gaps`);
        assert.deepEqual(r.energy.events, [], `${name}: no meter event: the register did not reset with the journal`);
        assert.ok(Math.abs(mwhOf(r.energy.creditedKwh) - truth(from, to)) <= RESOLUTION_MWH, `${name}: credited ${r.energy.creditedKwh} kWh, truth ${truth(from, to) / 1e6}`);
        assert.equal(r.provisional, false, name);
      }
      const across = await report(sink, ...periods.across);
      assert.deepEqual(across.epochs.map((e) => e.epoch), [1, 2]);
      assert.deepEqual(across.pendingEpochs, []);
      assert.equal(across.epochs[1]!.restart!.reason, 'journal_behind_sink');
      assert.equal(across.epochs[1]!.restart!.rejournaled, s.rejournaled);
      assert.equal(s.rejournaled, 2 + s.carried.length + s.stale.length);
      assert.equal(across.dataLoss.droppedOnDevice, 5, 'the carried gap record counts its loss once');
      assert.deepEqual(across.dataLoss, (await report(reference, ...periods.across)).dataLoss);
      const unplanned = (await report(reference, ...periods.across)).unplannedMeters;
      assert.ok(unplanned.length === 1 && unplanned[0]!.readings > 1000, JSON.stringify(unplanned));
      assert.deepEqual(across.unplannedMeters, unplanned, 'an energy sensor without a plan: its carried readings are tallied once');
      const { time } = await report(reference, ...periods.across);
      assert.ok(time.unsyncedReadings > 3000);
      assert.equal(across.time.unsyncedReadings, time.unsyncedReadings + s.stale.length, 'readings of unsynced batches: carried copies counted once, the readings stamped back counted');
      // the 30 s the device was off: one gap, bridged by the registers, across the two chains
      const gap = across.energy.gaps.find((g) => g.from === at(OFF.from - 1))!;
      assert.ok(gap.bridged && gap.to === at(OFF.to + 1), JSON.stringify(across.energy.gaps));
      const m = across.meters[0]!;
      assert.equal(m.readings.first!.epochExport, 1);
      assert.equal(m.readings.last!.epochExport, 2);
      assert.equal(m.plans.length, 2, 'the plan declared again at the restart; its carried copy is the first one');
      assert.deepEqual(m.plans.map((p) => p.epoch), [1, 2]);
      assert.equal(mwhOf(across.energy.creditedKwh), mwhOf((await report(sink, ...periods.before)).energy.creditedKwh)
        + mwhOf((await report(sink, at(500) + 300, at(700))).energy.creditedKwh) + mwhOf((await report(sink, ...periods.after)).energy.creditedKwh), 'consecutive periods add up across the restart');
    });

    it('readings carried into epoch 2 are counted once, and the report says epoch 1\'s copies were used', async () => {
      const r = await report(sink, at(550), at(650));
      const carried = r.meters[0]!.carriedReadings;
      const perMetric = Object.fromEntries(carried.map((c) => [c.metric, c]));
      for (const metric of [PLAN.export, PLAN.import, PLAN.power]) {
        const c = perMetric[metric]!;
        assert.ok(c, `${metric} in ${JSON.stringify(carried)}`);
        assert.deepEqual([c.epoch, c.keptEpoch], [2, 1]);
        assert.equal(c.duplicates + c.conflicts, CARRIED_POLLS);
        assert.equal(c.conflicts, metric === PLAN.export ? 1 : 0);
        assert.deepEqual([c.from, c.to], [at(OFF.from - CARRIED_POLLS), at(OFF.from - 1)]);
      }
      assert.ok(r.warnings.some((w) => /recovery epoch 2 carried 19 reading\(s\) epoch 1 holds already: counted once/.test(w)), r.warnings.join('\n'));
      const stale = r.meters[0]!.outOfOrderReadings;
      assert.deepEqual(stale.map((o) => [o.metric, o.epoch, o.count, o.from, o.to]).sort(),
        [PLAN.import, PLAN.export, PLAN.power].sort().map((metric) => [metric, 2, 3, at(560) + 500, at(562) + 500]), 'readings stamped before the register\'s last are left out, and said to be');
      assert.ok(r.warnings.some((w) => /recovery epoch 2 holds 3 reading\(s\) stamped .* before the register's last reading/.test(w)));
      const csv = (await report(sink, at(550), at(650), 'csv')).text!.split('\n');
      assert.ok(csv.some((l) => l.startsWith('carried,duplicates,meter-1,') && l.includes('epoch 2 copies of epoch 1 readings')), 'CSV carried rows');
      assert.ok(csv.some((l) => /^reading,last,meter-1,.*seq \d+\/\d+; epoch 2\/2$/.test(l)), 'CSV cites the epoch with the seq');
      assert.ok(csv.some((l) => l.startsWith('epoch,used,,') && l.includes('journal_behind_sink')));
      const html = (await report(sink, at(550), at(650), 'html')).text!;
      assert.match(html, /Epoch \(export \/ import\)/);
      assert.match(html, /\?epoch=EPOCH/);
      assert.doesNotMatch(html, /<script|src=|href=/i);
    });

    it('indexed in one pass, both epochs at once, the index tells the carried copies apart the same way', async () => {
      const late = await start('late', false);
      try {
        await post(late, s.epoch1);
        assert.equal((await postJson(late.url, s.epoch2[0]!)).body.code, 'restart_pending');
        const accepted = await fetch(`${late.url}/v1/devices/site-a/restarts/2/accept`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
        assert.equal(accepted.status, 200);
        await post(late, s.epoch2);
        const [a, b] = [await report(late, at(100), at(1150)), await report(sink, at(100), at(1150))];
        assert.deepEqual(a.meters[0]!.carriedReadings, b.meters[0]!.carriedReadings);
        assert.deepEqual(a.meters[0]!.outOfOrderReadings, b.meters[0]!.outOfOrderReadings);
        assert.deepEqual(a.energy, b.energy);
        assert.deepEqual(a.meters[0]!.readings, b.meters[0]!.readings);
      } finally {
        await late.stop();
      }
    });

    it('an epoch-2 reading the report cites has a proof that verifies, for that reading', async () => {
      const r = await report(sink, at(700), at(1100) + 700);
      const first = r.meters[0]!.readings.first!;
      assert.equal(first.epochExport, 2);
      const p = await getJson(`${sink.url}/v1/proofs/site-a/${first.seqExport}?epoch=${first.epochExport}`);
      assert.equal(p.status, 200, JSON.stringify(p.body));
      const proof = p.body as unknown as RecordProof;
      assert.equal(verifyRecordProof(proof, { deviceKey: key.public }).ok, true);
      assert.equal((proof.header as BatchHeader).epoch, 2);
      const rec = proof.record as ReadingRecord;
      assert.deepEqual([rec.metric, rec.ts, rec.value], [PLAN.export, first.ts, first.exportKwh]);
      const wrong = await getJson(`${sink.url}/v1/proofs/site-a/${first.seqExport}`);
      assert.notDeepEqual((wrong.body as { record?: { ts?: number } }).record?.ts, first.ts, 'the same seq in epoch 1 is another record: the epoch is needed');
    });
  });
}

suite('LevelDB', () => undefined);

const PG = process.env.FIELDPROOF_TEST_PG;
const schema = `fp_mrv_ep_${process.pid}_${Date.now().toString(36)}`;
suite('PostgreSQL', () => (PG ? { kind: 'postgres', url: PG, schema, poolSize: 4 } : null), async () => {
  if (PG) await dropPgSchema(PG, schema);
});

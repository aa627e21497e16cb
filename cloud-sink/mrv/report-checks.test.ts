// The report against data a verifier makes up: signed batches built record by record (plans and
// register readings at chosen instants and values), sent to a real sink (LevelDB, and PostgreSQL
// when FIELDPROOF_TEST_PG is set), and each figure compared with what the registers give by hand
// (linear between readings, shared into the period by time). Cases the simulated site does not
// make: two meters on one device, a period edge between two readings, a bridged outage of hours
// with a period inside it, a reading repeated and one stamped back within one chain, a plan
// declared again at each restart, mixed register units (Wh, float32 MWh), a signed register that
// wraps to negative values, a calibration lapsing mid-period, three recovery epochs (one restored from
// an older copy, one on a replaced meter), and the CSV against the JSON for the same period.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { signBatch, headerHash, type Batch, type BatchHeader } from '../../protocol/batch.ts';
import { ZERO_HASH } from '../../protocol/hash.ts';
import { planRecord, type CounterSpec, type PlanInput } from '../../protocol/plan.ts';
import { readingRecord, type JournalRecord } from '../../protocol/records.ts';
import { restartRecord, type RestartReason } from '../../protocol/restart.ts';
import { generateKey } from '../../protocol/signature.ts';
import { sinkConfig, type SinkConfigInput } from '../config.ts';
import { Sink } from '../sink.ts';
import { dropPgSchema, getJson, postJson, tempDir } from '../../test/support/sink.ts';
import type { MrvReport } from './report.ts';

const key = generateKey();
const ADMIN = 'mrv-checks-admin-token-0123';
const T0 = Date.UTC(2026, 2, 1);
const MIN = 60_000;
const kwhRegister = (metric: string, o: Partial<CounterSpec> = {}): CounterSpec => ({ metric, type: 'uint32', bits: 32, signed: false, scale: 0.001, unit: 'kWh', ...o });

function plan(sensor: string, ts: number, o: Partial<PlanInput> = {}): PlanInput {
  return {
    kind: 'plan', sensor, ts, export: kwhRegister('exp'), import: kwhRegister('imp'), serial: `SN-${sensor}`, accuracyClass: '0.5S',
    calibratedAt: '2025-01-01', calibrationDue: '2030-01-01', ratedKw: 100, intervalMs: MIN, readWindowMs: 1000, ...o,
  };
}

type Item = PlanInput | { sensor: string; metric: string; ts: number; value: number; unit?: string };
/** a recovery epoch's opening: it continues from `from` (an earlier epoch's batch) */
interface Opening { epoch: number; reason: RestartReason; from: BatchHeader; rejournaled: number; ts: number }

/** The device's chain: every item a record, in this order, `perBatch` to a batch; a later epoch opens with its restart record. */
function chain(device: string, items: Item[], perBatch = 37, opening?: Opening): Batch[] {
  const first = opening ? 2 : 1;
  const records: JournalRecord[] = items.map((it, i) => ('kind' in it
    ? planRecord(device, i + first, it)
    : readingRecord(device, i + first, { sensor: it.sensor, metric: it.metric, ts: it.ts, value: it.value, unit: it.unit ?? 'kWh' }, { score: 1, flags: [] })));
  if (opening) records.unshift(restartRecord(device, opening.epoch, opening.reason, { epoch: opening.from.epoch ?? 1, batch: opening.from.batch, hash: headerHash(opening.from) }, opening.rejournaled, opening.ts));
  const out: Batch[] = [];
  let prev = opening ? headerHash(opening.from) : ZERO_HASH;
  for (let i = 0; i < records.length; i += perBatch) {
    out.push(signBatch(device, key, out.length + 1, records.slice(i, i + perBatch), prev, T0 + out.length, opening?.epoch ?? 1));
    prev = headerHash(out.at(-1)!.header);
  }
  return out;
}

const poll = (sensor: string, ts: number, exp: number, imp: number, units: [string, string] = ['kWh', 'kWh']): Item[] =>
  [{ sensor, metric: 'exp', ts, value: exp, unit: units[0] }, { sensor, metric: 'imp', ts, value: imp, unit: units[1] }];
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * Two meters on one device, polled each minute for 320 minutes but for an outage from minute 151
 * to 299 (the plan's 100 kW bounds it): m1 exports 30 kW and imports 3 kW, m2 exports 12 kW from
 * near the top of its register and imports nothing. Poll 10 comes again after poll 30, and poll 20
 * with other values after poll 40, both stamped back: each left out.
 */
function twoMeters(): Item[] {
  const items: Item[] = [plan('m1', T0 - 1000), plan('m2', T0 - 1000)];
  for (let i = 0; i <= 320; i++) {
    if (i > 150 && i < 300) continue;
    const ts = T0 + i * MIN;
    items.push(...poll('m1', ts, r3(1000 + 0.5 * i), r3(50 + 0.05 * i)), ...poll('m2', ts, r3(4_294_000 + 0.2 * i), 0));
    if (i === 30) items.push(...poll('m1', T0 + 10 * MIN, r3(1000 + 0.5 * 10), r3(50 + 0.05 * 10)));
    if (i === 40) items.push(...poll('m1', T0 + 20 * MIN, 5, 5));
  }
  return items;
}
/** by hand: both meters together, per minute inside [T0, T0 + 320 min) */
const twoMetersKwh = (from: number, to: number) => {
  const mins = Math.max(0, Math.min(to, T0 + 320 * MIN) - Math.max(from, T0)) / MIN;
  return { exported: 0.7 * mins, imported: 0.05 * mins };
};

/**
 * Export in Wh (uint32, scale 1), import in MWh (float32): 0.42 kW out, 0.12 kW in. A signed
 * register (m3) that wraps to negative values at minute 8, its plan declared again every 20
 * minutes as a restarting driver does, and poll 50 journaled twice.
 */
function mixedUnits(): Item[] {
  const items: Item[] = [
    plan('m1', T0 - 1000, { export: { metric: 'exp', type: 'uint32', bits: 32, signed: false, scale: 1, unit: 'Wh' }, import: { metric: 'imp', type: 'float32', bits: 32, signed: true, scale: 1, unit: 'MWh' }, ratedKw: 5 }),
  ];
  const signed = { export: kwhRegister('exp', { type: 'int32', signed: true }) };
  const wrap = 2 ** 31 * 0.001;
  for (let i = 0; i <= 100; i++) {
    const ts = T0 + i * MIN;
    if (i % 20 === 0) items.push(plan('m3', ts - 300, signed));
    let e = 2_147_480 + 0.5 * i;
    if (e >= wrap) e -= 2 * wrap;
    items.push(...poll('m1', ts, 123 + 7 * i, Math.fround(2.5 + 0.000002 * i), ['Wh', 'MWh']), ...poll('m3', ts, r3(e), r3(1 + 0.05 * i)));
    if (i === 50) items.push(...poll('m3', ts, r3(e), r3(1 + 0.05 * i)));
  }
  return items;
}

/**
 * A meter whose calibration lapses mid-period (due 2026-03-01: overdue from 03-02 00:00 UTC, minute
 * 60) and is recalibrated at minute 90 (a new plan, the same meter): 30 kW out, 3 kW in.
 */
const T1 = Date.UTC(2026, 2, 1, 23);
function lapsedCalibration(): Item[] {
  const items: Item[] = [plan('m1', T1 - 1000, { calibrationDue: '2026-03-01', accuracyClass: '0.2S' })];
  for (let i = 0; i <= 150; i++) {
    const ts = T1 + i * MIN;
    if (i === 90) items.push(plan('m1', ts - 500, { calibratedAt: '2026-03-02', calibrationDue: '2027-03-01', accuracyClass: '0.2S' }));
    items.push(...poll('m1', ts, r3(100 + 0.5 * i), r3(5 + 0.05 * i)));
  }
  return items;
}

/**
 * Three chains of one meter (30 kW out, 3 kW in, polled each minute): epoch 1 to minute 100; epoch
 * 2, restored from an older copy, joins epoch 1's third batch, carries minutes 40 to 100 again and
 * goes on from minute 120 (off for 20 minutes); epoch 3, its journal lost, starts at minute 211 on
 * a new meter fitted while the device was off.
 */
function threeEpochs(device: string): Batch[][] {
  const e = (i: number) => r3(100 + 0.5 * i);
  const im = (i: number) => r3(5 + 0.05 * i);
  const polls = (from: number, to: number, exp = e, imp = im) => Array.from({ length: to - from + 1 }, (_, k) => poll('m1', T0 + (from + k) * MIN, exp(from + k), imp(from + k))).flat();
  const one = chain(device, [plan('m1', T0 - 1000), ...polls(0, 100)], 30);
  const again = [plan('m1', T0 + 119 * MIN), ...polls(40, 100), ...polls(120, 200)];
  const two = chain(device, again, 30, { epoch: 2, reason: 'journal_behind_sink', from: one[2]!.header, rejournaled: 123, ts: T0 + 119 * MIN });
  const three = chain(device, [plan('m1', T0 + 210 * MIN, { serial: 'SN-m1-new' }), ...polls(211, 260, (i) => r3(10 + 0.5 * (i - 211)), (i) => r3(1 + 0.05 * (i - 211)))], 30,
    { epoch: 3, reason: 'journal_lost', from: two.at(-1)!.header, rejournaled: 0, ts: T0 + 210 * MIN });
  return [one, two, three];
}

/**
 * 30 kW out, 3 kW in; minutes 10 to 12 come with the export in Wh (15 000 Wh, not 15 000 kWh)
 * under a plan whose export register is in kWh: at odds with the plan, so not good polls.
 */
function unitAtOdds(): Item[] {
  const items: Item[] = [plan('m1', T0 - 1000)];
  for (let i = 0; i <= 21; i++) {
    const wh = i >= 10 && i < 13;
    items.push({ sensor: 'm1', metric: 'exp', ts: T0 + i * MIN, value: wh ? (10 + 0.5 * i) * 1000 : r3(10 + 0.5 * i), unit: wh ? 'Wh' : 'kWh' });
    items.push({ sensor: 'm1', metric: 'imp', ts: T0 + i * MIN, value: r3(1 + 0.05 * i) });
  }
  return items;
}

/**
 * One meter (serial ION-1) read under two sensors at once for 20 minutes, then renamed: a third
 * sensor reads it from minute 21 to 40, when the other two have stopped. 30 kW out, 3 kW in.
 */
function oneMeterTwice(): Item[] {
  const items: Item[] = ['m1', 'm1-again', 'm1-renamed'].map((sensor) => plan(sensor, T0 - 1000, { serial: 'ION-1' }));
  for (let i = 0; i <= 40; i++) {
    for (const sensor of i <= 20 ? ['m1', 'm1-again'] : ['m1-renamed']) items.push(...poll(sensor, T0 + i * MIN, r3(10 + 0.5 * i), r3(1 + 0.05 * i)));
  }
  return items;
}

/** Without a rated power, minute 10's export reads 9e9 kWh: more than its uint32 register (x 0.001 kWh) can show. */
function beyondRange(): Item[] {
  const { ratedKw: _unrated, ...unrated } = plan('m1', T0 - 1000);
  const items: Item[] = [unrated];
  for (let i = 0; i <= 20; i++) items.push(...poll('m1', T0 + i * MIN, i === 10 ? 9e9 : r3(10 + 0.5 * i), r3(1 + 0.05 * i)));
  return items;
}

function suite(name: string, store: () => SinkConfigInput['store'] | null, cleanup: () => Promise<void> = async () => {}) {
  describe(`MRV report against hand-computed figures, ${name} store`, { skip: store() === null ? 'FIELDPROOF_TEST_PG is not set: no PostgreSQL to test against' : false }, () => {
    const tmp = tempDir();
    let sink: Sink;
    const report = async (device: string, from: number, to: number, format = 'json') => {
      const r = await getJson(`${sink.url}/v1/reports/${device}?from=${from}&to=${to}${format === 'json' ? '' : `&format=${format}`}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body as unknown as MrvReport & { text?: string };
    };

    before(async () => {
      sink = new Sink(sinkConfig({
        listen: '127.0.0.1:0', dataDir: `${tmp.dir}/sink`, adminToken: ADMIN, ...(store() ? { store: store()! } : {}), report: { indexIntervalMs: 0 },
        devices: ['two-meters', 'mixed-units', 'hostile-serial', 'lapsed', 'epochs', 'unit-at-odds', 'one-meter-twice', 'beyond-range'].map((id) => ({ id, key: key.public })),
      }));
      await sink.start();
      const hostile: Item[] = [plan('m1', T0 - 1000, { serial: "-2+3+cmd|' /C calc'!A0" }), plan('m2', T0 - 1000, { serial: '\t=1+1' })];
      for (let i = 0; i <= 5; i++) hostile.push(...poll('m1', T0 + i * MIN, 1 + i, 1), ...poll('m2', T0 + i * MIN, 1 + i, 1));
      for (const [device, items] of [['two-meters', twoMeters()], ['mixed-units', mixedUnits()], ['hostile-serial', hostile], ['lapsed', lapsedCalibration()], ['unit-at-odds', unitAtOdds()], ['one-meter-twice', oneMeterTwice()], ['beyond-range', beyondRange()]] as const) {
        for (const b of chain(device, items)) assert.equal((await postJson(sink.url, b)).body.status, 'stored');
      }
    });
    after(async () => {
      await sink?.stop();
      await cleanup();
      tmp.cleanup();
    });

    it('two meters: edges between readings, a period inside a bridged outage, readings stamped back left out', async () => {
      const cases: [number, number][] = [[T0 + 10.5 * MIN, T0 + 100.25 * MIN], [T0 + 200 * MIN, T0 + 210 * MIN], [T0 + 149.5 * MIN, T0 + 300.5 * MIN], [T0, T0 + 320 * MIN]];
      for (const [from, to] of cases) {
        const { energy } = await report('two-meters', from, to);
        const hand = twoMetersKwh(from, to);
        assert.deepEqual([energy.exportedKwh, energy.importedKwh, energy.netKwh, energy.creditedKwh].map(r3), [hand.exported, hand.imported, hand.exported - hand.imported, hand.exported - hand.imported].map(r3), `[${from}, ${to})`);
        assert.equal(energy.events.length, 0);
      }
      const before = await report('two-meters', T0 - 100 * MIN, T0 - 10 * MIN);
      assert.equal(before.energy.creditedKwh, 0);
    });

    it('the CSV gives the JSON figures for the same period, per meter and in total', async () => {
      const [from, to] = [T0 + 10.5 * MIN, T0 + 100.25 * MIN];
      const json = await report('two-meters', from, to);
      const rows = (await report('two-meters', from, to, 'csv')).text!.trim().split('\n').map((l) => l.split(','));
      const csvValue = (name: string, sensor: string) => Number(rows.find((r) => r[0] === 'energy' && r[1] === name && r[2] === sensor)![5]);
      for (const m of json.meters) {
        for (const k of ['exported', 'imported', 'net', 'credited'] as const) assert.equal(csvValue(k, m.sensor), m.energy[`${k}Kwh`], `${m.sensor} ${k}`);
      }
      for (const k of ['exported', 'imported', 'net', 'credited'] as const) assert.equal(csvValue(k, 'all'), json.energy[`${k}Kwh`], `total ${k}`);
      assert.equal(json.meters.length, 2);
    });

    it('mixed register units and a signed register wrapping to negative values, its plan declared again at each restart', async () => {
      const rep = await report('mixed-units', T0, T0 + 100 * MIN);
      const [m1, m3] = [rep.meters.find((m) => m.sensor === 'm1')!, rep.meters.find((m) => m.sensor === 'm3')!];
      const importM1 = (Math.fround(2.5 + 0.000002 * 100) - Math.fround(2.5)) * 1000;
      assert.equal(m1.energy.exportedKwh, 0.7);
      // each step is taken to the nearest mWh: within a mWh a step of the float32 register's own difference
      assert.ok(Math.abs(m1.energy.importedKwh - importM1) <= 100 * 1e-6, `${m1.energy.importedKwh} vs ${importM1}`);
      // m3: 99 plain minutes credited (0.5 - 0.05 kWh each); across the wrap the export (0.5) is withheld, the import (0.05) charged
      assert.equal(r3(m3.energy.creditedKwh), r3(99 * 0.45 - 0.05));
      assert.deepEqual(rep.energy.events.map((e) => [e.sensor, e.kind, e.uncreditedKwh]), [['m3', 'negative_wrap', 0.5]]);
      assert.deepEqual(m3.completeness.present, 100);
    });

    it('a calibration that lapses mid-period and is renewed by a new plan: only the overdue steps reduced by the class error', async () => {
      const rep = await report('lapsed', T1 + 30 * MIN, T1 + 120.5 * MIN);
      // 60.5 minutes in date; minutes 60 to 90 overdue: export 0.2 % less, import 0.2 % more
      const hand = 60.5 * 0.45 + 30 * (0.5 * 0.998 - 0.05 * 1.002);
      assert.equal(r3(rep.energy.creditedKwh), r3(hand));
      assert.equal(r3(rep.energy.calibrationReductionKwh), r3(30 * 0.55 * 0.002));
      assert.deepEqual(rep.meters[0]!.calibration.map((c) => [c.overdueFrom, c.overdueHours]), [[Date.UTC(2026, 2, 2), 0.5]]);
    });

    it('three epochs, the second restored from an older copy, the third on a new meter: carried copies counted once, the swap charged', async () => {
      const [one, two, three] = threeEpochs('epochs');
      for (const b of one!) assert.equal((await postJson(sink.url, b)).body.status, 'stored');
      for (const [n, epoch] of [[2, two!], [3, three!]] as const) {
        assert.equal((await postJson(sink.url, epoch[0]!)).body.code, 'restart_pending');
        const accepted = await fetch(`${sink.url}/v1/devices/epochs/restarts/${n}/accept`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
        assert.equal(accepted.status, 200, await accepted.text());
        for (const b of epoch) assert.equal((await postJson(sink.url, b)).body.status, 'stored');
      }
      // the step across the swap (minutes 200 to 211) credits no export and charges the import at
      // the rated 100 kW, raised by the class error, over the step and the read window, in whole counts
      const swapCharge = Math.floor((100 * 1.005 * (11 * MIN + 1000)) / 3_600_000 / 0.001 + 1) / 1000;
      const whole = await report('epochs', T0, T0 + 260 * MIN);
      assert.equal(r3(whole.energy.creditedKwh), r3(200 * 0.45 + 49 * 0.45 - swapCharge));
      assert.deepEqual(whole.energy.events.map((ev) => [ev.kind, ev.importChargedKwh]), [['replacement', swapCharge]]);
      assert.deepEqual(whole.epochs.map((ep) => ep.epoch), [1, 2, 3]);
      assert.deepEqual(whole.meters[0]!.carriedReadings.map((c) => [c.metric, c.epoch, c.keptEpoch, c.duplicates, c.conflicts]), [['exp', 2, 1, 61, 0], ['imp', 2, 1, 61, 0]]);
      // across the first restart: the carried copies and the 20 minutes off bridged, as one chain would give
      assert.equal(r3((await report('epochs', T0 + 90 * MIN, T0 + 130 * MIN)).energy.creditedKwh), r3(40 * 0.45));
      assert.equal(r3((await report('epochs', T0 + 195 * MIN, T0 + 215 * MIN)).energy.creditedKwh), r3(9 * 0.45 - swapCharge));
    });

    it('a reading in another unit than its plan register names is not a good poll: the gap across it is bridged', async () => {
      const rep = await report('unit-at-odds', T0, T0 + 20 * MIN);
      assert.deepEqual(rep.energy.events, []);
      assert.equal(r3(rep.energy.creditedKwh), r3(20 * 0.45));
      assert.equal(rep.meters[0]!.completeness.present, 17);
    });

    it('a value beyond its register\'s range is not a good poll, not nine billion kWh', async () => {
      const rep = await report('beyond-range', T0, T0 + 20 * MIN);
      assert.deepEqual(rep.energy.events, []);
      // the two minutes around it are a gap no rated power bounds: their export (1 kWh) withheld, the import charged
      assert.equal(r3(rep.energy.creditedKwh), r3(20 * 0.45 - 1));
      assert.deepEqual(rep.energy.gaps.map((g) => [g.bridged, g.uncreditedKwh]), [[false, 1]]);
    });

    it('one meter read under two sensors at once counts once in the totals; read under a new name later, it counts again', async () => {
      const rep = await report('one-meter-twice', T0, T0 + 40 * MIN);
      // minutes 0-20 once (m1), 21-40 under the new name; the minute between the names is no sensor's step
      assert.equal(r3(rep.energy.creditedKwh), r3(20 * 0.45 + 19 * 0.45));
      assert.equal(r3(rep.energy.exportedKwh), r3(39 * 0.5));
      assert.deepEqual(rep.meters.map((m) => [m.sensor, m.sameMeterAs, m.energy.creditedKwh]), [['m1', null, 9], ['m1-again', 'm1', 9], ['m1-renamed', null, 8.55]]);
      assert.ok(rep.warnings.some((w) => /m1-again: reads the same meter \(serial ION-1\) as m1/.test(w)), rep.warnings.join('\n'));
      const csv = (await report('one-meter-twice', T0, T0 + 40 * MIN, 'csv')).text!;
      assert.match(csv, /^energy,credited,all,,,17\.55,kWh,/m);
      assert.match(csv, /^energy,same_meter_as,m1-again,,,m1,,/m);
      const html = (await report('one-meter-twice', T0, T0 + 40 * MIN, 'html')).text!;
      assert.match(html, /m1-again \(the meter of m1: not in the totals\)/);
    });

    it('CSV: a plan serial that a spreadsheet would run as a formula is quoted as text', async () => {
      const csv = (await report('hostile-serial', T0, T0 + 5 * MIN, 'csv')).text!;
      const values = csv.split('\n').filter((l) => l.startsWith('plan,meter,')).map((l) => l.split(',')[5]);
      assert.deepEqual(values, ["'-2+3+cmd|' /C calc'!A0", "'\t=1+1"]);
    });
  });
}

suite('LevelDB', () => undefined);

const PG = process.env.FIELDPROOF_TEST_PG;
const schema = `fp_mrv_checks_${process.pid}_${Date.now().toString(36)}`;
suite('PostgreSQL', () => (PG ? { kind: 'postgres', url: PG, schema, poolSize: 4 } : null), async () => {
  if (PG) await dropPgSchema(PG, schema);
});

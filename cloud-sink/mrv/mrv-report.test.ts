// The MRV report against a meter whose truth is known: the ION7550 simulator over Modbus TCP,
// exporting 36 kW and importing 3.6 kW on a clock the test drives, read by the driver's code,
// journaled and signed, sent to a real sink (LevelDB, and PostgreSQL when FIELDPROOF_TEST_PG is
// set), with resets, a jump, a wrap, a replacement, gaps, failed and flagged reads and an overdue
// calibration on the way. Truth: 36 - 3.6 = 32.4 kW, i.e. 9 mWh per millisecond, all along.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { generateKey } from '../../protocol/signature.ts';
import { prng } from '../../kernel/prng.ts';
import { VirtualMeterSite } from '../../test/support/virtual-meter-site.ts';
import { sinkConfig, type SinkConfigInput } from '../config.ts';
import { Sink } from '../sink.ts';
import { getJson, postColumnar, postJson, tempDir } from '../../test/support/sink.ts';
import { mrvReportSchema } from './config.ts';
import { RegisterIndex } from './index/register-index.ts';
import { signNote } from './notes.ts';
import { buildMrvReport, type MrvReport } from './report.ts';

const T0 = Date.UTC(2026, 0, 10, 23, 30); // calibration of meter B is overdue from 2026-01-11T00:00Z = T0 + 30 min
const POLLS = 3000;
const TRUTH_MWH_PER_MS = 9;
/** register resolution: 1 Wh a register, one count at each end of each of the two registers */
const RESOLUTION_MWH = 4 * 1000;

const key = generateKey();
const operator = generateKey();
const stranger = generateKey();
const PLAN_A = { export: 'energy_delivered_kwh', import: 'energy_received_kwh', power: 'power_kw', serial: 'ION-A-1', accuracyClass: '0.2S', calibratedAt: '2025-01-01', calibrationDue: '2027-01-01', ratedKw: 50 };
const PLAN_B = { ...PLAN_A, serial: 'ION-B-2', accuracyClass: '0.5S', calibratedAt: '2024-01-10', calibrationDue: '2026-01-10' };
const { ratedKw: _unrated, ...PLAN_C } = PLAN_B;

interface Timeline {
  batches: Awaited<ReturnType<VirtualMeterSite['batches']>>;
  ts: number[];
  end: number;
}

/** The site's life, poll by poll; ts[i] is poll i's time (jittered a little). */
async function runSite(dir: string): Promise<Timeline> {
  const site = new VirtualMeterSite({ dir, device: 'site-a', key, t0: T0, exportKw: 36, importKw: 3.6, intervalMs: 1000, plan: PLAN_A, exportKwh: 1000, importKwh: 100 });
  await site.start();
  const rng = prng(11);
  const ts: number[] = [];
  try {
    for (let i = 1; i <= POLLS; i++) {
      site.now = T0 + i * 1000 + Math.floor(rng() * 40);
      ts[i] = site.now;
      if (i === 300) {
        // the export register cleared half a second before the poll: it has counted 5 Wh since
        site.now -= 500;
        site.meter.setEnergyKwh(0);
        site.now = ts[i]!;
      }
      if (i === 600) site.meter.setEnergyKwh(2_147_483.648 - 0.035); // set near the top: a jump, then it wraps
      if (i >= 900 && i < 920) continue; // the device was off for 20 s
      if (i >= 1000 && i < 1005) {
        site.failedPoll('timeout');
        continue;
      }
      if (i === 1100) site.meter.glitch('import', -5); // one import read out of range
      if (i === 1400) {
        site.meter.replaceMeter(50, 2);
        await site.declarePlan(PLAN_B); // meter B, whose calibration falls due on 2026-01-10
      }
      if (i === 2000) site.meter.setImportKwh(0);
      if (i === 2500) await site.declarePlan(PLAN_C); // the same meter, the plan without a rated power
      if (i >= 2600 && i < 2620) continue; // off again: now nothing bounds the gap
      await site.poll();
    }
    return { batches: await site.batches(), ts, end: ts[POLLS]! };
  } finally {
    await site.stop();
  }
}

const mwhOf = (kwh: number) => Math.round(kwh * 1e6);
const truth = (from: number, to: number) => TRUTH_MWH_PER_MS * (to - from);

function suite(name: string, store: () => SinkConfigInput['store'] | null, cleanup: () => Promise<void> = async () => {}) {
  describe(`MRV report on the ${name} store`, { skip: store() === null ? 'FIELDPROOF_TEST_PG is not set: no PostgreSQL to test against' : false }, () => {
    const tmp = tempDir();
    let sink: Sink;
    let line: Timeline;
    const report = async (from: number, to: number, format = 'json') => {
      const r = await getJson(`${sink.url}/v1/reports/site-a?from=${from}&to=${to}${format === 'json' ? '' : `&format=${format}`}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body as unknown as MrvReport & { text?: string };
    };

    before(async () => {
      line = await runSite(`${tmp.dir}/device`);
      sink = new Sink(sinkConfig({
        listen: '127.0.0.1:0', dataDir: `${tmp.dir}/sink`, devices: [{ id: 'site-a', key: key.public }], adminToken: 'mrv-test-admin-token-0123',
        ...(store() ? { store: store()! } : {}),
        report: {
          indexIntervalMs: 0,
          project: { id: 'VCS 9999', name: 'Test PV', methodology: 'ACM0002', methodologyVersion: '22.0', creditingPeriod: { from: '2025-01-01', to: '2031-12-31' } },
          gridEmissionFactor: { tco2PerMwh: 0.6, method: 'combined margin', tool: 'TOOL07', toolVersion: '07.0', grid: 'Test grid', vintage: '2021-2023', source: 'PDD section B.6.3', operatingMarginWeight: 0.75, buildMarginWeight: 0.25 },
          projectEmissions: { tco2ePerMwh: 0, basis: 'PV: no fuel, no reservoir' },
          leakage: { tco2ePerMwh: 0, basis: 'no equipment transferred' },
          operators: [{ id: 'alice', key: operator.public }],
        },
      }));
      await sink.start();
      // half the batches as JSON, half columnar: the plan records travel raw in the columnar body
      for (const [i, b] of line.batches.entries()) {
        const r = i % 2 ? await postColumnar(sink.url, b as never) : await postJson(sink.url, b);
        assert.equal(r.body.status, 'stored', JSON.stringify(r.body));
      }
      const note = (eventTs: number, eventKind: 'reset' | 'jump', by: typeof operator, id: string) =>
        signNote({ device: 'site-a', sensor: 'meter-1', eventTs, eventKind, credit: true, text: `register work on site, logbook entry ${eventTs}`, operator: id, at: T0 + 4_000_000 }, by);
      for (const n of [note(line.ts[300]!, 'reset', operator, 'alice'), note(line.ts[600]!, 'jump', operator, 'alice'), note(line.ts[2000]!, 'reset', stranger, 'mallory')]) {
        const r = await fetch(`${sink.url}/v1/devices/site-a/notes`, { method: 'POST', headers: { authorization: 'Bearer mrv-test-admin-token-0123' }, body: JSON.stringify(n) });
        assert.equal(r.status, 201, await r.text());
      }
    });
    after(async () => {
      await sink?.stop();
      await cleanup();
      tmp.cleanup();
    });

    it('reports every meter event with what it leaves uncredited, credits what a listed operator explained, and never more than the truth', async () => {
      const from = T0;
      const to = line.end + 1;
      const r = await report(from, to);
      const kinds = r.energy.events.map((e) => `${e.register}:${e.kind}@${e.ts}`);
      for (const k of [`export:reset@${line.ts[300]}`, `export:jump@${line.ts[600]}`, `meter:replacement@${line.ts[1400]}`, `import:reset@${line.ts[2000]}`]) assert.ok(kinds.includes(k), `${k} in ${kinds.join(', ')}`);
      assert.ok(r.energy.events.some((e) => e.kind === 'negative_wrap' && e.ts > line.ts[600]! && e.ts < line.ts[610]!), 'the register wrapped past 2^31 Wh');
      for (const e of r.energy.events) assert.deepEqual(Object.keys(e).filter((k) => ['ts', 'sensor', 'kind', 'uncreditedKwh'].includes(k)).sort(), ['kind', 'sensor', 'ts', 'uncreditedKwh']);
      const reset = r.energy.events.find((e) => e.kind === 'reset' && e.register === 'export')!;
      assert.equal(reset.registerAfter, 0.005);
      assert.ok(reset.creditedByNoteKwh === 0.005 && reset.uncreditedKwh === 0, `the explained reset is credited what the register counted since: ${JSON.stringify(reset)}`);
      const jump = r.energy.events.find((e) => e.kind === 'jump')!;
      assert.ok(jump.uncreditedKwh > 0 && jump.creditedByNoteKwh === 0, 'a jump is never credited, note or not');
      const importReset = r.energy.events.find((e) => e.kind === 'reset' && e.register === 'import')!;
      assert.equal(importReset.notes[0]!.counts, false, 'a note by an operator the sink does not list does not count');
      const gaps = r.energy.gaps;
      assert.ok(gaps.some((g) => g.bridged && g.from === line.ts[899] && g.to === line.ts[920]), 'the 20 s outage is bridged by the registers');
      assert.ok(gaps.some((g) => g.bridged && g.from === line.ts[999] && g.to === line.ts[1005]), 'failed reads are bridged');
      const unbridged = gaps.find((g) => !g.bridged)!;
      assert.equal(unbridged.from, line.ts[2599]);
      assert.ok(Math.abs(unbridged.uncreditedKwh - (36 * (line.ts[2620]! - line.ts[2599]!)) / 3_600_000) < 0.003, `unbridged gap withholds its export: ${unbridged.uncreditedKwh}`);
      const m = r.meters[0]!;
      assert.equal(m.completeness.failedReads, 10, 'five failed polls of two registers');
      assert.deepEqual(m.completeness.flaggedReads, { out_of_range: 1 });
      assert.ok(m.completeness.present < m.completeness.expected && m.completeness.present > 2900, JSON.stringify(m.completeness));
      const overdue = m.calibration.find((c) => c.serial === 'ION-B-2')!;
      assert.ok(Math.abs(overdue.overdueHours - (line.end - Date.UTC(2026, 0, 11)) / 3_600_000) < 0.01, JSON.stringify(m.calibration));
      assert.ok(r.energy.calibrationReductionKwh > 0);
      assert.ok(mwhOf(r.energy.creditedKwh) <= truth(from, to) + RESOLUTION_MWH, `credited ${r.energy.creditedKwh} kWh, truth ${truth(from, to) / 1e6}`);
      assert.equal(mwhOf(m.energy.reconciliation.netKwh + m.energy.reconciliation.unbridgedGapExportKwh + m.energy.reconciliation.eventImportChargedKwh
        + m.energy.reconciliation.noteCreditedKwh + m.energy.reconciliation.calibrationReductionKwh), mwhOf(r.energy.creditedKwh), 'the reconciliation adds up');
      assert.equal(r.emissions.gridEmissionFactor!.tool, 'TOOL07');
      assert.ok(Math.abs(r.emissions.emissionReductionsTco2e! - (r.energy.creditedKwh / 1000) * 0.6) < 1e-6);
    });

    it('over a plain stretch, exported - imported is the truth to the register\'s resolution, and the power integral agrees', async () => {
      const from = line.ts[100]! + 500;
      const to = line.ts[116]! + 500;
      const r = await report(from, to);
      assert.ok(Math.abs(mwhOf(r.energy.netKwh) - truth(from, to)) <= RESOLUTION_MWH, `net ${r.energy.netKwh}, truth ${truth(from, to) / 1e6}`);
      assert.equal(r.energy.creditedKwh, r.energy.netKwh);
      assert.ok(Math.abs(r.meters[0]!.crossCheck!.powerIntegralKwh - r.energy.netKwh) < 0.001);
      assert.deepEqual(r.energy.events, []);
    });

    it('any split of a period sums to the whole, and no period is credited more than its truth (seeded random periods)', async () => {
      const rng = prng(2024);
      const span = line.end - T0;
      for (let k = 0; k < 30; k++) {
        const a = T0 - 2000 + Math.floor(rng() * (span + 4000));
        const b = T0 - 2000 + Math.floor(rng() * (span + 4000));
        const from = Math.min(a, b);
        const to = Math.max(a, b) + 1;
        const mid = from + 1 + Math.floor(rng() * (to - from - 1));
        // one at a time: the sink builds at most two reports at once and answers 429 beyond
        const whole = await report(from, to);
        const left = await report(from, mid);
        const right = await report(mid, to);
        for (const f of ['exportedKwh', 'importedKwh', 'netKwh', 'creditedKwh', 'calibrationReductionKwh'] as const) {
          assert.equal(mwhOf(left.energy[f]) + mwhOf(right.energy[f]), mwhOf(whole.energy[f]), `${f} over [${from}, ${mid}) + [${mid}, ${to})`);
        }
        assert.equal(left.completeness.expected + right.completeness.expected, whole.completeness.expected);
        assert.equal(left.completeness.present + right.completeness.present, whole.completeness.present);
        for (const p of [whole, left, right]) {
          const t = truth(Math.max(p.period.from, T0), Math.min(p.period.to, line.end));
          assert.ok(mwhOf(p.energy.creditedKwh) <= Math.max(0, t) + RESOLUTION_MWH, `credited ${p.energy.creditedKwh} over ${p.period.fromIso}..${p.period.toIso}, truth ${t / 1e6}`);
        }
      }
    });

    it('worked through in slices of a few minutes, a period gives the same report as in one piece', async () => {
      const from = T0 + 123_456;
      const to = line.end - 98_765;
      const mrv = sink.store.mrvStore();
      const config = mrvReportSchema.parse({ calibrationOverdue: 'reduce', operators: [{ id: 'alice', key: operator.public }] });
      const index = new RegisterIndex({ store: sink.store, mrv });
      const whole = await buildMrvReport({ store: sink.store, mrv, index, config }, 'site-a', from, to);
      const sliced = await buildMrvReport({ store: sink.store, mrv, index, config, tuning: { sliceMs: 7 * 60_000 + 13 } }, 'site-a', from, to);
      assert.deepEqual(sliced.energy, whole.energy);
      assert.deepEqual(sliced.completeness, whole.completeness);
      const strip = (m: (typeof whole.meters)[number]) => ({ ...m, crossCheck: null });
      assert.deepEqual(sliced.meters.map(strip), whole.meters.map(strip));
      assert.ok(Math.abs(sliced.meters[0]!.crossCheck!.powerIntegralKwh - whole.meters[0]!.crossCheck!.powerIntegralKwh) < 0.01);
    });

    it('the CSV names the period, the plan, the factor and the units; the HTML page is self-contained', async () => {
      const from = T0;
      const to = line.end + 1;
      const csv = (await report(from, to, 'csv')).text!;
      const rows = csv.trim().split('\n');
      assert.equal(rows[0], 'section,name,sensor,ts,time_utc,value,unit,detail');
      assert.ok(rows.some((l) => l.startsWith(`report,period_from,,${from},`)));
      assert.ok(rows.some((l) => l.startsWith('plan,meter,meter-1,') && l.includes('ION-B-2') && l.includes('class 0.5S')));
      assert.ok(rows.some((l) => l.startsWith('factor,grid_emission_factor,,,,0.6,t CO2/MWh,') && l.includes('TOOL07 version 07.0') && l.includes('vintage 2021-2023')));
      assert.ok(rows.some((l) => l.startsWith('energy,credited,all,,,') && l.includes(',kWh,')));
      assert.ok(rows.some((l) => l.startsWith('event,jump,meter-1,')));
      const html = (await report(from, to, 'html')).text!;
      assert.match(html, /^<!doctype html>/);
      assert.doesNotMatch(html, /<script|src=|href=/i);
      assert.match(html, /ION-B-2/);
      assert.match(html, /TOOL07 version 07\.0/);
      assert.match(html, /logbook entry/);
    });

    it('a device with no data, or a meter without a plan, is credited nothing and says why', async () => {
      const empty = await report(T0 - 10 * 86_400_000, T0 - 86_400_000);
      assert.equal(empty.energy.creditedKwh, 0);
      assert.equal(empty.completeness.ratio, 0);
      assert.ok(empty.warnings.some((w) => /no meter of this device has a monitoring plan in force/.test(w)));
    });
  });
}

suite('LevelDB', () => undefined);

const PG = process.env.FIELDPROOF_TEST_PG;
const schema = `fp_mrv_${process.pid}_${Date.now().toString(36)}`;
suite('PostgreSQL', () => (PG ? { kind: 'postgres', url: PG, schema, poolSize: 4 } : null), async () => {
  if (!PG) return;
  const c = new pg.Client({ connectionString: PG });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.end();
});

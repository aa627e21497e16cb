// Runs of clean chunks are credited from their summaries: that must give exactly what reading
// every reading gives, over periods that start and end anywhere, with events, flagged and failed
// reads, a gap and a plan change in between.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { headerHash, signBatch } from '../../../protocol/batch.ts';
import { canonicalize } from '../../../protocol/canonical.ts';
import { ZERO_HASH } from '../../../protocol/hash.ts';
import { planRecord, type PlanInput } from '../../../protocol/plan.ts';
import { readingRecord, type JournalRecord } from '../../../protocol/records.ts';
import { generateKey } from '../../../protocol/signature.ts';
import { prng } from '../../../kernel/prng.ts';
import { LevelSinkStore } from '../../store/level-store.ts';
import { tempDir } from '../../../test/support/sink.ts';
import { mrvReportSchema } from '../config.ts';
import { RegisterIndex } from '../index/register-index.ts';
import { buildMrvReport } from '../report.ts';

const T0 = Date.UTC(2026, 2, 1);
const POLLS = 60_000;
const REG = { type: 'int32', bits: 32, signed: true, scale: 0.001, unit: 'kWh' as const };
const META = { register: { bits: 32, scale: 0.001, signed: true, type: 'int32' } };
const plan = (ts: number, serial: string, calibrationDue = '2030-01-01'): PlanInput => ({
  kind: 'plan', sensor: 'm1', ts, serial, accuracyClass: '0.5S', calibratedAt: '2025-01-01', calibrationDue, ratedKw: 50, intervalMs: 1000, readWindowMs: 100,
  export: { metric: 'e', ...REG }, import: { metric: 'i', ...REG }, power: { metric: 'p', unit: 'kW' },
});

/** A meter at 36 kW out and 3.6 kW in, polled every second with jitter, and its troubles. */
function records(): JournalRecord[] {
  const rng = prng(3);
  const out: JournalRecord[] = [planRecord('d', 1, plan(T0, 'A'))];
  let seq = 2;
  let e = 1_000_000;
  let i = 20_000;
  for (let k = 1; k <= POLLS; k++) {
    const ts = T0 + k * 1000 + Math.floor(rng() * 60);
    e += 10;
    i += 1;
    if (k === 25_000) e = 7; // reset
    if (k === 41_000) out.push(planRecord('d', seq++, plan(ts - 1, 'A', '2026-02-28'))); // the same meter, its calibration overdue all along
    if (k >= 33_000 && k < 33_040) continue; // the device was off
    const flags = k === 30_000 ? ['spike'] : [];
    const failed = k === 50_000;
    out.push(readingRecord('d', seq++, { sensor: 'm1', metric: 'e', ts, value: e / 1000, unit: 'kWh', meta: META }, { score: 1, flags }));
    out.push(readingRecord('d', seq++, { sensor: 'm1', metric: 'i', ts, value: failed ? null : i / 1000, unit: 'kWh', meta: META }, { score: failed ? 0 : 1, flags: failed ? ['timeout'] : [] }));
    out.push(readingRecord('d', seq++, { sensor: 'm1', metric: 'p', ts, value: 32.4, unit: 'kW' }, { score: 1, flags: [] }));
  }
  return out;
}

describe('MRV report from chunk summaries', () => {
  const tmp = tempDir();
  const store = new LevelSinkStore(tmp.dir);
  const key = generateKey();
  let deps: Parameters<typeof buildMrvReport>[0];

  before(async () => {
    await store.open();
    const all = records();
    let prev = ZERO_HASH;
    for (let n = 0, b = 1; n < all.length; n += 1000, b++) {
      const batch = signBatch('d', key, b, all.slice(n, n + 1000), prev, T0);
      prev = headerHash(batch.header);
      const ts = batch.records.flatMap((r) => (r.kind === 'reading' ? [r.ts] : []));
      await store.commitBatch({ header: batch.header, hash: prev, text: batch.records.map((r) => canonicalize(r)).join('\n'), pruned: false, minTs: Math.min(...ts), maxTs: Math.max(...ts), receivedAt: T0 });
    }
    const mrv = store.mrvStore();
    deps = { store, mrv, index: new RegisterIndex({ store, mrv }), config: mrvReportSchema.parse({}) };
  });
  after(async () => {
    await store.close();
    tmp.cleanup();
  });

  it('gives what the readings give, over random periods', async () => {
    const rng = prng(77);
    const end = T0 + (POLLS + 1) * 1000;
    for (let k = 0; k < 12; k++) {
      const a = T0 + Math.floor(rng() * (end - T0));
      const b = T0 + Math.floor(rng() * (end - T0));
      const [from, to] = k === 0 ? [T0, end] : [Math.min(a, b), Math.max(a, b) + 1];
      const fast = await buildMrvReport(deps, 'd', from, to);
      const slow = await buildMrvReport({ ...deps, tuning: { summaries: false } }, 'd', from, to);
      assert.deepEqual(fast.energy, slow.energy, `[${from}, ${to})`);
      assert.deepEqual(fast.completeness, slow.completeness);
      const m = (r: typeof fast) => ({ ...r.meters[0]!, crossCheck: null });
      assert.deepEqual(m(fast), m(slow));
      assert.ok(Math.abs(fast.meters[0]!.crossCheck!.powerIntegralKwh - slow.meters[0]!.crossCheck!.powerIntegralKwh) < 1e-6);
      if (k === 0) {
        const kinds = fast.energy.events.map((e) => e.kind);
        assert.ok(kinds.includes('reset'), kinds.join());
        assert.ok(fast.energy.gaps.some((g) => g.bridged), JSON.stringify(fast.energy.gaps));
        assert.ok(fast.energy.calibrationReductionKwh > 0, JSON.stringify(fast.meters[0]!.calibration));
        assert.equal(fast.meters[0]!.completeness.flaggedReads.spike, 1);
        assert.equal(fast.meters[0]!.completeness.failedReads, 1);
      }
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalize } from './canonical.ts';
import { signBatch, checkBatch } from './batch.ts';
import { encodeColumnar } from './columnar/encoder.ts';
import { decodeColumnar } from './columnar/decoder.ts';
import { ZERO_HASH } from './hash.ts';
import { planProblem, planRecord, type PlanInput } from './plan.ts';
import { readingRecord, recordProblem, type JournalRecord } from './records.ts';
import { generateKey } from './signature.ts';

const REGISTER = { type: 'int32', bits: 32, signed: true, scale: 0.001, unit: 'kWh' as const };
const SAMPLE_PLAN: PlanInput = {
  kind: 'plan', sensor: 'meter-1', ts: 1_763_884_800_000, serial: 'ION-1', accuracyClass: '0.2S', calibratedAt: '2025-01-10', calibrationDue: '2027-01-10',
  ratedKw: 50, intervalMs: 1000, export: { metric: 'energy_delivered_kwh', ...REGISTER }, import: { metric: 'energy_received_kwh', ...REGISTER },
  power: { metric: 'power_kw', unit: 'kW' },
};

describe('monitoring plan record', () => {
  it('is a record of its own kind whose canonical bytes cover every field', () => {
    const rec = planRecord('site-a', 7, SAMPLE_PLAN);
    assert.equal(recordProblem(rec), null);
    assert.equal(planProblem(rec), null);
    const text = canonicalize(rec);
    assert.ok(text.startsWith('{"accuracyClass":"0.2S","calibratedAt":"2025-01-10","calibrationDue":"2027-01-10","device":"site-a","export":{"bits":32,'));
    assert.match(text, /"kind":"plan"/);
    assert.match(text, /"seq":7,"serial":"ION-1","ts":1763884800000,"v":1\}$/);
  });

  it('travels in a signed batch and through the columnar wire codec unchanged', () => {
    const key = generateKey();
    const records: JournalRecord[] = [
      planRecord('site-a', 1, SAMPLE_PLAN),
      readingRecord('site-a', 2, { sensor: 'meter-1', metric: 'energy_delivered_kwh', ts: SAMPLE_PLAN.ts + 1000, value: 12.5, unit: 'kWh', meta: { register: { bits: 32, scale: 0.001, signed: true, type: 'int32' } } }, { score: 1, flags: [] }),
    ];
    const batch = signBatch('site-a', key, 1, records, ZERO_HASH, SAMPLE_PLAN.ts + 2000);
    assert.equal(checkBatch(batch.header, batch.records).ok, true);
    const decoded = decodeColumnar(encodeColumnar(batch.header, records as unknown as Record<string, unknown>[]), 100);
    assert.deepEqual(decoded.lines, records.map((r) => canonicalize(r)));
  });

  it('is refused at ingest only when it cannot be placed; what makes it unusable is the report\'s to say', () => {
    assert.match(String(recordProblem({ ...planRecord('s', 1, SAMPLE_PLAN), sensor: 'bad name' })), /sensor/);
    assert.match(String(recordProblem({ ...planRecord('s', 1, SAMPLE_PLAN), ts: 1.5 })), /ts/);
    const odd = { ...planRecord('s', 1, SAMPLE_PLAN), accuracyClass: '7' };
    assert.equal(recordProblem(odd), null);
    assert.match(String(planProblem(odd)), /accuracyClass/);
    assert.match(String(planProblem({ ...odd, accuracyClass: '0.5S', calibrationDue: '2024-02-30' })), /dates/);
    assert.match(String(planProblem({ ...odd, accuracyClass: '0.5S', calibrationDue: '2024-01-01' })), /before calibratedAt/);
    assert.match(String(planProblem({ ...odd, accuracyClass: '0.5S', export: { ...SAMPLE_PLAN.export, bits: 16 } })), /bits and signed/);
    assert.match(String(planProblem({ ...odd, accuracyClass: '0.5S', import: SAMPLE_PLAN.export })), /same metric/);
    assert.match(String(planProblem({ ...odd, accuracyClass: '0.5S', ratedKw: -1 })), /ratedKw/);
  });
});

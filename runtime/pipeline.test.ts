import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JournalRecord, ReadingRecord } from '../protocol/records.ts';
import { generateKey } from '../protocol/signature.ts';
import { tempDir } from '../test/support/tmp.ts';
import { Journal } from './journal/journal.ts';
import { silentLogger } from '../kernel/log.ts';
import { Registry } from '../kernel/metrics.ts';
import { Pipeline } from './pipeline.ts';

async function setup(maxQueued?: number, commitMaxWaitMs = 1) {
  const journal = await Journal.open({ dir: tempDir('pipeline'), device: 'dev-1', key: generateKey(), commitMaxWaitMs });
  const metrics = new Registry();
  const pipeline = new Pipeline(journal, silentLogger(), metrics, maxQueued === undefined ? {} : { maxQueued });
  const records: JournalRecord[] = [];
  journal.onCommitted((r) => records.push(...r));
  const metric = async (name: string, labels: Record<string, string> = {}) => {
    const m = (await metrics.getSingleMetric(name)!.get()).values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
    return m?.value ?? 0;
  };
  return { journal, pipeline, records, metric };
}

const ok = { sensor: 'co2-1', metric: 'co2_ppm', ts: 1_763_884_800_000, value: 500, unit: 'ppm' };

test('a bad value or timestamp is kept as a flagged record; a bad name is refused; both are counted', async () => {
  const { journal, pipeline, records, metric } = await setup();
  pipeline.emit({ ...ok, value: Number.NaN });
  pipeline.emit({ ...ok, ts: 1.5 });
  pipeline.emit({ ...ok, sensor: 'bad sensor/name' });
  pipeline.emit(ok);
  await journal.flush();
  assert.equal(records.length, 3);
  const [nan, ts, good] = records as ReadingRecord[];
  assert.equal(nan!.value, null);
  assert.deepEqual(nan!.quality, { flags: ['invalid_value'], score: 0 });
  assert.ok(Number.isSafeInteger(ts!.ts));
  assert.ok(ts!.quality.flags.includes('invalid_ts'));
  assert.deepEqual(good!.quality, { flags: [], score: 1 });
  assert.equal(await metric('fieldproof_pipeline_invalid_readings_total', { problem: 'bad_value' }), 1);
  assert.equal(await metric('fieldproof_pipeline_invalid_readings_total', { problem: 'bad_ts' }), 1);
  assert.equal(await metric('fieldproof_pipeline_invalid_readings_total', { problem: 'bad_name' }), 1);
  await journal.close();
});

test('assessors add flags and scale the score; one that throws is counted and the reading is kept', async () => {
  const { journal, pipeline, records, metric } = await setup();
  pipeline.addAssessor({ assess: (r) => (r.value! > 1000 ? { flags: ['out_of_range'], factor: 0.2 } : { flags: [], factor: 1 }) });
  pipeline.addAssessor({ assess: () => ({ flags: ['calibration_stale'], factor: 0.7 }) });
  pipeline.emit({ ...ok, value: 5000, quality: { score: 0.9, flags: ['warm_up'] } });
  pipeline.emit(ok);
  pipeline.addAssessor({ assess: () => { throw new Error('model not loaded'); } });
  pipeline.emit(ok);
  await journal.flush();
  const [high, normal, third] = records as ReadingRecord[];
  assert.deepEqual(high!.quality.flags, ['warm_up', 'out_of_range', 'calibration_stale']);
  assert.equal(high!.quality.score, Math.round(0.9 * 0.2 * 0.7 * 1000) / 1000);
  assert.deepEqual(normal!.quality, { flags: ['calibration_stale'], score: 0.7 });
  assert.ok(third, 'kept despite the failing assessor');
  assert.equal(await metric('fieldproof_pipeline_assessor_errors_total'), 1);
  await journal.close();
});

test('an overloaded journal queue drops new readings into a gap record, never silently', async () => {
  const { journal, pipeline, records, metric } = await setup(5);
  for (let i = 0; i < 20; i++) pipeline.emit({ ...ok, ts: ok.ts + i });
  await journal.flush();
  pipeline.emit({ ...ok, ts: ok.ts + 100 });
  await journal.flush();
  const gap = records.find((r) => r.kind === 'gap');
  assert.ok(gap && gap.kind === 'gap');
  assert.equal(gap.reason, 'overload');
  assert.equal(gap.dropped, 15);
  assert.equal(await metric('fieldproof_pipeline_overload_dropped_total'), 15);
  assert.equal(records.filter((r) => r.kind === 'reading').length, 6);
  await journal.close();
});

test('a flagged reading is committed at once; a clean one waits for the group commit', async () => {
  // A flagged reading may raise an alert, and alerts wait for their reading to be durable.
  const { journal, pipeline, records } = await setup(undefined, 60_000);
  pipeline.addAssessor({ assess: (r) => (r.value! > 1000 ? { flags: ['out_of_range'], factor: 0 } : { flags: [], factor: 1 }) });
  pipeline.emit(ok);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(records.length, 0, 'the clean reading waits for company');
  pipeline.emit({ ...ok, ts: ok.ts + 1000, value: 5000 });
  const deadline = Date.now() + 10_000;
  while (records.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(records.map((r) => (r as ReadingRecord).value), [500, 5000], 'the flagged reading took the waiting one along, in order');
  await journal.close();
});

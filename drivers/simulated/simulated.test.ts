import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ReadingInput } from '../../protocol/records.ts';
import { silentLogger } from '../../kernel/log.ts';
import { Registry } from '../../kernel/metrics.ts';
import { simulatedDriverSchema } from './config.ts';
import { baseline, SimulatedSignal } from './signal.ts';
import { SimulatedDriver } from './simulated.ts';

const HOUR = 3_600_000;
const day = Date.UTC(2026, 10, 23);

test('signals follow a daily cycle: CO2 rises in working hours, PV is zero at night', () => {
  assert.ok(baseline('co2', day + 13 * HOUR) > baseline('co2', day + 3 * HOUR) + 300);
  assert.equal(baseline('power', day + 2 * HOUR), 0);
  assert.ok(baseline('power', day + 12 * HOUR) > 90);
  assert.ok(baseline('temperature', day + 15 * HOUR) > baseline('temperature', day + 4 * HOUR));
});

test('noise is there, reproducible from the seed', () => {
  const a = new SimulatedSignal('co2', 7);
  const b = new SimulatedSignal('co2', 7);
  const xs = Array.from({ length: 200 }, (_, i) => a.next(day + i * 1000)!);
  assert.deepEqual(xs, Array.from({ length: 200 }, (_, i) => b.next(day + i * 1000)!));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
  assert.ok(sd > 3 && sd < 20, `sd ${sd}`);
});

test('injected faults: spikes, stuck values, drift and dropouts', () => {
  const run = (kind: 'spike' | 'stuck' | 'drift' | 'dropout', magnitude = 0) => {
    const s = new SimulatedSignal('temperature', 3, [{ kind, rate: 0.02, length: 20, magnitude }]);
    return Array.from({ length: 2000 }, (_, i) => s.next(day + i * 1000));
  };
  const spikes = run('spike', 50);
  assert.ok(spikes.some((x) => x !== null && x > 60), 'a spike 50 above an ~18 degC signal');
  const stuck = run('stuck');
  let longestRun = 0;
  for (let i = 1, r = 0; i < stuck.length; i++) longestRun = Math.max(longestRun, (r = stuck[i] === stuck[i - 1] ? r + 1 : 0));
  assert.ok(longestRun >= 10, `a stuck run of ${longestRun}`);
  const drift = run('drift', 0.05);
  assert.ok(drift.slice(-100).reduce((sum: number, x) => sum + (x ?? 0), 0) / 100 > 22, 'drifted upwards');
  const dropout = run('dropout');
  assert.ok(dropout.filter((x) => x === null).length >= 20);
});

test('the driver emits one reading per sensor per interval, with null and a flag during a dropout', async () => {
  const got: ReadingInput[] = [];
  const config = simulatedDriverSchema.parse({ kind: 'simulated', id: 'sim', sensors: 3, intervalMs: 20, faults: [{ kind: 'dropout', sensors: [2], rate: 1, length: 1000 }] });
  const d = new SimulatedDriver(config, { emit: (r) => got.push(r), log: silentLogger(), metrics: new Registry() });
  await d.start();
  await new Promise((r) => setTimeout(r, 130));
  await d.stop();
  const n = got.length;
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(got.length, n, 'nothing after stop');
  assert.ok(n >= 9 && n % 3 === 0, `${n} readings`);
  assert.deepEqual([...new Set(got.map((r) => r.sensor))].sort(), ['sim-1', 'sim-2', 'sim-3']);
  for (const r of got.filter((r) => r.sensor === 'sim-2')) {
    assert.equal(r.value, null);
    assert.deepEqual(r.quality, { score: 0, flags: ['no_response'] });
  }
  assert.ok(got.filter((r) => r.sensor === 'sim-1').every((r) => typeof r.value === 'number' && r.metric === 'co2_ppm' && r.unit === 'ppm'));
  assert.equal(d.status().state, 'stopped');
  assert.equal(d.status().readings, n);
});

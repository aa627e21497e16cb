import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assessQuality, calibrationDeduction, failedQuality, HALF_YEAR_MS, YEAR_MS } from './quality.ts';

const now = Date.UTC(2026, 0, 1);

test('a fresh, in-range, first-time reading scores 1 with no flags', () => {
  assert.deepEqual(assessQuality({ now, value: 500, calibratedAt: now - 86_400_000, range: { min: 0, max: 5000 } }), { score: 1, flags: [] });
});

test('calibration age: nothing before half a year, -0.1 at half a year, -0.3 at a year and after', () => {
  assert.equal(calibrationDeduction(HALF_YEAR_MS - 1), 0);
  assert.equal(calibrationDeduction(HALF_YEAR_MS), 0.1);
  assert.ok(Math.abs(calibrationDeduction((HALF_YEAR_MS + YEAR_MS) / 2) - 0.2) < 1e-9);
  assert.equal(calibrationDeduction(YEAR_MS), 0.3);
  assert.equal(calibrationDeduction(3 * YEAR_MS), 0.3);
  assert.deepEqual(assessQuality({ now, value: 1, calibratedAt: now - YEAR_MS }), { score: 0.7, flags: ['calibration_stale'] });
  assert.deepEqual(assessQuality({ now, value: 1, calibratedAt: now - HALF_YEAR_MS }), { score: 0.9, flags: ['calibration_aging'] });
  assert.deepEqual(assessQuality({ now, value: 1, expectCalibration: true }), { score: 1, flags: ['calibration_unknown'] });
});

test('warm-up, range, retries, signal and battery each deduct and flag', () => {
  assert.deepEqual(assessQuality({ now, value: 410, warmingUp: true }), { score: 0.5, flags: ['warming_up'] });
  assert.deepEqual(assessQuality({ now, value: 6000, range: { min: 0, max: 5000 } }), { score: 0.5, flags: ['out_of_range'] });
  assert.deepEqual(assessQuality({ now, value: -1, range: { min: 0, max: 5000 } }).flags, ['out_of_range']);
  assert.deepEqual(assessQuality({ now, value: 1, retries: 1 }), { score: 0.95, flags: ['retried'] });
  assert.deepEqual(assessQuality({ now, value: 1, retries: 9 }), { score: 0.8, flags: ['retried'] });
  assert.deepEqual(assessQuality({ now, value: 1, rssiDbm: -118 }), { score: 0.9, flags: ['weak_signal'] });
  assert.deepEqual(assessQuality({ now, value: 1, rssiDbm: -80, snrDb: 5 }), { score: 1, flags: [] });
  assert.deepEqual(assessQuality({ now, value: 1, batteryPercent: 12 }), { score: 0.9, flags: ['battery_low'] });
});

test('deductions add up and the score never leaves [0, 1]', () => {
  const q = assessQuality({ now, value: 9999, calibratedAt: now - 2 * YEAR_MS, warmingUp: true, range: { min: 0, max: 5000 }, retries: 2 });
  assert.equal(q.score, 0);
  assert.deepEqual(q.flags, ['calibration_stale', 'warming_up', 'out_of_range', 'retried']);
  assert.deepEqual(assessQuality({ now, value: 1, extra: [{ flag: 'counter_reset', deduction: 0.2 }] }), { score: 0.8, flags: ['counter_reset'] });
});

test('a failed read scores 0 with its reason', () => {
  assert.deepEqual(failedQuality('timeout'), { score: 0, flags: ['timeout'] });
});

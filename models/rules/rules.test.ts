import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ReadingInput } from '../../protocol/records.ts';
import { validationSchema } from '../config.ts';
import { rulesFor, StreamRuleChecker } from './rules.ts';

const T0 = 1_763_884_800_000;

function reading(ts: number, value: number | null, metric = 'co2_ppm'): ReadingInput {
  return { sensor: 'co2-1', metric, ts, value, unit: 'ppm' };
}

/** Feed readings 1 s apart (device time = wall time unless told) and collect each one's flags. */
function run(checker: StreamRuleChecker, values: (number | null)[], step = 1000, mono?: (i: number) => number): string[][] {
  return values.map((v, i) => {
    const flags: string[] = [];
    const ts = T0 + i * step;
    checker.check(reading(ts, v), ts, mono ? mono(i) : i * step, flags);
    return flags;
  });
}

test('range defaults come from the sensor spec and config rules override them per sensor', () => {
  const config = validationSchema.parse({ rules: [{ sensor: 'co2-*', max: 2000 }, { sensor: 'co2-9', max: 5000 }] });
  assert.equal(rulesFor(config, 'other', 'co2_ppm').max, 10_000);
  assert.equal(rulesFor(config, 'co2-1', 'co2_ppm').max, 2000);
  assert.equal(rulesFor(config, 'co2-9', 'co2_ppm').max, 5000);
  assert.equal(rulesFor(config, 'x', 'unknown_metric').max, Number.POSITIVE_INFINITY);
  const c = new StreamRuleChecker(rulesFor(config, 'co2-1', 'co2_ppm'), config.clock);
  assert.deepEqual(run(c, [500, 2500, -3]).map((f) => f.includes('out_of_range')), [false, true, true]);
});

test('rate of change, stuck values and data gaps are flagged', () => {
  const config = validationSchema.parse({ stuckAfter: 4, rules: [{ metric: 'co2_ppm', maxRatePerS: 100 }] });
  const rules = rulesFor(config, 'co2-1', 'co2_ppm');
  const rate = run(new StreamRuleChecker(rules, config.clock), [500, 550, 900, 880]);
  assert.deepEqual(rate.map((f) => f.includes('rate_of_change')), [false, false, true, false]);
  const stuck = run(new StreamRuleChecker(rules, config.clock), [500, 501, 501, 501, 501, 501, 502]);
  assert.deepEqual(stuck.map((f) => f.includes('stuck')), [false, false, false, false, true, true, false]);
  // ten readings 1 s apart, then one 20 s later: the learned interval makes that a gap
  const c = new StreamRuleChecker(rules, config.clock);
  const flags: string[][] = [];
  for (let i = 0; i < 10; i++) {
    const f: string[] = [];
    c.check(reading(T0 + i * 1000, 500 + i), T0 + i * 1000, i * 1000, f);
    flags.push(f);
  }
  const late: string[] = [];
  c.check(reading(T0 + 29_000, 510), T0 + 29_000, 29_000, late);
  assert.ok(flags.every((f) => !f.includes('data_gap')));
  assert.deepEqual(late, ['data_gap']);
});

test('a device clock that jumps, runs backwards or is in the future is flagged', () => {
  const config = validationSchema.parse({});
  const rules = rulesFor(config, 'co2-1', 'co2_ppm');
  // readings 1 s apart in elapsed time, but the device clock leaps an hour at the fourth
  const c = new StreamRuleChecker(rules, config.clock);
  const out = [0, 1, 2, 3603, 3604].map((s, i) => {
    const f: string[] = [];
    c.check(reading(T0 + s * 1000, 500), T0 + s * 1000, i * 1000, f);
    return f;
  });
  assert.deepEqual(out.map((f) => f.includes('clock_jump')), [false, false, false, true, false]);
  const back: string[] = [];
  c.check(reading(T0 + 1000, 500), T0 + 1000, 5000, back);
  assert.ok(back.includes('clock_backwards'));
  const future: string[] = [];
  new StreamRuleChecker(rules, config.clock).check(reading(T0 + 3_600_000, 500), T0, 0, future);
  assert.deepEqual(future, ['clock_future']);
});

test('a null value (sensor did not answer) is checked for clock only', () => {
  const config = validationSchema.parse({});
  const c = new StreamRuleChecker(rulesFor(config, 'co2-1', 'co2_ppm'), config.clock);
  assert.deepEqual(run(c, [null, null, 20_000]), [[], [], ['out_of_range']]);
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import type { ReadingInput } from '../../protocol/records.ts';
import { validationSchema } from '../config.ts';
import { prng } from '../../kernel/prng.ts';
import { spikeSize } from './excursions.ts';
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

test('a stuck value is judged by how often this stream repeats: soon for a fine-grained meter, never for a floor it rests at', () => {
  const config = validationSchema.parse({});
  const rand = prng(5);
  // a meter read every 15 s at 0.001 kW whose readings never repeat: three equal ones are news
  const meter = new StreamRuleChecker(rulesFor(config, 'm', 'power_kw'), config.clock);
  const values: number[] = [];
  for (let i = 0; i < 3000; i++) values.push(Math.round((50 + 5 * Math.sin(i / 200) + rand()) * 1000) / 1000);
  for (let i = 0; i < 12; i++) values.push(values.at(-1)!);
  const flags = run(meter, values, 15_000);
  assert.ok(flags.slice(0, 3000).every((f) => !f.includes('stuck')));
  const first = flags.findIndex((f) => f.includes('stuck'));
  assert.ok(first > 3000 && first <= 3000 + 6, `stuck flagged at ${first - 3000} repeats`);
  // a PV string: 0 all night, a noisy current by day. The first night is news; later ones are not
  const pv = new StreamRuleChecker(rulesFor(config, 'pv', 'current_a'), config.clock);
  const days: number[] = [];
  for (let d = 0; d < 4; d++) for (let m = 0; m < 1440; m++) days.push(m > 360 && m < 1170 ? Math.round((5 * Math.sin((Math.PI * (m - 360)) / 810) + rand() * 0.2) * 100) / 100 : 0);
  const pvFlags = run(pv, days, 60_000);
  const stuckIn = (from: number, to: number) => pvFlags.slice(from, to).some((f) => f.includes('stuck'));
  assert.equal(stuckIn(0, 360), true, 'the first night');
  for (let d = 0; d < 3; d++) assert.equal(stuckIn(d * 1440 + 1170, (d + 1) * 1440 + 360), false, `night ${d + 1}`);
  assert.equal(stuckIn(1440 + 360, 1440 + 1170), false, 'the second day');
});

test('missing data is judged by how often this stream loses readings, and a silence is reported before the next one comes', () => {
  const config = validationSchema.parse({});
  const rand = prng(9);
  // a LoRa node every 60 s losing about 5% of its uplinks: one or two lost in a row are ordinary
  const node = new StreamRuleChecker(rulesFor(config, 'n', 'temperature_c'), config.clock);
  let ts = 0;
  let gaps = 0;
  for (let i = 0; i < 5000; i++) {
    ts += 60_000;
    if (rand() < 0.05) continue;
    const f: string[] = [];
    node.check(reading(T0 + ts, 20 + rand()), T0 + ts, ts, f);
    if (f.includes('data_gap')) gaps++;
  }
  assert.ok(gaps <= 1, `${gaps} gaps flagged in ordinary losses`);
  // silence: not after two intervals, but after five
  assert.equal(node.silent(ts + 2 * 60_000), false);
  assert.equal(node.silent(ts + 5 * 60_000 + 1000), true);
  // a wired meter that never missed a poll in a day: two missing polls are a silence
  const meter = new StreamRuleChecker(rulesFor(config, 'm', 'power_kw'), config.clock);
  run(meter, Array.from({ length: 5760 }, (_, i) => 50 + (i % 7)), 15_000);
  const last = 5759 * 15_000;
  assert.equal(meter.silent(last + 31_000), false);
  assert.equal(meter.silent(last + 46_000), true);
});

test("spikes and a noisier signal are judged against the stream's own: a glitch is flagged, its ordinary wiggles are not", () => {
  const config = validationSchema.parse({});
  const rand = prng(21);
  const meter = new StreamRuleChecker(rulesFor(config, 'm', 'power_kw'), config.clock);
  const values: number[] = [];
  for (let i = 0; i < 15000; i++) values.push(Math.round((60 + 20 * Math.sin(i / 300) + rand() - 0.5) * 1000) / 1000);
  // a two-reading glitch of 15 kW once the checks judge (two days in); more than a history (2000 blocks of 5 minutes) later, an hour of noise ten times the usual
  values[3000] = values[3000]! + 15;
  values[3001] = values[3001]! + 15;
  for (let i = 14300; i < 14540; i++) values[i] = values[i]! + (rand() - 0.5) * 10;
  // read every minute: a day's false alarm budget spread over 1440 readings
  const flags = run(meter, values, 60_000);
  const spikes = flags.flatMap((f, i) => (i < 14300 && f.includes('spike') ? [i] : []));
  assert.deepEqual(spikes, [3002]);
  assert.ok(flags.slice(3010, 14300).every((f) => !f.includes('spike') && !f.includes('noisy')), 'a healthy stretch flagged');
  const noisy = flags.findIndex((f, i) => i >= 14300 && f.includes('noisy'));
  assert.ok(noisy >= 14300 && noisy < 14310, `noise flagged first at ${noisy}`);
});

test('a spike is a run that leaves the line between its neighbours and comes back; a step that stays is not', () => {
  assert.equal(spikeSize([10, 10, 10, 20, 10]), 10);
  assert.equal(spikeSize([10, 10, 20, 20, 10]), 10);
  assert.equal(spikeSize([10, 10, 10, 20, 20]), 0);
  assert.equal(spikeSize([10, 11, 12, 13, 14]), 0);
  assert.equal(spikeSize([10, 10, 10, 0, 10]), 10);
});

test('the sample validation config is accepted as written', () => {
  const text = readFileSync(join(import.meta.dirname, '..', 'validation.sample.yaml'), 'utf8');
  const config = validationSchema.parse((parse(text) as { validation: unknown }).validation);
  assert.equal(config.falseAlarmsPerDay, 0.01);
  assert.equal(rulesFor(config, 'co2-lab-1', 'co2_ppm').expectedIntervalMs, 2000);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CounterSpec } from '../../protocol/plan.ts';
import { EnergyCounter } from './energy.ts';

const INT32_WH: CounterSpec = { metric: 'energy_delivered_kwh', type: 'int32', bits: 32, signed: true, scale: 0.001, unit: 'kWh' };
const UINT32_WH: CounterSpec = { ...INT32_WH, type: 'uint32', signed: false };
const MAX_INT32_KWH = 2_147_483.647;

test('deltas between register values; the first value has none', () => {
  const c = new EnergyCounter(INT32_WH);
  assert.deepEqual(c.next(1000.5, 1000), { kind: 'first' });
  assert.deepEqual(c.next(1000.75, 2000), { kind: 'normal', kwh: 0.25, since: 1000 });
  assert.deepEqual(c.next(1000.75, 3000), { kind: 'normal', kwh: 0, since: 2000 });
  assert.deepEqual(c.next(1000.8, 4000), { kind: 'normal', kwh: 0.05, since: 3000 });
});

test('an unsigned register rolls over at its width, when the rated power allows the increase', () => {
  const c = new EnergyCounter(UINT32_WH, 500);
  c.next(4_294_967.0, 0); // 2^32 Wh is 4,294,967.296 kWh
  assert.deepEqual(c.next(1.0, 60_000), { kind: 'rollover', kwh: 1.296, since: 0 });
  assert.deepEqual(c.next(2, 120_000), { kind: 'normal', kwh: 1, since: 60_000 });
});

test('a reset near the top is a reset, not a rollover that invents the energy up to the top', () => {
  // 90 % of the way up and then near zero: across the top that would be ~430,000 kWh in a minute
  const c = new EnergyCounter(UINT32_WH, 500);
  c.next(3_865_470.0, 0);
  assert.deepEqual(c.next(3.0, 60_000), { kind: 'reset', kwh: 3, since: 0 });
});

test('a signed Wh register that passes 2^31 wraps to negative values, and counts on from there', () => {
  const c = new EnergyCounter(INT32_WH);
  c.next(MAX_INT32_KWH - 0.5, 0);
  const step = c.next(-MAX_INT32_KWH + 0.4, 1000); // raw -2147483247: 902 Wh on from 2147483147
  assert.deepEqual(step, { kind: 'negative_wrap', kwh: 0.902, since: 0 });
  assert.deepEqual(c.next(-MAX_INT32_KWH + 1.4, 2000), { kind: 'normal', kwh: 1, since: 1000 });
});

test('a signed register kept positive by the meter rolls over to zero at 2^31 when plausible', () => {
  const c = new EnergyCounter(INT32_WH, 500);
  c.next(2_147_483.0, 0);
  assert.deepEqual(c.next(1.352, 60_000), { kind: 'rollover', kwh: 2, since: 0 });
  const unrated = new EnergyCounter(INT32_WH);
  unrated.next(2_147_483.0, 0);
  assert.deepEqual(unrated.next(1.352, 60_000), { kind: 'reset', kwh: 1.352, since: 0 }, 'without a rated power a decrease is a reset');
});

test('a drop elsewhere is a reset: the energy since is the new value, never negative', () => {
  const c = new EnergyCounter(INT32_WH, 500);
  c.next(5000, 0);
  assert.deepEqual(c.next(3, 1000), { kind: 'reset', kwh: 0.139889, since: 0 }, 'no more than 500 kW (and one count) can have made in a second');
  assert.deepEqual(c.next(3.1, 2000), { kind: 'normal', kwh: 0.1, since: 1000 });
});

test('an increase beyond the rated power is a jump, worth at most what the rated power allows', () => {
  const c = new EnergyCounter(INT32_WH, 36);
  c.next(100, 0);
  assert.deepEqual(c.next(100.01, 1000), { kind: 'normal', kwh: 0.01, since: 0 });
  const jump = c.next(50_100, 2000);
  assert.equal(jump.kind, 'jump');
  assert.ok('kwh' in jump && jump.kwh <= 0.011, JSON.stringify(jump));
});

test('the meter\'s own rollover setting is where it rolls over', () => {
  const c = new EnergyCounter({ ...INT32_WH, rolloverKwh: 1_000_000 }, 500);
  c.next(999_999.5, 0);
  assert.deepEqual(c.next(1.25, 60_000), { kind: 'rollover', kwh: 1.75, since: 0 });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EnergyCounter } from './energy.ts';

test('deltas between counter values; the first value has none', () => {
  const c = new EnergyCounter(2_147_483.648);
  assert.deepEqual(c.next(1000.5, 1000), { kind: 'first' });
  assert.deepEqual(c.next(1000.75, 2000), { kind: 'delta', kwh: 0.25, since: 1000 });
  assert.deepEqual(c.next(1000.75, 3000), { kind: 'delta', kwh: 0, since: 2000 });
  assert.deepEqual(c.next(1000.8, 4000), { kind: 'delta', kwh: 0.05, since: 3000 });
});

test('a wrap at the rollover value is counted across it', () => {
  const c = new EnergyCounter(1_000_000);
  c.next(999_999.5, 0);
  assert.deepEqual(c.next(1.25, 1000), { kind: 'rollover', kwh: 1.75, since: 0 });
  assert.deepEqual(c.next(2, 2000), { kind: 'delta', kwh: 0.75, since: 1000 });
});

test('a counter that drops elsewhere was reset: the energy since is the new value', () => {
  const c = new EnergyCounter(1_000_000);
  c.next(5000, 0);
  assert.deepEqual(c.next(3, 1000), { kind: 'reset', kwh: 3, since: 0 });
  assert.deepEqual(c.next(4.5, 2000), { kind: 'delta', kwh: 1.5, since: 1000 });
  c.next(10, 3000);
  assert.deepEqual(c.next(-2, 4000), { kind: 'reset', kwh: 0, since: 3000 });
});

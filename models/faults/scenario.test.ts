// The fault scenario is fixed: the same seed gives the same readings byte for byte (a digest of the
// whole plan is pinned here, so that any change to the data shows), and each fault does to the
// readings what the catalogue says.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { DAY_MS, HOUR_MS } from './streams.ts';
import { FAULT_PLAN, generateScenario, generateSensor } from './scenario.ts';

/** the digest of every sensor's fault and readings, in plan order */
const PINNED = 'cfbf4b688265b6014775fa45c2e136f7eb87641d9d9293984e62cd4b9c2d8d6a';

test('the scenario is the same on every run, and is the one the figures were measured on', { timeout: 120_000 }, () => {
  const h = createHash('sha256');
  let sensors = 0;
  for (const s of generateScenario()) {
    sensors++;
    h.update(JSON.stringify({ id: s.id, fault: s.fault, scale: s.scale }));
    for (const r of s.readings) h.update(`${r.ts},${r.value}\n`);
  }
  assert.equal(sensors, 4 * 6 * FAULT_PLAN.sensorsPerCell);
  assert.equal(h.digest('hex'), PINNED);
});

test('a stuck sensor repeats the value it had, then recovers', () => {
  const s = generateSensor('power', 'stuck', 0);
  const during = s.readings.filter((r) => r.ts >= s.fault.start && r.ts < s.fault.end);
  const before = s.readings.filter((r) => r.ts < s.fault.start).at(-1)!;
  assert.ok(during.length > 100);
  for (const r of during) assert.equal(r.value, before.value);
  const after = s.readings.filter((r) => r.ts >= s.fault.end).slice(0, 20);
  assert.ok(new Set(after.map((r) => r.value)).size > 10, 'the meter reads again after the fault');
});

test('a spike lasts its readings; a dropout leaves nulls on a polled sensor and nothing from a LoRa node', () => {
  const s = generateSensor('co2', 'spike', 0);
  const at = s.readings.findIndex((r) => r.ts >= s.fault.start);
  const n = s.fault.readings!;
  for (let i = at; i < at + n; i++) assert.ok(Math.abs(s.readings[i]!.value! - s.readings[at - 1]!.value!) > 0.2 * s.scale);
  assert.ok(Math.abs(s.readings[at + n]!.value! - s.readings[at - 1]!.value!) < 0.1 * s.scale);

  const polled = generateSensor('pv', 'dropout', 0);
  const gone = polled.readings.filter((r) => r.ts >= polled.fault.start && r.ts < polled.fault.end);
  assert.ok(gone.length > 20 && gone.every((r) => r.value === null));
  assert.ok(polled.readings.every((r) => r.value !== null || (r.ts >= polled.fault.start && r.ts < polled.fault.end)));

  const node = generateSensor('lora_temperature', 'dropout', 0);
  assert.equal(node.readings.filter((r) => r.ts >= node.fault.start && r.ts < node.fault.end).length, 0);
  assert.ok(node.readings.every((r) => r.value !== null));
  // and about 5% of a node's uplinks are lost at other times
  const expected = (FAULT_PLAN.days * DAY_MS) / node.spec.intervalMs;
  const lostShare = 1 - (node.readings.length + (node.fault.end - node.fault.start) / node.spec.intervalMs) / expected;
  assert.ok(lostShare > 0.03 && lostShare < 0.07, `lost ${lostShare}`);
});

test('drift grows with time, an offset is a step, extra noise widens the spread', () => {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
  /** the fault's effect: the faulty readings less the same sensor's healthy ones, per hour after the start */
  const effect = (kind: 'co2' | 'power' | 'lora_temperature', type: 'drift' | 'offset' | 'noise', k: number) => {
    const faulty = generateSensor(kind, type, k);
    const healthy = generateSensor(kind, type, k, true);
    assert.equal(faulty.readings.length, healthy.readings.length);
    const byHour: number[][] = [];
    faulty.readings.forEach((r, i) => {
      if (r.ts < faulty.fault.start) return assert.equal(r.value, healthy.readings[i]!.value);
      (byHour[Math.floor((r.ts - faulty.fault.start) / HOUR_MS)] ??= []).push(r.value! - healthy.readings[i]!.value!);
    });
    return { s: faulty, byHour };
  };
  const d = effect('lora_temperature', 'drift', 1);
  assert.equal(d.s.fault.end, FAULT_PLAN.start + FAULT_PLAN.days * DAY_MS);
  // after a day the offset is the drawn size per day, give or take the sensor's noise
  assert.ok(Math.abs(mean(d.byHour[24]!) - d.s.fault.size * (24.5 / 24)) < 0.1, `${mean(d.byHour[24]!)} vs ${d.s.fault.size}`);
  assert.ok(Math.abs(mean(d.byHour[0]!)) < Math.abs(d.s.fault.size) / 24);
  const o = effect('co2', 'offset', 2);
  assert.ok(Math.abs(o.s.fault.size) >= 0.2 * o.s.scale && Math.abs(o.s.fault.size) <= 0.5 * o.s.scale);
  for (const h of [0, 5, 20]) assert.ok(Math.abs(mean(o.byHour[h]!) - o.s.fault.size) < 5);
  const n = effect('power', 'noise', 0);
  const hours = Math.floor((n.s.fault.end - n.s.fault.start) / HOUR_MS);
  assert.ok(Math.abs(sd(n.byHour.slice(0, hours).flat()) / n.s.fault.size - 1) < 0.1);
  assert.ok(sd(n.byHour[hours + 1]!) < 0.2 * n.s.fault.size);
});

test('faults begin in the planned stretch, PV faults in daylight', () => {
  for (const s of generateScenario(['pv'])) {
    assert.ok(s.fault.start >= FAULT_PLAN.start + FAULT_PLAN.faultFrom * DAY_MS && s.fault.start < FAULT_PLAN.start + FAULT_PLAN.faultTo * DAY_MS);
    const h = (s.fault.start % DAY_MS) / HOUR_MS;
    assert.ok(h > 6 && h < 19.5, `${s.id} starts at hour ${h}`);
  }
});

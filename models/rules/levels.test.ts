import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prng } from '../../kernel/prng.ts';
import { LevelCheck } from './levels.ts';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** a day's false alarm budget of 0.01 spread over its 5-minute means */
const RISK = 0.01 / 288;
/** Monday 1 April 2024, 00:00 UTC */
const T0 = Date.UTC(2024, 3, 1);

/** Feed `days` of readings every minute from value(ts); the day (from 0) of each flagged reading. */
function flaggedDays(check: LevelCheck, days: number, value: (ts: number, rand: () => number) => number): number[] {
  const rand = prng(7);
  const out: number[] = [];
  for (let ts = T0; ts < T0 + days * DAY_MS; ts += 60_000) {
    const flags: string[] = [];
    check.check(value(ts, rand), ts, RISK, RISK / 5, flags);
    if (flags.includes('level')) out.push((ts - T0) / DAY_MS);
  }
  return out;
}

const hourOf = (ts: number) => ((ts - T0) % DAY_MS) / HOUR_MS;
const weekend = (ts: number) => Math.floor((ts - T0) / DAY_MS) % 7 >= 5;
/** an office room's CO2: outdoor air at night and at weekends, occupied from 8 to 17 on working days */
const room = (ts: number, rand: () => number) => 420 + (!weekend(ts) && hourOf(ts) >= 8 && hourOf(ts) < 17 ? 500 + 60 * Math.sin(ts / 5e6) : 0) + (rand() - 0.5) * 8;

test('an ordinary stream is not flagged: its days, its first weekend at the floor, a busier afternoon', () => {
  const busier = (ts: number, rand: () => number) => room(ts, rand) + ((ts - T0) / DAY_MS >= 8.5 && (ts - T0) / DAY_MS < 8.7 ? 30 : 0);
  assert.deepEqual(flaggedDays(new LevelCheck(false), 10, busier), []);
});

test('a drift is flagged within a day, up at night above the levels earlier nights reached, down below the floor', () => {
  for (const sign of [1, -1]) {
    const start = 5.3 * DAY_MS;
    const drifting = (ts: number, rand: () => number) => room(ts, rand) + (ts >= T0 + start ? (sign * 400 * (ts - T0 - start)) / DAY_MS : 0);
    const days = flaggedDays(new LevelCheck(false), 8, drifting);
    assert.ok(days.length > 0 && days[0]! >= 5.3 && days[0]! < 6.3, `drift ${sign} first flagged on day ${days[0]}`);
  }
});

test('a clear-sky stream: passing clouds are not flagged, a string that loses a third of its gain a day is', () => {
  /** a PV string's current: the sun's arc from 6 to 19, clouds that pass within minutes */
  const pv = (lossPerDay: number, from: number) => {
    let cloudy = false;
    return (ts: number, rand: () => number) => {
      const h = hourOf(ts);
      if (h <= 6 || h >= 19) return 0;
      cloudy = cloudy ? rand() > 0.2 : rand() < 0.05;
      const gain = ts >= T0 + from ? Math.max(0, 1 - (lossPerDay * (ts - T0 - from)) / DAY_MS) : 1;
      return 8 * Math.sin((Math.PI * (h - 6)) / 13) * (cloudy ? 0.3 : 1) * gain * (1 + (rand() - 0.5) * 0.01);
    };
  };
  assert.deepEqual(flaggedDays(new LevelCheck(true), 9, pv(0, 0)), []);
  const start = 5.4 * DAY_MS;
  const days = flaggedDays(new LevelCheck(true), 8, pv(0.33, start));
  assert.ok(days.length > 0 && days[0]! >= 5.4 && days[0]! < 6.4, `gain loss first flagged on day ${days[0]}`);
  // a reading far above the clear sky (a spike on the line, during a cloud or not) is flagged at once
  const spikeAt = T0 + 6 * DAY_MS + 13 * HOUR_MS;
  const healthy = pv(0, 0);
  const spiked = flaggedDays(new LevelCheck(true), 7, (ts, rand) => healthy(ts, rand) + (ts === spikeAt ? 4 : 0));
  assert.equal(spiked[0], (spikeAt - T0) / DAY_MS);
  // (and the 5 minutes after it, whose mean it lifts)
  assert.ok(spiked.every((d) => d * DAY_MS + T0 - spikeAt <= 10 * 60_000), `flagged at ${spiked.join(', ')}`);
  // without the clear-sky knowledge, a lower output is a day with clouds
  assert.deepEqual(flaggedDays(new LevelCheck(false), 8, pv(0.33, start)), []);
});

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { gapRecord, readingRecord } from '../../protocol/records.ts';
import { SensorTable } from './sensor-table.ts';

const reading = (seq: number, sensor: string, ts: number, value: number | null, score = 1) =>
  readingRecord('gw', seq, { sensor, metric: 'co2_ppm', ts, value, unit: 'ppm' }, { score, flags: score < 1 ? ['spike'] : [] });

describe('SensorTable', () => {
  it('keeps each sensor\'s newest reading and hands out only the changed ones', () => {
    const t = new SensorTable({ maxSensors: 10 });
    t.note([reading(1, 'b', 1000, 400), reading(2, 'a', 1000, 410), reading(3, 'b', 1100, 420, 0.4)]);
    assert.deepEqual(t.list().map((s) => [s.sensor, s.value, s.seq]), [['a', 410, 2], ['b', 420, 3]]);
    assert.deepEqual(t.list()[1]!.quality, { score: 0.4, flags: ['spike'] });
    assert.deepEqual(t.takeChanged().map((s) => s.sensor).sort(), ['a', 'b']);
    assert.deepEqual(t.takeChanged(), []);
    t.note([reading(4, 'a', 2000, 415)]);
    assert.deepEqual(t.takeChanged().map((s) => [s.sensor, s.value]), [['a', 415]]);
  });

  it('shows a state reading\'s text (a leak sensor\'s LEAK) beside its value', () => {
    const t = new SensorTable({ maxSensors: 10 });
    t.note([readingRecord('gw', 1, { sensor: 'leak-1', metric: 'leak', ts: 1000, value: null, unit: '', state: 'LEAK' }, { score: 1, flags: [] })]);
    assert.deepEqual(t.list().map((s) => [s.sensor, s.value, s.state]), [['leak-1', null, 'LEAK']]);
  });

  it('keeps one series per sensor and metric', () => {
    const t = new SensorTable({ maxSensors: 10 });
    t.note([reading(1, 'room', 1000, 700), readingRecord('gw', 2, { sensor: 'room', metric: 'temperature_c', ts: 1000, value: 23, unit: 'degC' }, { score: 1, flags: [] })]);
    assert.deepEqual(t.list().map((s) => [s.sensor, s.metric, s.value]), [['room', 'co2_ppm', 700], ['room', 'temperature_c', 23]]);
  });

  it('counts sensors beyond maxSensors instead of keeping them', () => {
    const t = new SensorTable({ maxSensors: 2 });
    t.note([reading(1, 's1', 1, 1), reading(2, 's2', 1, 1), reading(3, 's3', 1, 1), reading(4, 's4', 1, 1), reading(5, 's3', 2, 1)]);
    assert.equal(t.list().length, 2);
    assert.equal(t.hidden, 2);
  });

  it('remembers the last data gap', () => {
    const t = new SensorTable({ maxSensors: 2 });
    assert.equal(t.lastGap, null);
    t.note([gapRecord('gw', 9, 1200, 100, 200, 'disk_full')]);
    assert.deepEqual(t.lastGap, { seq: 9, dropped: 1200, from: 100, to: 200, reason: 'disk_full' });
    assert.deepEqual(t.list(), []);
  });
});

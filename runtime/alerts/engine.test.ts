import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ReadingRecord } from '../../protocol/records.ts';
import { AlertEngine } from './engine.ts';

let seq = 0;
function rec(flags: string[], sensor = 'co2-1', value = 500): ReadingRecord {
  seq++;
  return { v: 1, kind: 'reading', device: 'd', seq, sensor, metric: 'co2_ppm', ts: 1000 * seq, value, unit: 'ppm', quality: { score: flags.length ? 0.5 : 1, flags } };
}

const base = { severity: {}, ignore: [], raiseAfter: 1, clearAfter: 3 };

test('a flag raises one alert however many readings carry it, and clears after enough clean readings', () => {
  const e = new AlertEngine(base);
  const events = e.observe([rec(['out_of_range']), rec(['out_of_range']), rec(['out_of_range']), rec([]), rec([]), rec(['out_of_range']), rec([]), rec([]), rec([])]);
  assert.deepEqual(events.map((x) => `${x.type}:${x.alert.kind}:${x.alert.severity}`), ['raised:out_of_range:critical', 'cleared:out_of_range:critical']);
  assert.equal(events[1]!.alert.count, 4);
  assert.equal(e.activeAlerts().length, 0);
});

test('hysteresis: raiseAfter flagged readings in a row are needed, isolated flags raise nothing', () => {
  const e = new AlertEngine({ ...base, raiseAfter: 3 });
  assert.deepEqual(e.observe([rec(['anomaly']), rec([]), rec(['anomaly']), rec(['anomaly']), rec([])]), []);
  const ev = e.observe([rec(['anomaly']), rec(['anomaly']), rec(['anomaly'])]);
  assert.equal(ev.length, 1);
  assert.equal(ev[0]!.alert.severity, 'warning');
  assert.equal(ev[0]!.alert.since, ev[0]!.alert.seq! * 1000 - 2000, 'since = the first flagged reading of the run');
});

test('alerts are per sensor and per flag; severities and ignores come from the config', () => {
  const e = new AlertEngine({ ...base, severity: { stuck: 'critical' }, ignore: ['data_gap'] });
  const ev = e.observe([rec(['stuck', 'data_gap'], 'a'), rec(['stuck'], 'b'), rec(['anomaly'], 'a')]);
  assert.deepEqual(ev.map((x) => x.alert.id), ['a/co2_ppm/stuck', 'b/co2_ppm/stuck', 'a/co2_ppm/anomaly']);
  assert.ok(ev.every((x) => x.alert.kind !== 'data_gap'));
  assert.equal(ev[0]!.alert.severity, 'critical');
  assert.equal(e.activeAlerts().length, 3);
});

test('gap records and external conditions raise and clear alerts', () => {
  const e = new AlertEngine(base);
  const ev = e.observe([{ v: 1, kind: 'gap', device: 'd', seq: 99, dropped: 10, from: 1, to: 2, reason: 'disk_full' }]);
  assert.equal(ev[0]!.alert.kind, 'disk_full');
  const overload = e.observe([{ v: 1, kind: 'gap', device: 'd', seq: 100, dropped: 3, from: 1, to: 2, reason: 'overload' }]);
  assert.equal(overload[0]!.alert.kind, 'readings_dropped');
  assert.equal(overload[0]!.alert.severity, 'critical');
  const out: Parameters<AlertEngine['external']>[6] = [];
  e.external('co2-1', 'co2_ppm', 'stream_silent', true, 5, null, out);
  e.external('co2-1', 'co2_ppm', 'stream_silent', true, 6, null, out);
  e.external('co2-1', 'co2_ppm', 'stream_silent', false, 7, null, out);
  assert.deepEqual(out.map((x) => x.type), ['raised', 'cleared']);
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { outcomeFromDecoded } from './codec.ts';
import { fromText, MAX_READINGS_PER_UPLINK } from './readings.ts';
import { unitFromName } from './units.ts';

const RECV = Date.UTC(2026, 0, 15);
const map = (data: unknown, normalized: unknown = null) => {
  const o = outcomeFromDecoded({ data }, normalized, RECV);
  assert.ok(o.ok, JSON.stringify(o));
  return o;
};

describe('codec output to readings', () => {
  it('reads text: numbers, numbers with units, numbers with a note, and states', () => {
    assert.deepEqual(fromText('24.59'), { value: 24.59, unit: '' });
    assert.deepEqual(fromText(' -3.5e2 '), { value: -350, unit: '' });
    assert.deepEqual(fromText('21.5 °C'), { value: 21.5, unit: 'degC' });
    assert.deepEqual(fromText('3.6V'), { value: 3.6, unit: 'V' });
    assert.deepEqual(fromText('2.3(low battery)'), { value: 2.3, unit: '', state: '2.3(low battery)' });
    assert.deepEqual(fromText('LEAK'), { value: null, unit: '', state: 'LEAK' });
    for (const text of ['0x1F', '2024-01-01T00:00:00Z', '12:30', '1.2.3', 'v1.2']) assert.equal(fromText(text)!.value, null, text);
    assert.equal(fromText('x'.repeat(200)), null);
  });

  it('takes units from unit tokens at the end of a name, never from the quantity alone', () => {
    const cases: [string, string][] = [
      ['temperature_c', 'degC'], ['TempC_SHT', 'degC'], ['BatV', 'V'], ['battery_mv', 'mV'], ['ILL_lx', 'lx'], ['co2_ppm', 'ppm'],
      ['humidity_pct', '%'], ['pressure_hpa', 'hPa'], ['temperature_c_2', 'degC'], ['temperature', ''], ['Hum_SHT', ''], ['status', ''], ['ABC', ''],
    ];
    for (const [name, unit] of cases) assert.equal(unitFromName(name), unit, name);
  });

  it('keeps every kind of value, with the codec\'s own units', () => {
    const o = map({
      BatV: '2.3(low battery)', leak: 'LEAK', door_open: true, probe: null,
      air_temperature: { displayName: 'Air temperature', unit: '°C', value: 21.3 },
      pressure: { value: 1013.2, unit: 'mbar', status: 'ok' },
      nested: { battery: { voltage_v: 3.61 } },
    });
    assert.deepEqual(o.readings, [
      { metric: 'BatV', unit: 'V', value: 2.3, state: '2.3(low battery)' },
      { metric: 'leak', unit: '', value: null, state: 'LEAK' },
      { metric: 'door_open', unit: '', value: 1 },
      { metric: 'probe', unit: '', value: null, flags: ['codec_null'] },
      { metric: 'air_temperature', unit: 'degC', value: 21.3 },
      { metric: 'pressure', unit: 'hPa', value: 1013.2 },
      { metric: 'pressure_status', unit: '', value: null, state: 'ok' },
      { metric: 'nested_battery_voltage_v', unit: 'V', value: 3.61 },
    ]);
    assert.equal(o.unmappedCount, 0);
  });

  it('names array elements by their measurement id wherever they sit, others by position', () => {
    const o = map({
      messages: [[{ measurementId: '4098', measurementValue: 48.2, type: 'Air Humidity' }, { measurementId: 4097, measurementValue: 24.5, type: 'Air Temperature' }]],
      axes: [0.1, -0.2],
    });
    assert.deepEqual(o.readings.map((r) => [r.metric, r.value]), [['messages_4098', 48.2], ['messages_4097', 24.5], ['axes_0', 0.1], ['axes_1', -0.2]]);
  });

  it('counts and lists what cannot become a reading, and bounds the readings of one uplink', () => {
    const deep = { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } };
    const o = map({ '温度': 20, text: 'x'.repeat(300), deep, fine: 1 });
    assert.deepEqual(o.readings.map((r) => r.metric), ['fine']);
    assert.deepEqual(o.unmapped.map((u) => u.reason).sort(), ['bad_name', 'text_too_long', 'too_deep']);
    assert.equal(o.unmappedCount, 3);
    const big = map(Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`v${i}`, i])));
    assert.equal(big.readings.length, MAX_READINGS_PER_UPLINK);
    assert.equal(big.unmappedCount, 100 - MAX_READINGS_PER_UPLINK);
    assert.ok(big.unmapped.every((u) => u.reason === 'too_many'));
  });

  it('maps normalized payloads to the schema\'s names and units, with their own times and channels', () => {
    const o = outcomeFromDecoded({ data: { t: 1 } }, {
      data: [
        { time: new Date(RECV - 3_600_000).toISOString(), soil: { depth: 10, moisture: 31.5 } },
        { time: new Date(RECV - 3_600_000).toISOString(), soil: { depth: 30, moisture: 28 } },
        { air: { temperature: 19.5, location: 'outdoor' }, action: { contactState: 'OPEN' } },
        { time: '2001-01-01T00:00:00Z', air: { co2: 400 } },
      ],
    }, RECV);
    assert.ok(o.ok);
    const byName = o.readings.filter((r) => r.metric.includes('.')).map((r) => [r.metric, r.channel ?? null, r.value, r.unit, r.state ?? null, r.ts === undefined ? 'recv' : (RECV - r.ts) / 1000]);
    assert.deepEqual(byName, [
      ['soil.depth', 1, 10, 'cm', null, 3600], ['soil.moisture', 1, 31.5, '%', null, 3600],
      ['soil.depth', 2, 30, 'cm', null, 3600], ['soil.moisture', 2, 28, '%', null, 3600],
      ['air.temperature', null, 19.5, 'degC', null, 'recv'], ['air.location', null, null, '', 'outdoor', 'recv'], ['action.contactState', null, null, '', 'OPEN', 'recv'],
      ['air.co2', null, 400, 'ppm', null, 'recv'],
    ]);
    assert.deepEqual(o.unmapped, [{ path: 'normalized.3.time', reason: 'bad_time' }]);
  });

  it('reports errors the codec returned, and results without data', () => {
    const e = outcomeFromDecoded({ errors: ['unknown frame type 7'], warnings: ['w'] }, null, RECV);
    assert.deepEqual(e.ok ? null : [e.reason, e.error, e.warnings], ['codec_errors', 'unknown frame type 7', ['w']]);
    assert.equal(outcomeFromDecoded({ warnings: [] }, null, RECV).ok, false);
    assert.equal(outcomeFromDecoded(null, null, RECV).ok, false);
  });
});

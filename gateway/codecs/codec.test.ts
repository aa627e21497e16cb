import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_READINGS_PER_UPLINK, readingsFromDecoded } from './codec.ts';

describe('readingsFromDecoded', () => {
  it('turns numeric and boolean leaves into readings named by their key path, with units from suffixes', () => {
    const out = readingsFromDecoded({ data: { temperature_c: 21.5, co2_ppm: 612, battery: { voltage_v: 3.61 }, door_open: true, firmware: '1.2.3', axes: [1, 2] } });
    assert.ok(out.ok);
    assert.deepEqual(out.readings, [
      { metric: 'temperature_c', unit: 'degC', value: 21.5 },
      { metric: 'co2_ppm', unit: 'ppm', value: 612 },
      { metric: 'battery_voltage_v', unit: 'V', value: 3.61 },
      { metric: 'door_open', unit: '', value: 1 },
      { metric: 'axes_0', unit: '', value: 1 },
      { metric: 'axes_1', unit: '', value: 2 },
    ]);
  });

  it('reports errors the codec returned, and results without data', () => {
    assert.deepEqual(readingsFromDecoded({ errors: ['unknown frame type 7'] }), { ok: false, reason: 'codec_errors', error: 'unknown frame type 7' });
    assert.equal(readingsFromDecoded({ warnings: [] }).ok, false);
    assert.equal(readingsFromDecoded(null).ok, false);
    assert.equal(readingsFromDecoded([1, 2]).ok, false);
  });

  it('keeps a non-finite number as a null value, and bounds the readings of one uplink', () => {
    const nan = readingsFromDecoded({ data: { x: Number.NaN } });
    assert.ok(nan.ok);
    assert.equal(nan.readings[0]!.value, null);
    const big = readingsFromDecoded({ data: Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`v${i}`, i])) });
    assert.ok(big.ok);
    assert.equal(big.readings.length, MAX_READINGS_PER_UPLINK);
    assert.ok(big.warnings.some((w) => w.includes('kept the first')));
  });

  it('sanitises keys that are not usable names', () => {
    const out = readingsFromDecoded({ data: { 'Temp (°C)': 20, '': 5 } });
    assert.ok(out.ok);
    assert.deepEqual(out.readings.map((r) => r.metric), ['Temp___C_']);
    assert.ok(out.warnings.some((w) => w.includes('not a usable metric name')));
  });
});

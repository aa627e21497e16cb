import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalize } from './canonical.ts';
import { ReadingEncoder } from './reading-encoder.ts';
import { readingRecord, type ReadingInput } from './records.ts';

test('the fast encoder writes exactly the JCS bytes of the record', () => {
  const device = 'site-a-gw1';
  const enc = new ReadingEncoder(device);
  const samples: ReadingInput[] = [
    { sensor: 'co2-1', metric: 'co2_ppm', ts: 1763884800123, value: 512, unit: 'ppm' },
    { sensor: 'e-1', metric: 'energy_kwh', ts: 1, value: -0, unit: 'kWh' },
    { sensor: 'n', metric: 'm', ts: 2, value: null, unit: '°C "quoted"\n' },
    { sensor: 'n', metric: 'm', ts: 3, value: 1e-7, unit: '', meta: { rssi: -87, snr: 7.5, gateway: 'aa555a0000000000', z: [1, 'é'] } },
    { sensor: 'n', metric: 'm', ts: 4, value: 333333333.33333329, unit: 'x' },
    { sensor: 'leak-1', metric: 'water_leak', ts: 5, value: null, unit: '', state: 'LEAK' },
    { sensor: 'node-1', metric: 'BatV', ts: 6, value: 2.3, unit: 'V', state: '2.3(low battery) "é"\n', meta: { fport: 2 } },
  ];
  for (let i = 0; i < 500; i++) {
    samples.push({ sensor: `s-${i}`, metric: 'power_kw', ts: 1763884800000 + i * 997, value: (Math.random() - 0.5) * 10 ** ((i % 40) - 20), unit: 'kW' });
  }
  const qualities = [{ score: 1, flags: [] }, { score: 0.7, flags: ['calibration_stale', 'warm_up'] }, { score: 0, flags: ['no_response'] }];
  samples.forEach((r, i) => {
    const q = qualities[i % qualities.length]!;
    assert.equal(enc.encode(100 + i, r, q), canonicalize(readingRecord(device, 100 + i, r, q)));
  });
});

test('non-finite values are refused, not written as null', () => {
  const enc = new ReadingEncoder('d');
  assert.throws(() => enc.encode(1, { sensor: 's', metric: 'm', ts: 1, value: NaN, unit: 'u' }, { score: 1, flags: [] }));
  assert.throws(() => enc.encode(1, { sensor: 's', metric: 'm', ts: 1, value: 1, unit: 'u' }, { score: Infinity, flags: [] }));
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { abcFrame, checksum, decodeCo2, GET_ABC, GET_RANGE, rangeFrame, READ_CO2, spanCalibrationFrame, zeroCalibrationFrame } from './protocol.ts';

const hex = (b: Buffer) => b.toString('hex').replace(/(..)(?!$)/g, '$1 ');

test('request frames match the published command bytes', () => {
  assert.equal(hex(READ_CO2), 'ff 01 86 00 00 00 00 00 79');
  assert.equal(hex(zeroCalibrationFrame()), 'ff 01 87 00 00 00 00 00 78');
  assert.equal(hex(spanCalibrationFrame(2000)), 'ff 01 88 07 d0 00 00 00 a0');
  assert.equal(hex(abcFrame(true)), 'ff 01 79 a0 00 00 00 00 e6');
  assert.equal(hex(abcFrame(false)), 'ff 01 79 00 00 00 00 00 86');
  assert.equal(hex(rangeFrame(2000)), 'ff 01 99 00 00 00 07 d0 8f');
  assert.equal(hex(rangeFrame(5000)), 'ff 01 99 00 00 00 13 88 cb');
  assert.equal(hex(rangeFrame(10000)), 'ff 01 99 00 00 00 27 10 2f');
  assert.equal(hex(GET_RANGE), 'ff 01 9b 00 00 00 00 00 64');
  assert.equal(hex(GET_ABC), 'ff 01 7d 00 00 00 00 00 82');
});

test('checksum and decoding of a 0x86 answer', () => {
  const f = Buffer.from('ff8602604700000000d1', 'hex').subarray(0, 9);
  const answer = Buffer.from('ff86026047000000d1', 'hex');
  assert.equal(checksum(answer), 0xd1);
  assert.deepEqual(decodeCo2(answer), { co2Ppm: 608, temperatureC: 31, status: 0 });
  assert.notEqual(checksum(f), f[8]);
  assert.equal(checksum(Buffer.from('ff9901000000000066', 'hex')), 0x66);
});

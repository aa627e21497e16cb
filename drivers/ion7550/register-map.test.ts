import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc16 } from './modbus-frames.ts';
import { decodeRaw, FACTORY_MAP, mapProblem, planBlocks, type RegisterEntry } from './register-map.ts';

const e = (metric: string, register: number, type: RegisterEntry['type'] = 'uint16'): RegisterEntry => ({ metric, register, type, scale: 1, unit: 'x' });

test('the factory map is read in one request of 116 registers from 40150', () => {
  const blocks = planBlocks(FACTORY_MAP, 64);
  assert.equal(blocks.length, 1);
  assert.equal(blocks[0]!.address, 149);
  assert.equal(blocks[0]!.count, 40265 - 40150 + 1);
  assert.equal(blocks[0]!.entries.length, FACTORY_MAP.length);
});

test('contiguous runs are merged; gaps beyond maxGap and the 125-register limit split', () => {
  const map = [e('c', 40010, 'int32'), e('a', 40001), e('b', 40002), e('d', 40012)];
  assert.deepEqual(
    planBlocks(map, 0).map((b) => [b.address, b.count, b.entries.map((x) => `${x.entry.metric}@${x.offset}`).join(',')]),
    [
      [0, 2, 'a@0,b@1'],
      [9, 3, 'c@0,d@2'],
    ],
  );
  assert.equal(planBlocks(map, 7).length, 1);
  assert.equal(planBlocks([e('a', 40001), e('z', 40126)], 200).length, 2, 'a request holds at most 125 registers');
  assert.equal(planBlocks([e('a', 40001), e('z', 40125)], 200).length, 1);
});

test('32-bit values are high word first; M10K is hi*10000+lo', () => {
  const b = Buffer.from([0x00, 0x01, 0x86, 0xa0, 0xff, 0xff, 0xff, 0xfe, 0x04, 0xd2, 0x16, 0x2e]);
  assert.equal(decodeRaw(b, 0, 'uint32'), 100_000);
  assert.equal(decodeRaw(b, 2, 'int32'), -2);
  assert.equal(decodeRaw(b, 2, 'int16'), -1);
  assert.equal(decodeRaw(b, 4, 'm10k'), 1234 * 10_000 + 5678);
});

test('overlapping or duplicate map entries are reported', () => {
  assert.equal(mapProblem(FACTORY_MAP), null);
  assert.match(mapProblem([e('a', 40001, 'int32'), e('b', 40002)])!, /register 40002 \(b\) overlaps 40001 \(a, int32\)/);
  assert.match(mapProblem([e('a', 40001), e('a', 40005)])!, /metric a appears twice/);
});

test('CRC-16/MODBUS of a read request', () => {
  // 01 03 00 00 00 0A -> CRC C5 CD (sent low byte first: C5 CD)
  const f = Buffer.from([0x01, 0x03, 0x00, 0x00, 0x00, 0x0a]);
  assert.equal(crc16(f), 0xcdc5);
});

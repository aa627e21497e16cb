import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JournalRecord, ReadingRecord } from '../../protocol/records.ts';
import { awsIotSchema } from './config.ts';
import { toMessages } from './messages.ts';
import { awsIotPlatform } from './platforms.ts';

function rec(seq: number, sensor: string, extra: Partial<ReadingRecord> = {}): ReadingRecord {
  return { v: 1, kind: 'reading', device: 'gw', seq, sensor, metric: 'co2_ppm', ts: 1_763_884_800_000 + seq, value: seq, unit: 'ppm', quality: { score: 1, flags: [] }, ...extra };
}

test('records to one topic share a message up to the count and byte limits; each is its own JSON with an id', () => {
  const records = Array.from({ length: 25 }, (_, i) => rec(i + 1, i % 2 === 0 ? 'a' : 'b'));
  const { messages, refused } = toMessages(records, false, { maxBytes: 1500, maxRecords: 5, topicOf: (r) => `t/${r.kind === 'reading' ? r.sensor : '_'}` });
  assert.deepEqual(refused, []);
  for (const m of messages) {
    assert.ok(m.records.length <= 5 && Buffer.byteLength(m.payload) <= 1500);
    const items = JSON.parse(m.payload) as { id: string; seq: number; historical?: boolean }[];
    assert.deepEqual(items.map((i) => i.seq), m.records.map((r) => r.seq));
    assert.ok(items.every((i) => i.id === `gw:${i.seq}` && i.historical === undefined));
  }
  assert.deepEqual(messages.flatMap((m) => m.records.map((r) => r.seq)).sort((x, y) => x - y), records.map((r) => r.seq));
  // exactly at the byte limit still fits
  const one = toMessages([rec(1, 'a')], true, { maxBytes: 10_000, maxRecords: 5, topicOf: () => 't' }).messages[0]!;
  assert.ok((JSON.parse(one.payload) as { historical: boolean }[])[0]!.historical);
  const exact = toMessages([rec(1, 'a')], true, { maxBytes: Buffer.byteLength(one.payload), maxRecords: 5, topicOf: () => 't' });
  assert.equal(exact.messages.length, 1);
});

test('a record larger than a message, or whose AWS topic would pass 256 bytes, is refused, not sent', () => {
  const big = rec(1, 'a', { state: 'x'.repeat(2000) } as Partial<ReadingRecord>);
  const platform = awsIotPlatform(awsIotSchema.parse({ url: 'mqtts://x-ats.iot.eu-west-1.amazonaws.com:8883', cert: '/c', key: '/k', topic: `${'t'.repeat(130)}/{device}/{sensor}` }), 'gw');
  const longSensor = rec(2, 's'.repeat(128));
  const gap: JournalRecord = { v: 1, kind: 'gap', device: 'gw', seq: 3, dropped: 10, from: 1, to: 2, reason: 'disk_full' };
  const { messages, refused } = toMessages([big, longSensor, gap, rec(4, 'ok')], false, { maxBytes: 1024, maxRecords: 100, topicOf: (r) => platform.topicOf(r) });
  assert.deepEqual(refused.map((r) => [r.record.seq, r.reason]), [[1, 'too_large'], [2, 'topic_too_long']]);
  assert.deepEqual(messages.map((m) => m.topic), [`${'t'.repeat(130)}/gw/_journal`, `${'t'.repeat(130)}/gw/ok`]);
});

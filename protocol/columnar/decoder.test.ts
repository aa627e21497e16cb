import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { prng } from '../../kernel/prng.ts';
import { canonicalize } from '../canonical.ts';
import { readingRecord, gapRecord, type JournalRecord } from '../records.ts';
import { generateKey } from '../signature.ts';
import { encodeColumnar, encodeColumnarLines } from './encoder.ts';
import { ZERO_HASH } from '../hash.ts';
import { signBatch } from '../batch.ts';
import { ColumnarError, decodeColumnar } from './decoder.ts';

const key = generateKey();
const CREATED = 1_763_884_800_000;

function roundTrip(records: JournalRecord[]): string[] {
  const batch = signBatch('site-a', key, 1, records, ZERO_HASH, CREATED);
  const decoded = decodeColumnar(encodeColumnar(batch.header, records as unknown as Record<string, unknown>[]), 100_000);
  assert.ok(decoded.lines);
  assert.deepEqual(decoded.header, batch.header);
  return decoded.lines;
}

function randomValue(rng: () => number): number | null {
  const k = Math.floor(rng() * 8);
  if (k === 0) return null;
  if (k === 1) return rng() * 1e6 - 5e5; // a float with no short decimal form
  if (k === 2) return Math.round(rng() * 1e12) * (rng() < 0.5 ? -1 : 1);
  if (k === 3) return 1e21 * rng();
  if (k === 4) return Number.MIN_VALUE * Math.ceil(rng() * 10);
  return Math.round((rng() * 2000 - 1000) * 10 ** Math.floor(rng() * 6)) / 10 ** Math.floor(rng() * 6);
}

describe('columnar wire encoding', () => {
  it('rebuilds the right template when a series moves among a few qualities and metas in any order', () => {
    const rng = prng(11);
    const qualities = [{ score: 1, flags: [] }, { score: 0.6, flags: ['calibration_stale'] }, { score: 0.6, flags: [] }, { score: 1, flags: ['spike'] }];
    const metas = [undefined, { register: 40001 }, { register: 40002 }];
    const records: JournalRecord[] = [];
    for (let seq = 1; seq <= 2000; seq++) {
      // runs of one combination, then a jump to any other: the two kept per series are hit, swapped and missed
      const pick = seq % 5 === 0 || rng() < 0.3 ? Math.floor(rng() * 12) : (seq >> 3) % 12;
      const meta = metas[pick % 3];
      records.push(readingRecord('site-a', seq, {
        sensor: `s-${seq % 3}`, metric: 'power_kw', unit: 'kW', ts: 1763884800000 + seq * 1000, value: seq % 9 === 0 ? null : seq / 10, ...(meta ? { meta } : {}),
      }, qualities[pick % 4]!));
    }
    const lines = roundTrip(records);
    for (let i = 0; i < records.length; i++) assert.equal(lines[i], canonicalize(records[i]), `record ${i}`);
  });

  it('rebuilds the canonical bytes of random readings, gaps, metadata and odd numbers exactly', () => {
    const rng = prng(7);
    const records: JournalRecord[] = [];
    for (let seq = 1; seq <= 3000; seq++) {
      if (seq % 500 === 0) {
        records.push(gapRecord('site-a', seq, 12, 1000, 2000, 'disk_full'));
        continue;
      }
      const meta = seq % 37 === 0 ? { port: 'ttyUSB0', note: 'ünïcode "quoted"', n: [1, 2.5, null] } : undefined;
      const flags = seq % 13 === 0 ? ['spike', 'calibration_stale'] : seq % 7 === 0 ? ['range'] : [];
      records.push(readingRecord('site-a', seq, {
        sensor: `s-${Math.floor(rng() * 30)}`, metric: rng() < 0.5 ? 'co2_ppm' : 'power_kw', unit: 'x',
        ts: 1763884800000 + seq * 1000 + Math.floor(rng() * 2000) - 1000, value: randomValue(rng), ...(meta ? { meta } : {}),
      }, { score: Math.round(rng() * 1000) / 1000, flags }));
    }
    // A reading with a field the columns do not know travels raw, and still round-trips.
    (records[10] as unknown as Record<string, unknown>).extra = { any: 'thing' };
    // So do readings that carry text (a codec's state), with and without a value and meta.
    records[20] = readingRecord('site-a', 21, { sensor: 'leak-1', metric: 'water_leak', unit: '', ts: 1763884821000, value: null, state: 'LEAK' }, { score: 1, flags: [] });
    records[21] = readingRecord('site-a', 22, { sensor: 'node-1', metric: 'BatV', unit: 'V', ts: 1763884822000, value: 2.3, state: '2.3(low battery)', meta: { fport: 2 } }, { score: 1, flags: [] });
    const lines = roundTrip(records);
    assert.equal(lines.length, records.length);
    for (let i = 0; i < records.length; i++) assert.equal(lines[i], canonicalize(records[i]), `record ${i}`);
    // From the journal's lines, as the uplink encodes them: the same bytes come back.
    const batch = signBatch('site-a', key, 1, records, ZERO_HASH, CREATED);
    const fromLines = decodeColumnar(encodeColumnarLines(batch.header, records.map((r) => canonicalize(r))), 100_000);
    assert.deepEqual(fromLines.lines, lines);
  });

  it('reads canonical reading lines directly, and sends lines it cannot reproduce raw', () => {
    const good = readingRecord('site-a', 1, { sensor: 'a', metric: 'm', unit: 'u', ts: 5, value: 1.5 }, { score: 0.5, flags: ['x', 'y'] });
    const escaped = readingRecord('site-a', 2, { sensor: 'tab\there', metric: 'm', unit: '"u"', ts: 6, value: null }, { score: 1, flags: [] });
    const lines = [canonicalize(good), canonicalize(escaped), '{"device":"site-a","kind":"reading","metric":"m","quality":{"flags":[],"score":1},"sensor":"a","seq":3,"ts":7,"unit":"u","v":1,"value":1.50}'];
    const batch = signBatch('site-a', key, 1, [good, escaped, JSON.parse(lines[2]!)], ZERO_HASH, CREATED);
    const out = decodeColumnar(encodeColumnarLines(batch.header, lines), 10);
    assert.equal(out.lines![0], lines[0]);
    assert.equal(out.lines![1], lines[1]);
    // a non-canonical line travels raw and comes back canonical (its root then decides)
    assert.equal(out.lines![2], canonicalize(JSON.parse(lines[2]!)));
  });

  it('needs at most 8 bytes a reading for 1 Hz sensor data once gzipped', () => {
    const records: JournalRecord[] = [];
    let v = 412.3;
    for (let seq = 1; seq <= 2000; seq++) {
      v = Math.round((v + Math.sin(seq) * 0.7) * 10) / 10;
      records.push(readingRecord('site-a', seq, { sensor: `co2-${(seq % 10) + 1}`, metric: 'co2_ppm', unit: 'ppm', ts: 1763884800000 + Math.floor(seq / 10) * 1000 + (seq % 3), value: v }, { score: 1, flags: [] }));
    }
    const batch = signBatch('site-a', key, 1, records, ZERO_HASH, CREATED);
    const wire = gzipSync(encodeColumnar(batch.header, records as unknown as Record<string, unknown>[]));
    const perReading = wire.length / records.length;
    assert.ok(perReading <= 8, `${perReading.toFixed(2)} bytes a reading`);
    const json = gzipSync(JSON.stringify(batch)).length / records.length;
    assert.ok(perReading < json / 3, `columnar ${perReading} vs gzip JSON ${json}`);
  });

  it('refuses every truncation of a body with a one-line ColumnarError', () => {
    const records = Array.from({ length: 50 }, (_, i) => readingRecord('site-a', i + 1, { sensor: 'a', metric: 'm', unit: 'u', ts: 1000 * i, value: i / 10 }, { score: 1, flags: [] }));
    const batch = signBatch('site-a', key, 1, records, ZERO_HASH, CREATED);
    const body = encodeColumnar(batch.header, records as unknown as Record<string, unknown>[]);
    for (let cut = 0; cut < body.length; cut++) {
      assert.throws(() => decodeColumnar(body.subarray(0, cut), 1000), (err: unknown) => err instanceof ColumnarError && !err.message.includes('\n'), `cut at ${cut}`);
    }
    assert.throws(() => decodeColumnar(Buffer.concat([body, Buffer.from([0])]), 1000), /trailing/);
  });

  it('refuses a batch over the record limit before decoding its columns', () => {
    const records = Array.from({ length: 20 }, (_, i) => readingRecord('site-a', i + 1, { sensor: 'a', metric: 'm', unit: 'u', ts: i, value: 1 }, { score: 1, flags: [] }));
    const batch = signBatch('site-a', key, 1, records, ZERO_HASH, CREATED);
    assert.throws(() => decodeColumnar(encodeColumnar(batch.header, records as unknown as Record<string, unknown>[]), 10), (e: unknown) => e instanceof ColumnarError && e.reason === 'too_many_records');
  });

  it('refuses a non-finite value smuggled into the float column', () => {
    const records = [readingRecord('site-a', 1, { sensor: 'a', metric: 'm', unit: 'u', ts: 1, value: 0.1 + 0.2 }, { score: 1, flags: [] })];
    const batch = signBatch('site-a', key, 1, records, ZERO_HASH, CREATED);
    const body = encodeColumnar(batch.header, records as unknown as Record<string, unknown>[]);
    const at = body.indexOf(Buffer.from(new Float64Array([0.1 + 0.2]).buffer));
    assert.ok(at > 0);
    Buffer.from(new Float64Array([Infinity]).buffer).copy(body, at);
    assert.throws(() => decodeColumnar(body, 10), /finite/);
  });

  it('holds meta and raw records to the nesting a JSON body of the batch may have, and refuses Infinity in them as the record\'s', () => {
    const reading = (seq: number, meta: Record<string, unknown>) => readingRecord('site-a', seq, { sensor: 'a', metric: 'm', unit: 'u', ts: seq, value: 1, meta: meta as never }, { score: 1, flags: [] });
    const body = (meta: Record<string, unknown>) => {
      const records = [reading(1, meta)];
      return encodeColumnar(signBatch('site-a', key, 1, records, ZERO_HASH, CREATED).header, records as unknown as Record<string, unknown>[]);
    };
    // {"records": [{"meta": {"a": {"b": 1}}}]} nests 5 levels: 4 leave meta one
    const twoLevels = body({ a: { b: 1 } });
    assert.equal(decodeColumnar(twoLevels, 10, 64 * 1024, 5).lines.length, 1);
    assert.throws(() => decodeColumnar(twoLevels, 10, 64 * 1024, 4), (e: unknown) => e instanceof ColumnarError && e.reason === 'malformed' && /^columnar body has meta nested deeper than 1 levels/.test(e.message));
    const infinite = body({ a: 12345 });
    infinite.write('{"a":1e999}', infinite.indexOf('{"a":12345}'));
    assert.throws(() => decodeColumnar(infinite, 10), (e: unknown) => e instanceof ColumnarError && e.reason === 'bad_record' && /Infinity/.test(e.message));
  });
});

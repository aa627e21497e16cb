// The parser may decline a line, but what it accepts must re-encode to exactly that line.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prng } from '../../kernel/prng.ts';
import { ReadingEncoder } from '../reading-encoder.ts';
import { canonicalDecimal, CanonicalReadingParser } from './canonical-reading-parser.ts';

function decimal(text: string): number | null {
  return canonicalDecimal(text, 0, text.length);
}

describe('canonical decimal', () => {
  it('accepts only texts that Number::toString writes back unchanged', () => {
    const rnd = prng(7);
    let accepted = 0;
    for (let i = 0; i < 200_000; i++) {
      const kind = i % 4;
      const v =
        kind === 0 ? Math.round((rnd() - 0.5) * 10 ** Math.floor(rnd() * 12)) / 10 ** Math.floor(rnd() * 8)
        : kind === 1 ? (rnd() - 0.5) * 10 ** Math.floor(rnd() * 30 - 12)
        : kind === 2 ? Math.floor(rnd() * 2 ** 53) * (rnd() < 0.5 ? -1 : 1)
        : Math.round(rnd() * 1e6) / 10 ** Math.floor(rnd() * 14);
      const text = String(v);
      const n = decimal(text);
      if (n === null) continue;
      accepted++;
      assert.ok(n === v, `${text} read as ${n}`); // -0 is written "0" and read as 0
      assert.equal(String(n), text);
    }
    assert.ok(accepted > 90_000, `only ${accepted} accepted`);
  });

  it('declines every other form of a number', () => {
    for (const t of ['', '-', '-0', '01', '1.', '.5', '1.0', '1.50', '+1', '1e5', '1E5', '0x10', 'NaN', 'Infinity', '0.0000001', '1234567890123456', '0.1234567890123456', '1 ', '1,2', '0.000']) {
      assert.equal(decimal(t), null, t);
    }
    for (const [t, v] of [['0', 0], ['-1.5', -1.5], ['0.000001', 1e-6], ['123456789012345', 123456789012345], ['0.1', 0.1], ['412.3', 412.3]] as const) {
      assert.equal(decimal(t), v, t);
    }
  });

  it('reads a decimal inside a longer line', () => {
    assert.equal(canonicalDecimal('"ts":1763884800123,', 5, 18), 1763884800123);
  });
});

describe('canonical reading parser', () => {
  const device = 'dev-1';
  const encoder = new ReadingEncoder(device);

  it('reads back every field of readings the protocol encoder wrote', () => {
    const rnd = prng(11);
    const parser = new CanonicalReadingParser(device);
    for (let i = 0; i < 20_000; i++) {
      const seq = 1 + Math.floor(rnd() * 1e9);
      const value = i % 17 === 0 ? null : i % 5 === 0 ? (rnd() - 0.5) * 1e9 : Math.round((rnd() - 0.3) * 1e5) / 10 ** (i % 4);
      const flags = i % 3 === 0 ? [] : i % 3 === 1 ? ['stale'] : ['clamped', 'spike'];
      const r = { sensor: `s-${i % 9}`, metric: i % 2 ? 'co2_ppm' : 'temperature_c', unit: i % 2 ? 'ppm' : 'degC', ts: 1763884800000 + Math.floor(rnd() * 1e9), value };
      const quality = { score: i % 7 === 0 ? 0.25 : 1, flags };
      const line = encoder.encode(seq, r, quality);
      const got = parser.parse(line, seq);
      if (got === null) {
        // declining is allowed only for a number written in a form the parser does not prove
        assert.ok(value !== null && decimal(String(value)) === null, `declined ${line}`);
        continue;
      }
      assert.equal(encoder.encode(seq, got, { score: got.score, flags: got.flags }), line);
      assert.deepEqual(got, { ...r, score: quality.score, flags });
    }
  });

  it('declines lines it cannot prove it reads exactly', () => {
    const parser = new CanonicalReadingParser(device);
    const good = encoder.encode(5, { sensor: 's', metric: 'm', unit: 'u', ts: 1000, value: 1.5 }, { score: 1, flags: [] });
    assert.ok(parser.parse(good, 5));
    const bad = [
      good.replace('"value":1.5', '"value":1.50'),
      good.replace('"ts":1000', '"ts":1000.0'),
      good.replace('"ts":1000', '"ts":1.5'),
      good.replace('"sensor":"s"', '"sensor":"s\\u0041"'),
      good.replace('"sensor":"s"', '"sensor":"s\u0001"'),
      good.replace('"sensor":"s"', '"sensor":"\ud800"'),
      good.replace('"device":"dev-1"', '"device":"dev-2"'),
      good.replace('"score":1', '"score":1e0'),
      good + ' ',
      encoder.encode(5, { sensor: 's', metric: 'm', unit: 'u', ts: 1000, value: 1.5, meta: { a: 1 } }, { score: 1, flags: [] }),
    ];
    for (const line of bad) assert.equal(parser.parse(line, 5), null, line);
    assert.equal(parser.parse(good, 6), null, 'another seq');
    assert.equal(parser.parse(good, 50), null, 'a seq that starts the same');
  });
});

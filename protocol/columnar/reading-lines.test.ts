// Lines built from the per-combination templates are the protocol encoder's lines, byte for byte,
// whatever the series, quality and meta hold (meta with a "seq" member included).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonValue } from '../canonical.ts';
import { ReadingEncoder } from '../reading-encoder.ts';
import { ReadingLines } from './reading-lines.ts';

describe('reading lines', () => {
  it('match ReadingEncoder for every combination of series, quality, meta, ts and value', () => {
    const device = 'dev "quoted" \u00e9';
    const encoder = new ReadingEncoder(device);
    const lines = new ReadingLines(device);
    const series = [
      { sensor: 's-1', metric: 'co2_ppm', unit: 'ppm' },
      { sensor: 'odd "name"\\', metric: 'm\u2028', unit: '\u00b0C' },
    ];
    const metas: ({ [k: string]: JsonValue } | undefined)[] = [undefined, { seq: 5, ts: 1, nested: { unit: 'x', value: null } }, { a: [1, 'b'] }];
    const qualities = [{ score: 1, flags: [] }, { score: 0.5, flags: ['spike', 'x"y'] }, { score: -0, flags: ['stale'] }];
    const values = [null, 0, -0, 412.3, -1e-7, 1e21, 123456789.123456, 2 ** 53];
    let n = 0;
    for (const [si, s] of series.entries()) {
      for (const [mi, meta] of metas.entries()) {
        for (const [qi, q] of qualities.entries()) {
          const t = lines.template(`${si}:${qi}:${mi}`, s, meta, q.score, q.flags);
          for (const value of values) {
            for (const ts of [0, 1763884800123, -5]) {
              const seq = 1 + n++;
              const expected = encoder.encode(seq, { ...s, ts, value, ...(meta ? { meta } : {}) }, q);
              assert.equal(ReadingLines.line(t, seq, ts, value), expected);
            }
          }
        }
      }
    }
  });

  it('keeps one template per key', () => {
    const lines = new ReadingLines('d');
    const s = { sensor: 'a', metric: 'b', unit: 'c' };
    assert.equal(lines.template('k', s, undefined, 1, []), lines.template('k', s, undefined, 1, []));
    assert.notEqual(lines.template('k', s, undefined, 1, []), lines.template('k2', s, undefined, 1, []));
  });
});

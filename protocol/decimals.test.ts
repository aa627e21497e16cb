import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commonDecimals, decimal } from './decimals.ts';

describe('decimal scales', () => {
  it('gives a value its fewest exact decimals, and none past nine or past the safe integers', () => {
    assert.deepEqual(decimal(415.25), { scale: 2, m: 41525 });
    assert.deepEqual(decimal(0.1), { scale: 1, m: 1 });
    assert.deepEqual(decimal(-3), { scale: 0, m: -3 });
    assert.equal(decimal(1 / 3), null);
    assert.equal(decimal(1e-10), null);
    assert.equal(decimal(2 ** 60), null);
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY]) assert.equal(decimal(v), null);
  });

  it('gives a column the scale its most precise value needs, skips what it does not hold, and checks the limit at that scale', () => {
    const column = (values: (number | null)[], limit?: number) => commonDecimals(values.length, (k) => values[k]!, limit);
    assert.equal(column([1, 2.5, null, 0.125]), 3);
    assert.equal(column([null, null]), 0);
    assert.equal(column([0.123456789, 1e6]), 9);
    assert.equal(column([0.123456789, 1e8]), null, '1e8 at nine decimals is past the safe integers');
    assert.equal(column([0.5, 2 ** 47], 2 ** 51 - 1), 1);
    assert.equal(column([0.5, 2 ** 48], 2 ** 51 - 1), null, '2^48 at one decimal is past the limit');
    assert.equal(column([1, Number.NaN]), null);
  });
});

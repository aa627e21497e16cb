// The running statistics the detectors rest on, checked against the obvious computation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prng } from '../../kernel/prng.ts';
import { RollingRanks, RollingStats, normalTail } from './stats.ts';

test('rolling ranks agree with counting the last values by hand, ties and window turnover included', () => {
  const rand = prng(7);
  for (const size of [1, 2, 7, 50]) {
    const ranks = new RollingRanks(size);
    const held: number[] = [];
    for (let i = 0; i < 400; i++) {
      // few distinct values, so that ties and repeated removals of equal values are common
      const x = i % 97 === 0 ? -1e6 : Math.floor(rand() * 12) / 2;
      ranks.push(x);
      held.push(x);
      if (held.length > size) held.shift();
      assert.equal(ranks.count, held.length);
      for (const q of [x, x + 0.25, x - 0.5, -2e6, 2e6, 3]) {
        const below = held.filter((v) => v < q).length;
        const above = held.filter((v) => v > q).length;
        assert.equal(ranks.below(q), below, `size ${size}, push ${i}, below ${q}`);
        assert.equal(ranks.above(q), above, `size ${size}, push ${i}, above ${q}`);
        assert.equal(ranks.shareBeyond(q), Math.min(below, above) / held.length);
      }
    }
  }
});

test('share beyond: the extremes and a shared floor count as tails, the median does not', () => {
  const ranks = new RollingRanks(100);
  assert.equal(ranks.shareBeyond(5), 0, 'nothing held, nothing beyond');
  for (let i = 0; i < 100; i++) ranks.push(i < 30 ? 0 : i);
  assert.equal(ranks.shareBeyond(0), 0, 'a floor many readings share');
  assert.equal(ranks.shareBeyond(99), 0);
  assert.equal(ranks.shareBeyond(1000), 0);
  assert.equal(ranks.shareBeyond(98), 0.01);
  assert.ok(ranks.shareBeyond(65) > 0.3);
});

test('rolling stats: mean and variance of the last values', () => {
  const s = new RollingStats(4);
  for (const v of [1, 2, 3, 4, 100, 6]) s.push(v);
  // the last four: 3, 4, 100, 6
  assert.equal(s.mean(), 28.25);
  assert.ok(Math.abs(s.variance() - ((3 - 28.25) ** 2 + (4 - 28.25) ** 2 + (100 - 28.25) ** 2 + (6 - 28.25) ** 2) / 4) < 1e-9);
  assert.equal(s.at(0), 6);
  assert.equal(s.at(3), 3);
});

test('normal tail matches known values', () => {
  assert.ok(Math.abs(normalTail(0) - 0.5) < 1e-7);
  assert.ok(Math.abs(normalTail(1.959964) - 0.025) < 1e-6);
  assert.ok(Math.abs(normalTail(-1) - 0.8413447) < 1e-6);
});

test('rolling ranks hold single precision: a query rounds as the held values did', () => {
  const ranks = new RollingRanks(10);
  for (let i = 0; i < 10; i++) ranks.push(13.91);
  // 13.91 is not exact in single precision; asked about the same reading, it is a tie, not beyond
  assert.equal(ranks.below(13.91), 0);
  assert.equal(ranks.above(13.91), 0);
  assert.equal(ranks.above(13.9), 10);
});

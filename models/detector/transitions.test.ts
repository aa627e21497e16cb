// The young stream's transition member: a transition made before is no surprise, a new one is,
// and the member falls silent (its table released) once its steps are over.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TransitionNovelty } from './transitions.ts';

test('a repeating pattern stops surprising after its first cycle; a new transition surprises', () => {
  const t = new TransitionNovelty(4, 16, 1000);
  const pattern = [0, 5, 10, 15, 10, 5];
  const out: number[] = [];
  for (let i = 0; i < 60; i++) out.push(t.update(pattern[i % pattern.length]!));
  // nothing until a whole context of 4 steps is there
  assert.ok(out.slice(0, 4).every(Number.isNaN));
  assert.equal(out[4], 1, 'the first transitions are all new');
  // once its range is known (the bands are of the range seen so far), nothing is new
  assert.ok(out.slice(3 * pattern.length).every((v) => v === 0), `${out.join(',')}`);
  // the pattern ended at 5, which it always left for 0: a jump to 15 from there is new
  assert.equal(t.update(15), 1);
});

test('a value in a known band after a known context is no surprise, whatever its exact size', () => {
  const t = new TransitionNovelty(2, 4, 1000);
  for (let i = 0; i < 40; i++) t.update(i % 2 === 0 ? 0 : 100);
  // 99 is in the same top band as 100: the transitions from (0, 100) and (100, 0) are known
  assert.equal(t.update(0), 0);
  assert.equal(t.update(99), 0);
});

test('the member speaks only for its first steps, then releases its memory', () => {
  const t = new TransitionNovelty(4, 16, 50);
  for (let i = 0; i < 50; i++) {
    const v = t.update(i % 7);
    assert.ok(i < 4 || Number.isFinite(v), `step ${i}`);
  }
  assert.ok(t.active);
  assert.ok(Number.isNaN(t.update(3)));
  assert.equal(t.active, false);
  assert.ok(Number.isNaN(t.update(100)));
});

test('transitions too long for a 31-bit code are refused', () => {
  assert.throws(() => new TransitionNovelty(8, 16, 100), /31-bit/);
  assert.throws(() => new TransitionNovelty(0, 16, 100), /length of at least 1/);
});

// What a client asking for costly work (record proofs, readings queries) may hold of the sink.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkSlots } from './work-slots.ts';

test('runs a few at once, lets a bounded number wait their turn in order, refuses the rest at once', async () => {
  const slots = new WorkSlots(2, 3, () => new Error('busy'));
  const gates: (() => void)[] = [];
  const started: number[] = [];
  const outcomes: string[] = [];
  const ask = (i: number) => slots.run(async () => {
    started.push(i);
    await new Promise<void>((r) => gates.push(r));
    return i;
  }).then((v) => outcomes.push(`done ${v}`), (e: Error) => outcomes.push(`${e.message} ${i}`));
  const all = [1, 2, 3, 4, 5, 6, 7].map(ask);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(started, [1, 2], 'two run');
  assert.deepEqual(outcomes, ['busy 6', 'busy 7'], 'three wait; the sixth and seventh are refused before any work');
  gates.shift()!();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(started, [1, 2, 3], 'the first to wait takes the slot that was freed');
  while (gates.length > 0 || started.length < 5) {
    gates.shift()?.();
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(all);
  assert.deepEqual(started, [1, 2, 3, 4, 5]);
  // all slots free again: a failing piece of work gives its slot back too
  await assert.rejects(slots.run(async () => { throw new Error('failed'); }), /failed/);
  const free = await Promise.all([slots.run(async () => 'a'), slots.run(async () => 'b')]);
  assert.deepEqual(free, ['a', 'b']);
});

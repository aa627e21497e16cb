// The scorer keeps the detector's steps on the clock when readings are lost: a short gap is filled
// for the detector's first stage and the forecaster's history, a long one is not, and a filled
// step is never judged, scored or alerted on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultDetectorParams } from './detector/detector.ts';
import { MAX_FILLED_STEPS, StreamScorer, defaultModelPolicy, type TrainFn } from './stream-scorer.ts';

const STEP = 300_000;

/** a scorer whose first training hands over the history it was given, and trains nothing */
function recording(minTrainReadings: number): { scorer: StreamScorer; histories: Float64Array[] } {
  const histories: Float64Array[] = [];
  const train: TrainFn = async (history) => {
    histories.push(history);
    return null;
  };
  const policy = { ...defaultModelPolicy, minTrainReadings, historySize: 3000 };
  return { scorer: new StreamScorer(defaultDetectorParams, policy, train), histories };
}

test('readings lost in short gaps are filled in on the line between their neighbours, one step each', async () => {
  const { scorer, histories } = recording(400);
  const lost = new Set<number>();
  for (let slot = 20; slot < 400; slot += 17) for (let k = 0; k < 1 + (slot % 4); k++) lost.add(slot + k);
  // a ramp: the value is the clock's step, so a step filled on the line between two readings is
  // the value that was lost, and the history is 0, 1, 2, ... only if every lost step is in it once
  for (let slot = 0; slot < 500; slot++) {
    if (lost.has(slot)) continue;
    scorer.score(slot, slot * STEP);
    if (scorer.pendingTraining) await scorer.pendingTraining;
  }
  assert.equal(scorer.filledSteps, lost.size);
  const h = histories[0]!;
  assert.equal(h.length, 400);
  h.forEach((v, i) => assert.ok(Math.abs(v - i) < 1e-9, `step ${i} is ${v}`));
});

test('a gap longer than a few steps is not filled: the stream resumes where it was', async () => {
  const { scorer, histories } = recording(200);
  const outage = MAX_FILLED_STEPS + 1;
  for (let slot = 0; slot < 300; slot++) {
    if (slot >= 100 && slot < 100 + outage) continue;
    scorer.score(slot, slot * STEP);
    if (scorer.pendingTraining) await scorer.pendingTraining;
  }
  assert.equal(scorer.filledSteps, 0);
  const h = histories[0]!;
  assert.equal(h[99], 99);
  assert.equal(h[100], 100 + outage);
});

test('a stream read faster than the step: a gap closes the block under way and fills whole steps only', () => {
  const scorer = new StreamScorer();
  const every = 15_000;
  let ts = 0;
  for (let i = 0; i < 200; i++) scorer.score(1, (ts += every));
  assert.equal(scorer.blockSize, 20);
  // an uplink or two lost inside a step fills nothing
  scorer.score(1, (ts += 3 * every));
  assert.equal(scorer.filledSteps, 0);
  // ten minutes without a reading: two steps
  scorer.score(1, (ts += 600_000 + every));
  assert.equal(scorer.filledSteps, 2);
});

test('filled steps are never judged: a record after a short gap is still a detection, not held off by its fill', () => {
  const run = (gapSteps: number) => {
    const scorer = new StreamScorer();
    let seed = 11;
    const noise = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5);
    let slot = 0;
    for (; slot < 2000; slot++) assert.ok(scorer.score(10 + noise(), slot * STEP).score < 0.7);
    slot += gapSteps;
    // far beyond anything seen: a new extreme, which the filled steps on the way to it also are
    return { verdict: scorer.score(100, slot * STEP), filled: scorer.filledSteps };
  };
  const direct = run(0);
  assert.ok(direct.verdict.score >= 0.7, `without a gap ${direct.verdict.score}`);
  const after = run(3);
  assert.equal(after.filled, 3);
  assert.ok(after.verdict.score >= 0.7, `after a gap ${after.verdict.score}`);
  assert.equal(after.verdict.kind, direct.verdict.kind);
});

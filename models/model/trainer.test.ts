// The training worker's life: none until a job needs one, gone again after a while without jobs,
// back for the next job.
import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { ModelTrainer } from './trainer.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fieldproof-trainer-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('starts no worker to learn that there is no saved model', async () => {
  const trainer = new ModelTrainer();
  await trainer.start();
  try {
    await assert.rejects(trainer.load(join(dir, 'none')), /model\.json: no saved model$/);
    assert.equal(trainer.running, false);
  } finally {
    await trainer.stop();
  }
});

it('starts the worker with a job, ends it when idle, and starts another for the next job', async () => {
  const trainer = new ModelTrainer({ idleMs: 300 });
  await trainer.start();
  try {
    assert.equal(trainer.running, false);
    // too short a history to train on: the worker answers with no weights
    const short = new Float64Array(10).fill(1);
    assert.deepEqual(await trainer.train(short, null), { weights: null, kept: false });
    assert.equal(trainer.running, true);
    const until = Date.now() + 10_000;
    while (trainer.running && Date.now() < until) await sleep(50);
    assert.equal(trainer.running, false, 'the idle worker ended');
    assert.deepEqual(await trainer.train(short, null), { weights: null, kept: false });
    assert.match(trainer.backend ?? '', /^(wasm|cpu)$/);
  } finally {
    await trainer.stop();
  }
  assert.equal(trainer.running, false);
  await assert.rejects(trainer.train(new Float64Array(10), null), /not started/);
});

// The validation component with its real training worker: rules flag, the model is trained off
// the pipeline's thread, saved with the tf.io file handlers under the data dir, loaded again by
// the next run, and a spike in a learned signal is flagged as an anomaly (and kept).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { performance } from 'node:perf_hooks';
import type { ReadingInput } from '../protocol/records.ts';
import type { Assessor } from '../kernel/component.ts';
import { silentLogger } from '../kernel/log.ts';
import { Registry } from '../kernel/metrics.ts';
import { validationSchema } from './config.ts';
import { ValidationComponent } from './validation.ts';

const dir = mkdtempSync(join(tmpdir(), 'fp-validation-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// a reading every 5 minutes: each one a step of the detector (a faster stream is seen as means)
const STEP = 300_000;
const T0 = Date.now() - 2000 * STEP;
function co2(i: number, value?: number): ReadingInput {
  return { sensor: 'co2-1', metric: 'co2_ppm', ts: T0 + i * STEP, value: value ?? 600 + 150 * Math.sin(i / 20) + ((i * 7919) % 13) - 6, unit: 'ppm' };
}

function make(metrics = new Registry()) {
  let assessor: Assessor | null = null;
  const config = validationSchema.parse({ model: { minTrainReadings: 300, retrainReadings: 100_000, retrainIntervalMs: 0 } });
  const c = new ValidationComponent({ config, dataDir: dir, log: silentLogger(), metrics, addAssessor: (a) => (assessor = a) });
  return { c, metrics, assess: (r: ReadingInput) => assessor!.assess(r) };
}

test('trains in the worker, saves the model in the data dir, flags a spike without dropping it', { timeout: 60_000 }, async () => {
  const { c, assess, metrics } = make();
  await c.start();
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  for (let i = 0; i < 310; i++) assess(co2(i));
  const started = Date.now();
  await c.idle();
  clearInterval(timer);
  // the event loop kept turning while the model trained
  assert.ok(ticks >= Math.floor((Date.now() - started) / 5) * 0.3, `only ${ticks} timer ticks during ${Date.now() - started} ms of training`);
  const model = c.streamModel('co2-1', 'co2_ppm');
  assert.ok(model, 'a model was trained');
  assert.ok(existsSync(join(dir, 'models', 'co2-1', 'co2_ppm', 'model.json')));
  assert.ok(existsSync(join(dir, 'models', 'co2-1', 'co2_ppm', 'weights.bin')));
  const normal = [];
  for (let i = 310; i < 900; i++) normal.push(assess(co2(i)));
  const falseAlarms = normal.filter((v) => v.flags.includes('anomaly')).length;
  assert.ok(falseAlarms <= 3, `${falseAlarms} anomalies flagged in a clean signal`);
  const spike = assess(co2(900, 3000));
  assert.ok(spike.flags.includes('anomaly'), `spike flags: ${spike.flags.join(',')}`);
  assert.ok(spike.factor < 1);
  const out = assess(co2(901, 20_000));
  assert.ok(out.flags.includes('out_of_range'));
  const text = await metrics.metrics();
  assert.match(text, /fieldproof_validation_model_trainings_total\{result="trained"\} 1/);
  assert.match(text, /fieldproof_validation_flags_total\{flag="anomaly"\}/);
  await c.stop();
});

test('the next run loads the saved model; a damaged one is reported and retrained', { timeout: 60_000 }, async () => {
  const { c, assess, metrics } = make();
  await c.start();
  assess(co2(0));
  for (let i = 0; i < 400 && !c.streamModel('co2-1', 'co2_ppm'); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(c.streamModel('co2-1', 'co2_ppm'), 'saved model loaded at start');
  assert.match(await metrics.metrics(), /result="loaded"\} 1/);
  await c.stop();

  writeFileSync(join(dir, 'models', 'co2-1', 'co2_ppm', 'weights.bin'), Buffer.alloc(7));
  const second = make();
  await second.c.start();
  second.assess(co2(0));
  for (let i = 0; i < 400 && !/load_failed/.test(await second.metrics.metrics()); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(await second.metrics.metrics(), /result="load_failed"\} 1/);
  assert.equal(second.c.streamModel('co2-1', 'co2_ppm'), null);
  for (let i = 1; i < 310; i++) second.assess(co2(i));
  await second.c.idle();
  assert.ok(second.c.streamModel('co2-1', 'co2_ppm'), 'retrained after the damaged model');
  await second.c.stop();
});

test('a stream that goes quiet is reported silent on the board until it speaks again', async () => {
  const board = new Map<string, unknown>();
  let assessor: Assessor | null = null;
  // history replayed faster than it happened: the device clock "jumps" against elapsed time by design
  const config = validationSchema.parse({ model: { enabled: false }, clock: { maxJumpMs: Number.MAX_SAFE_INTEGER } });
  const metrics = new Registry();
  const c = new ValidationComponent({ config, dataDir: dir, log: silentLogger(), metrics, board: { set: (k, v) => board.set(k, v), get: (k) => board.get(k), snapshot: () => Object.fromEntries(board), onChange: () => {} }, addAssessor: (a) => (assessor = a) });
  await c.start();
  for (let i = 0; i < 50; i++) assessor!.assess(co2(i));
  c.checkSilence(performance.now() + STEP / 2);
  assert.deepEqual(c.silentStreams(), []);
  c.checkSilence(performance.now() + 10 * STEP);
  assert.deepEqual(c.silentStreams(), [{ sensor: 'co2-1', metric: 'co2_ppm' }]);
  assert.deepEqual(board.get('silentStreams'), [{ sensor: 'co2-1', metric: 'co2_ppm' }]);
  assert.match(await metrics.metrics(), /fieldproof_validation_flags_total\{flag="stream_silent"\} 1/);
  assessor!.assess(co2(50));
  assert.deepEqual(board.get('silentStreams'), []);
  await c.stop();
});

// `fieldproof bench validate`: readings per second through the validation assessor (rules and the
// anomaly detector with a trained TensorFlow.js forecaster per stream, run in plain JS), and the
// process's memory with the models loaded.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SimulatedSignal, SIGNAL_UNITS } from '../drivers/simulated/signal.ts';
import type { ReadingInput } from '../protocol/records.ts';
import { parseFlags, positiveInt, printJson } from '../kernel/command.ts';
import type { Assessor } from '../kernel/component.ts';
import { silentLogger } from '../kernel/log.ts';
import { Registry } from '../kernel/metrics.ts';
import { validationSchema } from '../models/config.ts';
import { ValidationComponent } from '../models/validation.ts';

export const help = `usage: fieldproof bench validate [--readings N] [--sensors S] [--json]

Trains a forecaster for each of S simulated CO2 sensors (default 20, a reading every 5 minutes, so
that the daily cycle is a period the forecaster learns) in the training worker, then
times N readings (default 500000) through the validation assessor: range, rate, stuck, gap and
clock rules, the statistical detectors and the forecaster's forward pass.

Prints readings_per_s, us_per_reading, streams, models, flagged, rss_mb (after the models are
loaded) and training_ms (the worker's time per training).`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { readings: { type: 'string' }, sensors: { type: 'string' }, json: { type: 'boolean' } });
  const n = positiveInt(values.readings, 'readings', 500_000);
  const sensors = positiveInt(values.sensors, 'sensors', 20);
  const dir = mkdtempSync(join(tmpdir(), 'fp-bench-validate-'));
  let assessor: Assessor | null = null;
  const config = validationSchema.parse({
    // history replayed faster than it happened: the device clock "jumps" against elapsed time by design
    clock: { maxJumpMs: Number.MAX_SAFE_INTEGER },
    model: { minTrainReadings: 1000, retrainReadings: 1e9, retrainIntervalMs: 0, maxStreams: sensors, maxQueuedTrainings: sensors } });
  const v = new ValidationComponent({ config, dataDir: dir, log: silentLogger(), metrics: new Registry(), addAssessor: (a) => (assessor = a) });
  const signals = Array.from({ length: sensors }, (_, i) => new SimulatedSignal('co2', 7 + i, []));
  const { metric, unit } = SIGNAL_UNITS.co2;
  // A reading every 5 minutes, so that the daily cycle is a period of 288 readings the forecaster
  // can learn (at 1 s the period would be 86,400 readings and no stream would get a model).
  // Reading times end now: readings from the future would (rightly) be flagged clock_future.
  const STEP_MS = 300_000;
  const warmPerSensor = 1200;
  const t0 = Date.now() - (Math.ceil(n / sensors) + warmPerSensor + 100) * STEP_MS;
  let i = 0;
  const next = (): ReadingInput => {
    const s = i % sensors;
    const ts = t0 + Math.floor(i / sensors) * STEP_MS;
    i++;
    return { sensor: `sim-${s + 1}`, metric, ts, value: signals[s]!.next(ts), unit };
  };
  try {
    await v.start();
    const warm = warmPerSensor * sensors;
    for (let k = 0; k < warm; k++) assessor!.assess(next());
    const trainStart = performance.now();
    await v.idle();
    const trainingMs = (performance.now() - trainStart) / sensors;
    const readings: ReadingInput[] = Array.from({ length: n }, next);
    let flagged = 0;
    const start = performance.now();
    for (const r of readings) if (assessor!.assess(r).flags.length > 0) flagged++;
    const secs = (performance.now() - start) / 1000;
    let models = 0;
    for (let s = 1; s <= sensors; s++) if (v.streamModel(`sim-${s}`, metric)) models++;
    const out = {
      readings: n,
      streams: sensors,
      models,
      readings_per_s: Math.round(n / secs),
      us_per_reading: Math.round((secs * 1e6 * 1000) / n) / 1000,
      flagged,
      rss_mb: Math.round(process.memoryUsage().rss / 1048576),
      training_ms: Math.round(trainingMs),
    };
    if (values.json) printJson(out);
    else process.stdout.write(Object.entries(out).map(([k, x]) => `${k}: ${x}`).join('\n') + '\n');
  } finally {
    await v.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return 0;
}

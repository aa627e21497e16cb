// `eval faults` end to end through the CLI on a slice of the scenario: the figures it reports, and
// one-line errors for bad flags.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const bin = join(import.meta.dirname, '..', '..', 'bin', 'fieldproof.js');

test('eval faults reports, per fault type, the share found, the delay and the false alarms', { timeout: 180_000 }, async () => {
  const { stdout, stderr } = await run(process.execPath, [bin, 'eval', 'faults', '--kinds', 'power', '--types', 'stuck,dropout', '--no-model', '--json'], { maxBuffer: 1 << 24 });
  const out = JSON.parse(stdout) as {
    sensors: number;
    faults: Record<string, { faults: number; found: number; within_5_min: number; median_delay_s: number; found_by: Record<string, number> }>;
    false_alarms_per_sensor_day: number;
    healthy_sensor_days: number;
    targets: { met: boolean };
  };
  assert.match(stderr, /\[10\/10\] power-dropout-5/);
  assert.equal(out.sensors, 10);
  assert.deepEqual(Object.keys(out.faults), ['stuck', 'dropout']);
  // a meter that never repeats and never misses a poll: both faults are plain within minutes
  assert.equal(out.faults.stuck!.within_5_min, 1);
  assert.ok(out.faults.stuck!.median_delay_s < 120);
  assert.deepEqual(out.faults.stuck!.found_by, { stuck: 5 });
  // the driver marks a poll that got no answer: found at the first one
  assert.deepEqual(out.faults.dropout!.found_by, { no_response: 5 });
  assert.ok(out.healthy_sensor_days > 40 && Number.isFinite(out.false_alarms_per_sensor_day));
});

test("eval faults holds PV strings to their clear sky: a loss of gain clouds would hide is found within a day", { timeout: 180_000 }, async () => {
  const { stdout } = await run(process.execPath, [bin, 'eval', 'faults', '--kinds', 'pv', '--types', 'drift', '--no-model', '--json'], { maxBuffer: 1 << 24 });
  const out = JSON.parse(stdout) as { faults: Record<string, { within_24_h: number; found_by: Record<string, number> }> };
  assert.equal(out.faults.drift!.within_24_h, 1);
  assert.deepEqual(out.faults.drift!.found_by, { level: 5 });
});

test('eval faults --seed runs the same plan on other streams, and says which', { timeout: 180_000 }, async () => {
  const args = ['eval', 'faults', '--kinds', 'pv', '--types', 'drift', '--no-model', '--json'];
  const [own, other] = await Promise.all([run(process.execPath, [bin, ...args]), run(process.execPath, [bin, ...args, '--seed', '7'])]);
  const a = JSON.parse(own.stdout) as { seed: number; readings: number; faults: { drift: { median_delay_s: number } } };
  const b = JSON.parse(other.stdout) as typeof a;
  assert.equal(a.seed, 20_240_401);
  assert.equal(b.seed, 7);
  assert.notEqual(a.faults.drift.median_delay_s, b.faults.drift.median_delay_s);
  await assert.rejects(run(process.execPath, [bin, 'eval', 'faults', '--seed=-1']), (err: { stderr: string; code: number }) => {
    assert.match(err.stderr, /^fieldproof eval: --seed: "-1" is not an integer from 0 to 2\^32 - 1\n$/);
    assert.equal(err.code, 2);
    return true;
  });
});

test('eval faults refuses an unknown kind or type with one line', async () => {
  await assert.rejects(run(process.execPath, [bin, 'eval', 'faults', '--kinds', 'wind']), (err: { stderr: string; code: number }) => {
    assert.match(err.stderr, /^fieldproof eval: --kinds: unknown "wind"; one of: co2, power, pv, lora_temperature\n$/);
    assert.equal(err.code, 2);
    return true;
  });
});

// Both drivers under `fieldproof run`, from a YAML config, against simulated devices on real wires;
// what they read ends up in the signed journal.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ion7550Simulator } from './ion7550/simulator.ts';
import { Mhz19Simulator } from './mhz19/simulator.ts';
import { PtyPair } from './serial/pty-pair.ts';

const BIN = fileURLToPath(new URL('../bin/fieldproof.js', import.meta.url));

/** Run the CLI; with runForMs, stop it with SIGINT that long after the daemon says it is running. */
function cli(args: string[], runForMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let stopping = false;
    child.stdout.on('data', (d) => {
      stdout += d;
      if (runForMs && !stopping && stdout.includes('"fieldproof running"')) {
        stopping = true;
        setTimeout(() => child.kill('SIGINT'), runForMs);
      }
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('fieldproof run polls an MH-Z19 on a serial line and an ION7550 over Modbus TCP into the journal', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fieldproof-run-'));
  const pair = await PtyPair.open();
  const co2 = new Mhz19Simulator({ path: pair.peerPath, co2Ppm: 640, temperatureC: 22 });
  const meter = new Ion7550Simulator({ unitId: 100, tcp: { port: 0 }, powerKw: 90 });
  t.after(async () => {
    await co2.stop();
    await meter.stop();
    await pair.dispose();
    await rm(dir, { recursive: true, force: true });
  });
  await co2.start();
  await meter.start();
  const config = join(dir, 'device.yaml');
  await writeFile(
    config,
    `device: site-a-gw1
dataDir: ${JSON.stringify(join(dir, 'data'))}
drivers:
  - kind: mhz19
    id: co2-1
    port: ${JSON.stringify(pair.devicePath)}
    intervalMs: 500
    warmupMs: 0
  - kind: ion7550
    id: meter-1
    tcp: { host: 127.0.0.1, port: ${meter.tcpPort} }
    intervalMs: 500
    energy: { emissionFactorKgPerKwh: 0.4 }
    mrv: { export: energy_delivered_kwh, import: energy_received_kwh, serial: ION-R-1, accuracyClass: 0.2S, calibratedAt: 2025-03-01, calibrationDue: 2027-03-01, ratedKw: 200 }
batch:
  maxRecords: 500
  maxAgeMs: 500
`,
  );
  const run = await cli(['run', '--config', config], 2500);
  assert.equal(run.code, 0, run.stderr);
  const exported = await cli(['journal', 'export', '--batches', '--data-dir', join(dir, 'data')]);
  assert.equal(exported.code, 0, exported.stderr);
  const records = exported.stdout
    .trim()
    .split('\n')
    .flatMap((l) => JSON.parse(l).records as { sensor: string; metric: string; value: number | null; quality: { score: number } }[]);
  const of = (sensor: string, metric: string) => records.filter((r) => r.sensor === sensor && r.metric === metric);
  assert.ok(of('co2-1', 'co2_ppm').length >= 2, 'CO2 readings journaled');
  assert.ok(of('co2-1', 'co2_ppm').every((r) => r.value === 640));
  assert.ok(of('meter-1', 'power_kw').length >= 2, 'meter readings journaled');
  assert.ok(of('meter-1', 'power_kw').every((r) => r.value === 90));
  assert.ok(of('meter-1', 'avoided_co2e_kg').length >= 1, 'derived CO2e journaled');
  // the meter's monitoring plan is a signed record journaled ahead of the meter's readings
  const kinds = exported.stdout.trim().split('\n').flatMap((l) => JSON.parse(l).records as { kind: string; sensor: string; serial?: string; calibratedAt?: string }[]);
  const plan = kinds.findIndex((r) => r.kind === 'plan');
  assert.ok(plan >= 0, 'plan journaled');
  assert.deepEqual([kinds[plan]!.sensor, kinds[plan]!.serial, kinds[plan]!.calibratedAt], ['meter-1', 'ION-R-1', '2025-03-01'], 'YAML dates stay the dates written');
  assert.ok(kinds.findIndex((r) => r.kind === 'reading' && r.sensor === 'meter-1') > plan, 'before the meter\'s first reading');
});

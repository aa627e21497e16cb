import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReadingInput } from '../../protocol/records.ts';
import { silentLogger } from '../../kernel/log.ts';
import { Registry } from '../../kernel/metrics.ts';
import { PtyPair } from '../serial/pty-pair.ts';
import type { DriverStatus } from '../../kernel/source.ts';
import { mhz19DriverSchema } from './config.ts';
import { Mhz19Driver } from './mhz19.ts';
import { Mhz19Simulator } from './simulator.ts';

let pair: PtyPair;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  if (!pair.running) await pair.start();
});
before(async () => {
  pair = await PtyPair.open();
});
after(async () => {
  await pair.dispose();
});

async function rig(configOverrides: Record<string, unknown> = {}, simOptions: Partial<ConstructorParameters<typeof Mhz19Simulator>[0]> = {}) {
  const sim = new Mhz19Simulator({ path: pair.peerPath, co2Ppm: 612, temperatureC: 24, ...simOptions });
  await sim.start();
  const readings: ReadingInput[] = [];
  const statuses: DriverStatus[] = [];
  const metrics = new Registry();
  const config = mhz19DriverSchema.parse({ kind: 'mhz19', id: 'co2-1', port: pair.devicePath, intervalMs: 100, timeoutMs: 200, retries: 1, retryBackoffMs: 20, warmupMs: 0, downAfter: 2, downIntervalMaxMs: 200, calibratedAt: new Date().toISOString().slice(0, 10), ...configOverrides });
  const driver = new Mhz19Driver(config, { emit: (r) => readings.push(r), statusChanged: (s) => statuses.push(s), log: silentLogger(), metrics });
  // a failed assertion must not leave a poller or a simulator behind
  cleanups.push(() => driver.stop(), () => sim.stop());
  return { sim, driver, readings, statuses, metrics };
}

const co2 = (rs: ReadingInput[]) => rs.filter((r) => r.metric === 'co2_ppm');

test('reads CO2 and temperature over a real serial line', async () => {
  const { sim, driver, readings, statuses } = await rig();
  await driver.start();
  await sleep(450);
  await driver.stop();
  await sim.stop();
  const c = co2(readings);
  assert.ok(c.length >= 3, `only ${c.length} CO2 readings`);
  assert.deepEqual({ ...c[0], ts: 0 }, { sensor: 'co2-1', metric: 'co2_ppm', ts: 0, value: 612, unit: 'ppm', quality: { score: 1, flags: [] } });
  const t = readings.find((r) => r.metric === 'temperature_c')!;
  assert.equal(t.value, 24);
  assert.equal(t.unit, 'degC');
  assert.deepEqual(statuses.map((s) => s.state), ['starting', 'ok', 'stopped']);
  assert.deepEqual(sim.received.slice(0, 3), [0x86, 0x86, 0x86]);
});

test('noise and split frames are resynchronised; bad checksums are retried', async () => {
  const { sim, driver, readings, metrics } = await rig();
  sim.setFault('noise', 2);
  await driver.start();
  await sleep(350);
  sim.setFault('split', 2);
  await sleep(300);
  sim.setFault('bad_checksum', 1);
  await sleep(300);
  await driver.stop();
  await sim.stop();
  const c = co2(readings);
  assert.ok(c.length >= 6);
  assert.ok(c.every((r) => r.value === 612), 'every poll ended with the right value');
  assert.ok(c.some((r) => r.quality!.flags.includes('retried')), 'the bad checksum cost a retry');
  const m = await metrics.getSingleMetricAsString('fieldproof_mhz19_rejected_bytes_total');
  assert.match(m, /reason="noise"/);
  assert.match(m, /reason="bad_checksum"/);
});

test('silence leaves flagged null readings, a down status, and the sensor is picked up again', async () => {
  const { sim, driver, readings, statuses } = await rig({ warmupMs: 300 });
  await driver.start();
  await sleep(500);
  sim.setFault('silence');
  await sleep(1200);
  const during = co2(readings).filter((r) => r.value === null);
  assert.ok(during.length >= 2, `null readings while silent: ${during.length}`);
  assert.deepEqual(during[0]!.quality, { score: 0, flags: ['timeout'] });
  assert.equal(driver.status().state, 'down');
  assert.match(driver.status().detail ?? '', /no answer from MH-Z19/);
  sim.setFault('none');
  await sleep(700);
  await driver.stop();
  await sim.stop();
  const last = co2(readings).at(-1)!;
  assert.equal(last.value, 612);
  // answering again after being down: the warm-up window starts again
  assert.ok(co2(readings).slice(-8).some((r) => r.value !== null && r.quality!.flags.includes('warming_up')));
  const states = statuses.map((s) => s.state);
  assert.ok(states.indexOf('down') > states.indexOf('ok') && states.lastIndexOf('ok') > states.indexOf('down'), states.join(','));
});

test('truncated and garbled answers are failed reads with their own flags', async () => {
  const { sim, driver, readings } = await rig({ retries: 0, intervalMs: 150, timeoutMs: 150 });
  const failedWith = () => co2(readings).filter((r) => r.value === null).map((r) => r.quality!.flags[0]);
  // Each fault stays on until a read has met it: on a loaded machine a poll can time out before the
  // sensor answers at all, and that poll must not use up the fault under test.
  const until = async (done: () => boolean, what: string) => {
    const deadline = Date.now() + 5000;
    while (!done()) {
      assert.ok(Date.now() < deadline, `${what}: ${failedWith().join(',')}`);
      await sleep(50);
    }
  };
  sim.setFault('truncated');
  await driver.start();
  await until(() => failedWith().includes('truncated'), 'a truncated answer');
  sim.setFault('garbage');
  await until(() => failedWith().includes('garbled'), 'a garbled answer');
  sim.setFault('none');
  const before = co2(readings).length;
  await until(() => co2(readings).slice(before).some((r) => r.value === 612), 'good reads resume');
  await driver.stop();
  await sim.stop();
});

test('an unplugged adapter is reopened when it comes back, without a restart', async () => {
  const { sim, driver, readings, statuses } = await rig();
  await driver.start();
  await sleep(300);
  await sim.stop();
  await pair.stop(); // unplugged: both ends disappear
  await sleep(700);
  assert.ok(['degraded', 'down'].includes(driver.status().state));
  assert.ok(co2(readings).some((r) => r.value === null && r.quality!.flags[0] === 'port_unavailable'));
  await pair.start(); // plugged back in, same path
  const sim2 = new Mhz19Simulator({ path: pair.peerPath, co2Ppm: 777 });
  await sim2.start();
  cleanups.push(() => sim2.stop());
  await sleep(800);
  await driver.stop();
  await sim2.stop();
  assert.equal(co2(readings).at(-1)!.value, 777);
  assert.equal(statuses.at(-2)!.state, 'ok');
});

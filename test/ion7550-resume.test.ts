// The ION7550 driver in the daemon's wiring: the pipeline's journal keeps the energy counter's last
// durable value, so the first interval after a restart covers the downtime.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ion7550Driver } from '../drivers/ion7550/ion7550.ts';
import { ion7550DriverSchema } from '../drivers/ion7550/config.ts';
import { Ion7550Simulator } from '../drivers/ion7550/simulator.ts';
import { silentLogger } from '../kernel/log.ts';
import { Registry } from '../kernel/metrics.ts';
import type { ReadingRecord } from '../protocol/records.ts';
import { generateKey } from '../protocol/signature.ts';
import { Journal } from '../runtime/journal/journal.ts';
import { Pipeline } from '../runtime/pipeline.ts';
import { tempDir } from './support/tmp.ts';

const key = generateKey();
const FAST = { intervalMs: 100, timeoutMs: 150, retries: 1, retryBackoffMs: 20, downAfter: 2, downIntervalMaxMs: 200 };

test('after a restart the first interval covers the downtime, resumed from the journal', async (t) => {
  // The daemon's wiring: the pipeline's journal keeps the counter's last durable value.
  const dir = tempDir('ion-resume');
  const sim = new Ion7550Simulator({ unitId: 100, tcp: { port: 0 }, powerKw: 0, energyKwh: 5000 });
  await sim.start();
  t.after(() => sim.stop());
  const runOnce = async (during: () => Promise<void>) => {
    const journal = await Journal.open({ dir, device: 'site-a', key, commitMaxWaitMs: 1 });
    const records: ReadingRecord[] = [];
    journal.onCommitted((rs) => records.push(...(rs as ReadingRecord[])));
    const pipeline = new Pipeline(journal, silentLogger(), new Registry());
    const config = ion7550DriverSchema.parse({ kind: 'ion7550', id: 'meter-1', unit: 100, ...FAST, tcp: { host: '127.0.0.1', port: sim.tcpPort } });
    const driver = new Ion7550Driver(config, {
      emit: (r) => pipeline.emit(r),
      log: silentLogger(),
      metrics: new Registry(),
      lastDurable: (sensor, metric) => journal.rememberLast(sensor, metric),
    });
    await driver.start();
    await during();
    await driver.stop();
    await journal.close();
    return records;
  };
  const first = await runOnce(() => sleep(350));
  const lastCounter = first.filter((r) => r.metric === 'energy_delivered_kwh').at(-1)!;
  assert.equal(lastCounter.value, 5000);
  sim.setEnergyKwh(5012.5); // used while the daemon was down
  const second = await runOnce(() => sleep(350));
  const interval = second.find((r) => r.metric === 'energy_interval_kwh')!;
  assert.equal(interval.value, 12.5, 'the downtime\'s energy is in the first interval');
  assert.equal((interval.meta as { since: number }).since, lastCounter.ts, 'measured from the last journaled counter value');
  const total = first.concat(second).filter((r) => r.metric === 'energy_interval_kwh').reduce((s, r) => s + r.value!, 0);
  assert.equal(total, 12.5, 'intervals add up to the counter\'s change, nothing lost or counted twice');
});

// End to end on the wall clock: a real device daemon polls the simulated ION7550 over Modbus TCP
// under a monitoring plan, journals, signs and sends to a real sink over HTTP, and the sink's
// report is compared with what the simulated meter was made to do: 3600 kW exported and 360 kW
// imported (1 Wh a millisecond net: the 1 Wh registers resolve it well in seconds), then its
// export register cleared.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import { parse } from 'yaml';
import { Ion7550Simulator } from '../drivers/ion7550/simulator.ts';
import { resolveDeviceConfig, deviceConfigSchema } from '../app/config/device-config.ts';
import { Daemon } from '../app/daemon.ts';
import { loadOrCreateKey } from '../runtime/device-key.ts';
import { silentLogger } from '../kernel/log.ts';
import { sinkConfig } from '../cloud-sink/config.ts';
import { Sink } from '../cloud-sink/sink.ts';
import { getJson, tempDir } from './support/sink.ts';
import type { MrvReport } from '../cloud-sink/mrv/report.ts';

const NET_KW = 3600 - 360;
const CHROMIUM = process.env.FIELDPROOF_CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const mwhOf = (kwh: number) => Math.round(kwh * 1e6);

test('a real daemon and sink: the report\'s net energy is the meter\'s, splits add up, and the reset is an uncredited event', { timeout: 120_000 }, async (t) => {
  const tmp = tempDir();
  t.after(() => tmp.cleanup());
  const sim = new Ion7550Simulator({ unitId: 1, tcp: { port: 0 }, powerKw: 3600, importKw: 360, energyKwh: 5000, importEnergyKwh: 500 });
  await sim.start();
  t.after(() => sim.stop());
  const dataDir = `${tmp.dir}/device`;
  const { key } = loadOrCreateKey(dataDir);
  const sink = new Sink(sinkConfig({ listen: '127.0.0.1:0', dataDir: `${tmp.dir}/sink`, devices: [{ id: 'site-e2e', key: key.public }], report: { indexIntervalMs: 100 } }));
  await sink.start();
  t.after(() => sink.stop());
  const raw = deviceConfigSchema.parse(parse(`
device: site-e2e
dataDir: ${JSON.stringify(dataDir)}
drivers:
  - kind: ion7550
    id: meter-1
    tcp: { host: 127.0.0.1, port: ${sim.tcpPort} }
    unit: 1
    intervalMs: 100
    mrv: { export: energy_delivered_kwh, import: energy_received_kwh, power: power_kw, serial: ION-E2E-1, accuracyClass: 0.2S, calibratedAt: 2025-06-01, calibrationDue: 2030-06-01, ratedKw: 5000 }
batch: { maxRecords: 500, maxAgeMs: 200 }
uplink: { url: ${JSON.stringify(sink.url)} }
`));
  const daemon = new Daemon(resolveDeviceConfig(raw, tmp.dir), silentLogger(), { progressMs: 60_000 });
  await daemon.start();
  let stopped = false;
  t.after(() => (stopped ? undefined : daemon.stop()));
  await sleep(3000);
  const resetAt = Date.now();
  sim.setEnergyKwh(0);
  await sleep(1500);
  // everything journaled so far reaches the sink
  const deadline = Date.now() + 30_000;
  for (;;) {
    const s = daemon.stats()!;
    if (s.lastBatch > 0 && s.ackedBatch === s.lastBatch && Date.now() - resetAt > 1500) break;
    assert.ok(Date.now() < deadline, `the uplink drains: ${JSON.stringify(s)}`);
    await sleep(100);
  }
  await daemon.stop();
  stopped = true;

  const report = async (from: number, to: number) => {
    const r = await getJson(`${sink.url}/v1/reports/site-e2e?from=${from}&to=${to}`);
    assert.equal(r.status, 200);
    return r.body as unknown as MrvReport;
  };
  const whole = await report(resetAt - 2500, resetAt - 500);
  const m = whole.meters[0]!;
  const first = m.readings.first!;
  assert.equal(m.plans[0]!.serial, 'ION-E2E-1');
  // the truth is the sim's: net 1 Wh per ms; the reading times are the device's, a few ms before the register was read
  const truthKwh = (NET_KW * 2000) / 3_600_000;
  assert.ok(Math.abs(whole.energy.netKwh - truthKwh) / truthKwh < 0.02, `net ${whole.energy.netKwh} kWh, truth ${truthKwh}: ${JSON.stringify(whole.energy)}`);
  assert.equal(whole.energy.creditedKwh, whole.energy.netKwh, 'a clean stretch is credited in full');
  assert.ok(first.ts >= resetAt - 2500 && first.seqExport > 0);
  assert.ok(m.completeness.ratio > 0.8, JSON.stringify(m.completeness));
  // the power integral leaves out spans where a poll came late; over what it covers it agrees
  const cross = m.crossCheck!;
  const covered = whole.energy.netKwh * cross.coveredFraction;
  assert.ok(cross.coveredFraction > 0.5 && Math.abs(cross.powerIntegralKwh - covered) / covered < 0.05, `power integral ${JSON.stringify(cross)}`);

  const mid = resetAt - 1234;
  const [left, right] = await Promise.all([report(resetAt - 2500, mid), report(mid, resetAt - 500)]);
  for (const f of ['exportedKwh', 'importedKwh', 'netKwh', 'creditedKwh'] as const) assert.equal(mwhOf(left.energy[f]) + mwhOf(right.energy[f]), mwhOf(whole.energy[f]), f);

  const across = await report(resetAt - 1000, resetAt + 1000);
  const reset = across.energy.events.find((e) => e.kind === 'reset' && e.register === 'export');
  assert.ok(reset, `the reset is an event: ${JSON.stringify(across.energy.events)}`);
  assert.equal(reset.detectedBy, 'device+sink');
  assert.ok(reset.uncreditedKwh >= 0, 'what the register counted since the reset, which may be next to nothing');
  // the reset's step (a poll interval or more at 3600 kW: 0.1 kWh or more) is not credited
  const acrossTruth = (NET_KW * 2000) / 3_600_000;
  assert.ok(across.energy.creditedKwh < acrossTruth - 0.05, `credited ${across.energy.creditedKwh} of a truth of ${acrossTruth}`);
  assert.ok(across.energy.creditedKwh > acrossTruth * 0.8, 'only the reset\'s interval is withheld');

  if (!CHROMIUM) return t.diagnostic('no chromium binary: the HTML report was not printed');
  // the printable page, printed: self-contained (nothing fetched), no script errors, A4 pages
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    const page = await browser.newPage();
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('pageerror', (err) => problems.push(err.message));
    const htmlUrl = `${sink.url}/v1/reports/site-e2e?from=${resetAt - 1000}&to=${resetAt + 1000}&format=html`;
    await page.goto(htmlUrl);
    assert.deepEqual(requests, [htmlUrl], 'the page fetches nothing else');
    assert.deepEqual(problems, []);
    assert.equal(await page.locator('h2').count(), 10);
    assert.match(await page.locator('body').innerText(), /reset/);
    const pdf = await page.pdf({ format: 'A4' });
    assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
  } finally {
    await browser.close();
  }
});

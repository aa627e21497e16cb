// The status page in a real browser (headless Chromium) against a real daemon: it loads, fills in
// from the live feed, keeps updating without a reload, and leaves a screenshot in test-artifacts/.
import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { deviceConfigSchema, resolveDeviceConfig } from '../app/config/device-config.ts';
import { Daemon } from '../app/daemon.ts';
import { silentLogger } from '../kernel/log.ts';
import { launchChromium, NO_CHROMIUM, watchedPage } from './support/chromium.ts';

// The functions handed to the page run in the browser, where `document` exists.
declare const document: { getElementById(id: string): { textContent: string | null } | null; querySelector(s: string): { textContent: string | null } | null; querySelectorAll(s: string): { length: number } };

const ARTIFACTS = resolve(import.meta.dirname, '../test-artifacts');

describe('status page in headless Chromium', { skip: NO_CHROMIUM }, () => {
  let daemon: Daemon;
  let browser: Browser;
  let dir: string;
  let url: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fieldproof-page-'));
    const raw = deviceConfigSchema.parse({
      device: 'site-a-gw1',
      dataDir: dir,
      drivers: [
        { kind: 'simulated', id: 'co2', sensors: 3, intervalMs: 200, signal: 'co2', seed: 1 },
        { kind: 'simulated', id: 'pv', sensors: 2, intervalMs: 200, signal: 'power', seed: 2 },
      ],
      batch: { maxRecords: 100, maxAgeMs: 500 },
      journal: { commitMaxWaitMs: 5 },
      http: { listen: '127.0.0.1:0', liveIntervalMs: 200 },
    });
    daemon = new Daemon(resolveDeviceConfig(raw, dir), silentLogger(), { progressMs: 60_000 });
    await daemon.start();
    url = (daemon.board.get('http') as { url: string }).url;
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await daemon?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('loads, updates live, shows board facts and draws charts', async () => {
    const { page, problems } = await watchedPage(browser, { width: 1280, height: 1100 });
    await page.goto(url);

    await page.waitForFunction(() => document.getElementById('live')?.textContent === 'live', null, { timeout: 10_000 });
    assert.equal(await page.textContent('#device'), 'site-a-gw1');
    await page.waitForSelector('#sensors tr[data-sensor="pv-2"]', { timeout: 10_000 });
    assert.equal(await page.locator('#sensors tbody tr').count(), 5);
    assert.equal(await page.textContent('#sources tr[data-source="co2"] .badge'), 'ok');

    // Live: the newest seq shown for a sensor rises without a reload.
    const seqOf = () => page.textContent('#sensors tr[data-sensor="co2-1"] td.seq').then(Number);
    const first = await seqOf();
    await page.waitForFunction(
      (before) => Number(document.querySelector('#sensors tr[data-sensor="co2-1"] td.seq')?.textContent) > before,
      first,
      { timeout: 10_000 },
    );
    assert.ok((await seqOf()) > first);
    const value = await page.textContent('#sensors tr[data-sensor="co2-1"] td.value');
    assert.match(value ?? '', /^[\d,.]+$/);

    // What other parts publish on the board shows up as it happens.
    daemon.board.set('alerts', [{ severity: 'warning', sensor: 'co2-2', message: 'CO2 above 1000 ppm for 5 min', since: Date.now() - 60_000 }]);
    daemon.board.set('uplink', { lastSyncAt: Date.now() - 5_000, backlogRecords: 120, state: 'ok' });
    daemon.board.set('anchors', { lastAnchoredAt: Date.now() - 30_000, chain: 'aptos:testnet', tx: '0xabc', batches: 12 });
    await page.waitForFunction(() => document.getElementById('alert-count')?.textContent === '1', null, { timeout: 5000 });
    assert.match((await page.textContent('#alerts tbody')) ?? '', /CO2 above 1000 ppm/);
    assert.match((await page.textContent('#sync-last')) ?? '', /s ago$/);
    assert.match((await page.textContent('#anchor-facts')) ?? '', /aptos:testnet/);

    // One chart per metric (co2_ppm, power), drawn by uPlot.
    await page.waitForFunction(() => document.querySelectorAll('#charts .uplot canvas').length >= 2, null, { timeout: 10_000 });
    assert.equal(await page.locator('#charts .chart').count(), 2);
    // Let the charts gather a few seconds of points before the picture is taken.
    await page.waitForTimeout(2500);

    await mkdir(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok((await stat(shot)).size > 10_000, 'the screenshot has content');
    assert.deepEqual(problems, []);
    await page.close();
  });
});

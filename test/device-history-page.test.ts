// The device page's history in headless Chromium against a real daemon: simulated sensors, and a
// probe that stops answering for a while. The chart shows the silence as a gap (null steps in the
// page's own data, and a screenshot), a gap record as a marked span, the live feed extends the
// history without a reload, the alert the silence raised appears in the alert history with the
// time it cleared, and all of it is still there after the daemon restarts.
import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { deviceConfigSchema, resolveDeviceConfig } from '../app/config/device-config.ts';
import { Daemon } from '../app/daemon.ts';
import { silentLogger } from '../kernel/log.ts';
import { launchChromium, NO_CHROMIUM, watchedPage } from './support/chromium.ts';

// The functions handed to the page run in the browser, where these exist.
declare const document: { body: { dataset: Record<string, string | undefined> }; querySelector(s: string): { textContent: string | null } | null };
declare const window: { fieldproofCharts: { data(): Record<string, ChartData> } };

interface ChartData {
  step: number;
  times: number[];
  series: Record<string, (number | null)[]>;
  gaps: { seq: number; dropped: number; reason: string }[];
}

const ARTIFACTS = resolve(import.meta.dirname, '../test-artifacts');
const PROBE = 'probe-1';
const CHART = 'level_pct (%)';
const ALERT = `${PROBE}/level_pct/stream_silent`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The longest run of null steps between two readings of a series: a gap drawn as a gap. */
function longestHole(values: (number | null)[]): number {
  const first = values.findIndex((v) => v !== null);
  let last = -1;
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) { last = i; break; }
  let best = 0;
  let run = 0;
  for (let i = first; i >= 0 && i <= last; i++) {
    run = values[i] === null ? run + 1 : 0;
    best = Math.max(best, run);
  }
  return best;
}

describe('device page history in headless Chromium', { skip: NO_CHROMIUM }, () => {
  let daemon: Daemon | null = null;
  let browser: Browser;
  let dir: string;
  let probe: NodeJS.Timeout | null = null;
  let probeQuiet = false;

  const startDaemon = async (): Promise<string> => {
    const raw = deviceConfigSchema.parse({
      device: 'site-a-gw1',
      dataDir: dir,
      drivers: [{ kind: 'simulated', id: 'co2', sensors: 2, intervalMs: 250, signal: 'co2', seed: 1 }],
      batch: { maxRecords: 100, maxAgeMs: 500 },
      journal: { commitMaxWaitMs: 5 },
      validation: { model: { enabled: false } },
      alerts: { silentFactor: 5, checkMs: 200, clearAfter: 1 },
      http: { listen: '127.0.0.1:0', liveIntervalMs: 200, history: { hours: 1, bucketSeconds: 1 } },
    });
    daemon = new Daemon(resolveDeviceConfig(raw, dir), silentLogger(), { progressMs: 60_000 });
    await daemon.start();
    // The probe: a level sensor read every 200 ms, which the test can silence.
    const d = daemon;
    probe = setInterval(() => {
      if (!probeQuiet) d.context.emit({ sensor: PROBE, metric: 'level_pct', ts: Date.now(), value: 40 + 10 * Math.sin(Date.now() / 5000), unit: '%' });
    }, 200);
    return (daemon.board.get('http') as { url: string }).url;
  };

  const stopDaemon = async () => {
    if (probe) clearInterval(probe);
    probe = null;
    await daemon?.stop();
    daemon = null;
  };

  const openPage = async (url: string): Promise<{ page: Page; problems: string[] }> => {
    const { page, problems } = await watchedPage(browser, { width: 1280, height: 1400 });
    await page.goto(url);
    await page.waitForFunction(() => document.body.dataset.historyLoaded !== undefined, null, { timeout: 10_000 });
    return { page, problems };
  };

  const chart = (page: Page) => page.evaluate((key) => window.fieldproofCharts.data()[key], CHART);

  const shot = async (page: Page, name: string) => {
    await mkdir(ARTIFACTS, { recursive: true });
    const file = join(ARTIFACTS, name);
    await page.screenshot({ path: file, fullPage: true });
    assert.ok((await stat(file)).size > 10_000, 'the screenshot has content');
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fieldproof-history-page-'));
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await stopDaemon();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('draws a silent spell as a gap, a gap record as a span, extends live, and lists the alert with its clear time', { timeout: 90_000 }, async () => {
    const url = await startDaemon();
    await sleep(3000);
    probeQuiet = true; // the probe stops answering: 8 s covers at least one whole 3 s step of the 1 h range
    await sleep(8000);
    probeQuiet = false;
    // Readings the journal had to drop: a signed gap record the page marks.
    const now = Date.now();
    daemon!.context.journal.noteDropped([now - 6000, now - 5000, now - 4000], 'overload');
    await daemon!.context.journal.sealNow();
    await sleep(3000);

    const { page, problems } = await openPage(url);
    const data = await chart(page);
    assert.ok(data, `a chart for ${CHART}`);
    assert.equal(data.step, 3000, '1 h of 1 s buckets is drawn in 3 s steps');
    const values = data.series[PROBE]!;
    assert.ok(longestHole(values) >= 1, `the silence is null steps between readings: ${JSON.stringify(values.slice(-15))}`);
    // the simulated sensors never stopped: no hole in theirs
    assert.equal(longestHole(data.series['co2-1'] ?? data.series['co2-2'] ?? [0]), 0);
    assert.deepEqual(data.gaps.map((g) => [g.dropped, g.reason]), [[3, 'overload']]);
    assert.match((await page.textContent(`.chart[data-chart="${CHART}"] .gap-record`)) ?? '', /3 readings dropped \(overload\)/);

    // The alert the silence raised, and when it cleared.
    const row = `#alert-history tr[data-alert="${ALERT}"]`;
    await page.waitForSelector(`${row}[data-state="cleared"]`, { timeout: 5000 });
    assert.match((await page.textContent(`${row} td.cleared`)) ?? '', /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    assert.match((await page.textContent(`${row} td.duration`)) ?? '', /^\d+ s$/);
    assert.equal(await page.textContent(`${row} td.rule`), 'stream_silent');

    // Live: a new step appears at the end, with a value, without a reload.
    const lastTime = data.times.at(-1)!;
    await page.waitForFunction(
      ([key, before]) => {
        const c = window.fieldproofCharts.data()[key as string]!;
        const v = c.series['probe-1']!;
        return c.times.at(-1)! > (before as number) && v.at(-1) !== null;
      },
      [CHART, lastTime] as const,
      { timeout: 15_000 },
    );
    await page.waitForTimeout(1200); // one redraw
    await shot(page, 'device-history.png');

    // The range buttons: 6 h of 1 s buckets is drawn in 15 s steps, still with the silence in it
    // unless one step swallows it whole.
    await page.click('#range button[data-range="21600000"]');
    await page.waitForFunction((key) => window.fieldproofCharts.data()[key]?.step === 15_000, CHART, { timeout: 10_000 });
    await page.waitForFunction(() => Number(document.body.dataset.historyLoaded) >= 2, null, { timeout: 10_000 });
    const wide = (await chart(page))!;
    assert.equal(wide.times.length, 6 * 3600 / 15);
    assert.ok(wide.series[PROBE]!.some((v) => v !== null), 'the probe has values at 15 s steps');
    assert.equal(await page.getAttribute('#range button[data-range="21600000"]', 'aria-pressed'), 'true');
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('shows the same gap and alert history after the daemon restarts', { timeout: 60_000 }, async () => {
    await stopDaemon();
    const url = await startDaemon();
    const { page, problems } = await openPage(url);
    const data = await chart(page);
    assert.ok(data, `a chart for ${CHART} after the restart`);
    assert.ok(longestHole(data.series[PROBE]!) >= 1, 'the silence before the restart is still a gap');
    assert.deepEqual(data.gaps.map((g) => g.reason), ['overload']);
    await page.waitForSelector(`#alert-history tr[data-alert="${ALERT}"][data-state="cleared"]`, { timeout: 5000 });
    await page.waitForTimeout(1200);
    await shot(page, 'device-history-after-restart.png');
    assert.deepEqual(problems, []);
    await page.close();
  });
});

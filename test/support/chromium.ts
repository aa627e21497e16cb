// Headless Chromium for page tests: the system's binary (never a download), launched as every page
// test launches it, a page that collects its script errors for the test to assert on, and a place
// for the screenshots the tests leave behind.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.FIELDPROOF_CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

/** for describe(..., { skip }) */
export const NO_CHROMIUM = CHROMIUM ? false : 'no chromium binary (apt-get install chromium, or set FIELDPROOF_CHROMIUM)';
export const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts');

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM!,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A new page whose uncaught errors and console errors land in `problems`. */
export async function watchedPage(browser: Browser, viewport: { width: number; height: number }, problems: string[] = []): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  return { page, problems };
}

/** A full-page screenshot kept as a test artifact; its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, name);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

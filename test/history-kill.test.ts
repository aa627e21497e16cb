// The device page's history under SIGKILL: `fieldproof run` killed before any history was saved,
// stopped cleanly (which saves it), then killed again; after each start the history holds every
// reading the journal holds, once: what the snapshot covers from the snapshot, the rest read back
// from the journal, nothing counted twice.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { request } from 'undici';
import { Journal } from '../runtime/journal/journal.ts';
import { CliProcess } from './support/cli.ts';
import { until } from './support/until.ts';
import { tempDir } from './support/tmp.ts';

const SENSOR = 'sim-3';

function config(dir: string): string {
  const text = readFileSync(new URL('../app/config/testdata/device.yaml', import.meta.url), 'utf8')
    .replace('/var/lib/fieldproof', join(dir, 'data'))
    .replace(/^uplink:.*\n.*\n/m, '');
  const file = join(dir, 'device.yaml');
  writeFileSync(file, text + 'validation:\n  model:\n    enabled: false\nhttp:\n  listen: 127.0.0.1:0\n  history:\n    hours: 1\n    bucketSeconds: 1\n');
  return file;
}

/** Readings of SENSOR with a value the journal holds, taken before `before` (ms). */
async function journaled(dataDir: string, before: number): Promise<number> {
  const journal = await Journal.inspect(dataDir);
  let n = 0;
  try {
    for await (const { line } of journal.records()) {
      const r = JSON.parse(line);
      if (r.kind === 'reading' && r.sensor === SENSOR && typeof r.value === 'number' && r.ts < before) n++;
    }
  } finally {
    await journal.close();
  }
  return n;
}

/** every daemon started, killed at the end whatever happened */
const started: CliProcess[] = [];
after(() => Promise.all(started.map((p) => p.kill('SIGKILL'))));

async function run(file: string): Promise<{ p: CliProcess; url: string }> {
  const p = new CliProcess(['run', '--config', file]);
  started.push(p);
  const listening = await p.waitFor((l) => l.msg === 'status page listening');
  await p.waitFor((l) => l.msg === 'history: ready');
  return { p, url: listening.url as string };
}

/** readings of SENSOR in the history between `from` and `to`; with `soFar`, none while it has none yet (404) */
async function historyCount(url: string, from: number, to: number, soFar = false): Promise<number> {
  const res = await request(`${url}api/history?sensor=${SENSOR}&metric=co2_ppm&from=${from}&to=${to}&step=1000`);
  if (soFar && res.statusCode === 404) {
    await res.body.dump();
    return 0;
  }
  const body = (await res.body.json()) as { points: { n: number }[] };
  assert.equal(res.statusCode, 200, JSON.stringify(body));
  return body.points.reduce((sum, p) => sum + p.n, 0);
}

test('after SIGKILL, a clean stop and SIGKILL again, the history holds each journaled reading once', { timeout: 120_000 }, async () => {
  const dir = tempDir('history-kill');
  const file = config(dir);
  const dataDir = join(dir, 'data');
  const t0 = Date.now() - 1000;
  // some readings journaled before each stop, however slow the machine: what each start is checked
  // on. The history shows a reading before the journal has made it durable, so the daemon is given
  // a while more once it shows some.
  const journalSome = async (url: string) => {
    await until(`readings of ${SENSOR} in the history`, async () => (await historyCount(url, t0, Date.now() + 1000, true)) > 10, 60_000);
    await new Promise((r) => setTimeout(r, 1500));
  };

  /** Start again and compare the history before this start with the journal. */
  const restartAndCheck = async (after: string): Promise<CliProcess> => {
    const cut = Math.floor(Date.now() / 1000) * 1000; // every reading of the coming run is after it
    const expected = await journaled(dataDir, cut);
    assert.ok(expected > 0, `readings were journaled (${expected})`);
    const { p, url } = await run(file);
    assert.equal(await historyCount(url, t0, cut), expected, `after ${after}: the history holds the journal's readings, once`);
    await journalSome(url);
    return p;
  };

  const first = await run(file);
  await journalSome(first.url);
  await first.p.kill('SIGKILL'); // nothing saved yet: the next start reads it all from the journal
  const second = await restartAndCheck('SIGKILL before any save');
  await second.kill('SIGTERM'); // saves the history
  const third = await restartAndCheck('a clean stop');
  await third.kill('SIGKILL'); // the saved history is the second run's; this run's readings are only in the journal
  const fourth = await restartAndCheck('SIGKILL after a save');
  await fourth.kill('SIGKILL');
});

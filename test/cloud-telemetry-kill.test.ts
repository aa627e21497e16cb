// The daemon sending JSON telemetry to an AWS-IoT-like broker is SIGKILLed mid-stream, several
// times, and restarted: every reading the journal holds reaches the consumer; a record whose
// acknowledgement the cursor on disk held at the kill is never sent again, and any repeat is
// flagged historical with the same id (delivery is at least once; see runtime/cloud-telemetry).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { CliProcess } from './support/cli.ts';
import { cleanRun, journaledReadings, publishingDevice } from './support/publisher-kills.ts';
import { awsLikeBroker } from './support/aws-like-broker.ts';
import { tempDir } from './support/tmp.ts';

test('SIGKILL while sending telemetry, 3 times: every journaled reading arrives, nothing acknowledged on disk is sent again', { timeout: 120_000 }, async (t) => {
  const dir = tempDir('telemetry-kill');
  const { sub, section } = await awsLikeBroker('telemetry-kill');
  const { config, dataDir } = publishingDevice(dir, section);

  /** per kill: how many items had arrived, and what the cursor on disk said the platform had */
  const kills: { arrived: number; through: number }[] = [];
  for (let i = 0; i < 3; i++) {
    const p = new CliProcess(['run', '--config', config]);
    await p.waitFor((l) => l.msg === 'aws-iot connected');
    await sleep(700 + Math.random() * 1000);
    await p.kill('SIGKILL');
    await sleep(300);
    // killed before its first save (once a second), the target has no cursor on disk: nothing acknowledged there
    const file = join(dataDir, 'cloud-telemetry-aws-iot.json');
    const saved = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { through: number }) : { through: 0 };
    kills.push({ arrived: sub.items().length, through: saved.through });
  }
  await cleanRun(config, 'aws-iot connected');

  const held = await journaledReadings(dataDir);
  const items = sub.items();
  const got = new Set(items.map((i) => i.seq));
  const lost = held.filter((s) => !got.has(s));
  assert.ok(held.length > 300, `only ${held.length} readings journaled`);
  assert.deepEqual(lost.slice(0, 20), [], `${lost.length} of ${held.length} journaled readings never arrived`);
  for (const k of kills) {
    const resent = items.slice(k.arrived).filter((i) => i.seq <= k.through);
    assert.deepEqual(resent.map((i) => i.seq).slice(0, 10), [], `sent again although the cursor on disk had them (through ${k.through})`);
  }
  const seen = new Set<string>();
  let repeats = 0;
  for (const i of items) {
    if (seen.has(i.id)) {
      repeats++;
      assert.equal(i.historical, true, `${i.id} repeated live`);
    }
    seen.add(i.id);
  }
  t.diagnostic(`${held.length} readings, ${repeats} repeats after ${kills.length} kills`);
});

// The daemon publishing Sparkplug B is SIGKILLed mid-stream, several times, and restarted: every
// reading the journal holds reaches the subscriber (repeats allowed: delivery is at least once),
// those sent after a restart flagged historical when they were journaled before it.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { CliProcess } from './support/cli.ts';
import { cleanRun, journaledReadings, publishingDevice } from './support/publisher-kills.ts';
import { startMosquitto } from './support/mosquitto.ts';
import { SparkplugSubscriber } from './support/sparkplug-subscriber.ts';
import { tempDir } from './support/tmp.ts';

test('SIGKILL while publishing, 4 times: every journaled reading reaches the subscriber', { timeout: 120_000 }, async () => {
  const broker = await startMosquitto();
  after(() => broker.stop());
  const sub = new SparkplugSubscriber(broker.url, 'kill');
  await sub.start();
  after(() => sub.stop());
  const dir = tempDir('sparkplug-kill');
  const { config, dataDir } = publishingDevice(dir, `sparkplug:\n  url: ${broker.url}\n  group: kill\n  reconnectMs: 200\n`);

  for (let i = 0; i < 4; i++) {
    const p = new CliProcess(['run', '--config', config]);
    await p.waitFor((l) => l.msg === 'sparkplug connected');
    await sleep(300 + Math.random() * 700);
    await p.kill('SIGKILL');
  }
  // a last run, stopped cleanly, sends what the kills left behind
  await cleanRun(config, 'sparkplug connected');

  const held = await journaledReadings(dataDir);
  const got = new Set(sub.dataSeqs());
  const lost = held.filter((s) => !got.has(s));
  assert.ok(held.length > 100, `only ${held.length} readings journaled`);
  assert.deepEqual(lost.slice(0, 20), [], `${lost.length} of ${held.length} journaled readings never reached the subscriber`);
  assert.ok(sub.messages.some((m) => m.type === 'DDATA' && m.metrics.some((x) => x.isHistorical)), 'no historical data after a restart');
  assert.ok(sub.messages.filter((m) => m.type === 'NDEATH').length >= 4, 'an NDEATH for each killed session');
});

// The journal as the store-and-forward of the brokers too: the sink acknowledges everything while
// the Sparkplug broker is down (an AWS-IoT-like broker is up), the device is SIGKILLed and started
// again, and once the broker is back every reading arrives, historical, none passed over as no
// longer in the journal; then the journal lets go of what the sink and both brokers have.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { freeTcpPort } from '../kernel/net.ts';
import { loadOrCreateKey } from '../runtime/device-key.ts';
import { Journal, type JournalStats } from '../runtime/journal/journal.ts';
import { CliProcess } from './support/cli.ts';
import { awsLikeBroker } from './support/aws-like-broker.ts';
import { startMosquitto } from './support/mosquitto.ts';
import { publishingDevice } from './support/publisher-kills.ts';
import { getJson } from './support/sink.ts';
import { SparkplugSubscriber } from './support/sparkplug-subscriber.ts';
import { tempDir } from './support/tmp.ts';

const processes: CliProcess[] = [];
after(async () => {
  for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) await p.kill('SIGKILL');
});

function start(args: string[]): CliProcess {
  const p = new CliProcess(args);
  processes.push(p);
  return p;
}

/** The journal's stats and the seqs it holds, read from the files as `journal stats` would. */
async function inspect(dataDir: string): Promise<{ stats: JournalStats; seqs: number[]; readings: number[] }> {
  const journal = await Journal.inspect(dataDir);
  try {
    const seqs: number[] = [];
    const readings: number[] = [];
    for await (const { seq, line } of journal.records()) {
      seqs.push(seq);
      if ((JSON.parse(line) as { kind: string }).kind === 'reading') readings.push(seq);
    }
    return { stats: journal.stats(), seqs, readings };
  } finally {
    await journal.close();
  }
}

const passedOver = (p: CliProcess) => p.lines.filter((l) => String(l.msg).includes('gone from the journal'));

test('a broker down while the sink acknowledges everything, across a SIGKILL: every reading arrives afterwards, then the journal lets go', { timeout: 120_000 }, async () => {
  const dir = tempDir('publisher-holds');
  const { sub: awsSub, section: awsSection } = await awsLikeBroker('publisher-holds');
  const sparkplugPort = await freeTcpPort(); // nobody listens there yet: the site broker is down

  const sinkPort = await freeTcpPort();
  const dataDir = join(dir, 'data');
  const { key } = loadOrCreateKey(dataDir);
  const sinkYaml = join(dir, 'sink.yaml');
  writeFileSync(sinkYaml, `listen: 127.0.0.1:${sinkPort}\ndataDir: ${join(dir, 'sink')}\ndevices:\n  - id: site-a-gw1\n    key: ${key.public}\nanchor:\n  mode: none\n  intervalMs: 60000\n`);
  const sink = start(['sink', '--config', sinkYaml]);
  await sink.waitFor((l) => l.msg === 'sink listening');
  const { config } = publishingDevice(dir, [
    `uplink:\n  url: http://127.0.0.1:${sinkPort}\n  backoffInitialMs: 100\n  backoffMaxMs: 400`,
    `sparkplug:\n  url: mqtt://127.0.0.1:${sparkplugPort}\n  group: holds\n  reconnectMs: 200`,
  ].join('\n') + '\n' + awsSection);

  // the sink acknowledges batch after batch while the site broker is down; then a SIGKILL
  let device = start(['run', '--config', config]);
  await device.waitFor((l) => l.msg === 'aws-iot connected');
  const deadline = Date.now() + 30_000;
  while (((await getJson(`http://127.0.0.1:${sinkPort}/v1/devices/site-a-gw1/head`)).body.batch as number ?? 0) < 3 && Date.now() < deadline) await sleep(200);
  await sleep(1200); // a cursor save or two of the cloud target
  await device.kill('SIGKILL');

  const killed = await inspect(dataDir);
  assert.ok(killed.stats.ackedSeq >= 3 * 200, `the sink acknowledged only ${killed.stats.ackedSeq} records`);
  assert.equal(killed.seqs[0], 1, 'the records the site broker lacks are held although the sink has them');
  assert.equal(killed.stats.unsentRecords, killed.stats.lastSeq - killed.stats.ackedSeq, 'unsent counts only what the sink lacks');
  assert.equal(killed.stats.heldRecords, killed.stats.ackedSeq);
  assert.equal(killed.stats.holds.sparkplug?.through, 0);
  assert.ok((killed.stats.holds['aws-iot']?.through ?? 0) > 0, 'the cloud target holds from its saved cursor');
  const saved = JSON.parse(readFileSync(join(dataDir, 'cloud-telemetry-aws-iot.json'), 'utf8')) as { through: number };
  assert.ok(killed.stats.holds['aws-iot']!.through <= saved.through, 'a hold never claims more than the cursor on disk');

  // the site broker comes back; the device is started again
  const sparkplug = await startMosquitto({ port: sparkplugPort });
  after(() => sparkplug.stop());
  const sub = new SparkplugSubscriber(sparkplug.url, 'holds');
  await sub.start();
  after(() => sub.stop());
  const first = device;
  device = start(['run', '--config', config]);
  await device.waitFor((l) => l.msg === 'sparkplug connected');
  const readings = killed.readings;
  const until = Date.now() + 40_000;
  for (let arrived = new Set<number>(); Date.now() < until && readings.some((s) => !arrived.has(s)); arrived = new Set(sub.dataSeqs())) await sleep(250);
  await sleep(1500); // the cursor saved, the hold moved
  device.child.kill('SIGTERM');
  await device.exited;

  const got = new Set(sub.dataSeqs());
  assert.deepEqual(readings.filter((s) => !got.has(s)).slice(0, 10), [], 'readings journaled before the kill never reached the site broker');
  const historical = new Set(sub.messages.filter((m) => m.type === 'DDATA').flatMap((m) => m.metrics.filter((x) => x.isHistorical).map((x) => x.properties.journalSeq as number)));
  assert.ok(readings.every((s) => historical.has(s)), 'the outage\'s readings arrive flagged historical');
  assert.deepEqual([...passedOver(first), ...passedOver(device)], [], 'a record passed over as no longer in the journal');
  const awsSeqs = new Set(awsSub.seqs());
  assert.ok(readings.every((s) => awsSeqs.has(s)), 'the cloud target has them all too');

  const done = await inspect(dataDir);
  assert.ok(done.seqs.every((s) => s > killed.stats.lastSeq), `the journal still holds seq ${done.seqs[0]}, which the sink and both brokers have`);
  assert.ok(done.stats.holds.sparkplug!.through >= killed.stats.lastSeq);
  assert.equal(done.stats.holds.sparkplug!.lost, 0);
  await sink.kill('SIGTERM');
});

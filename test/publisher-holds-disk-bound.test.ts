// The journal's disk bound against the publishers' holds, with a real journal and real brokers:
// the sink acknowledges every batch while the Sparkplug broker is down and an AWS-IoT-like broker
// is up; a bound smaller than the held backlog drops the held records first (never an unsent
// batch while any is left), Sparkplug counts what it lost, logs it once and shows it in its
// status, the cloud target loses nothing; and once the broker is back it gets every record the
// journal still holds, none passed over as not in the journal.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import { createLogger } from '../kernel/log.ts';
import { Registry } from '../kernel/metrics.ts';
import { freeTcpPort } from '../kernel/net.ts';
import { MapStatusBoard } from '../kernel/status-board.ts';
import type { ReadingInput } from '../protocol/records.ts';
import { generateKey } from '../protocol/signature.ts';
import { cloudTelemetrySchema } from '../runtime/cloud-telemetry/config.ts';
import { CloudTelemetryComponent } from '../runtime/cloud-telemetry/component.ts';
import { Journal } from '../runtime/journal/journal.ts';
import { sparkplugSchema } from '../runtime/sparkplug/config.ts';
import { SparkplugComponent } from '../runtime/sparkplug/component.ts';
import { makeTestCerts, startMosquitto } from './support/mosquitto.ts';
import { SparkplugSubscriber } from './support/sparkplug-subscriber.ts';
import { tempDir } from './support/tmp.ts';

let ts = 1_763_884_800_000;
const reading = (i: number): ReadingInput => ({ sensor: `co2-${i % 4}`, metric: 'co2_ppm', ts: ts++, value: 400 + (i % 50), unit: 'ppm', quality: { score: 1, flags: [] } });

test('a disk bound smaller than the held backlog: held records go first, counted per publisher, logged once, shown; the rest arrives', { timeout: 60_000 }, async () => {
  const dir = tempDir('holds-disk-bound');
  const certs = makeTestCerts(tempDir('holds-disk-bound-certs'), 'site-a-gw1');
  const aws = await startMosquitto({ tls: true, certs });
  after(() => aws.stop());
  const sparkplugPort = await freeTcpPort(); // the site broker is down

  let logText = '';
  const log = createLogger('fieldproof', 'info', new Writable({ write(chunk, _enc, done) { logText += String(chunk); done(); } }));
  const metrics = new Registry();
  const journal = await Journal.open({ dir, device: 'site-a-gw1', key: generateKey(), commitMaxWaitMs: 1, batch: { maxRecords: 50, maxAgeMs: 60_000 }, maxBytes: 80_000, log, metrics });
  await journal.keepHolds(['sparkplug', 'aws-iot']);
  // the sink: acknowledges every batch as it is sealed, until told to stop
  let sinkUp = true;
  journal.onSealed((h) => {
    if (sinkUp) void journal.acknowledge(h.batch);
  });
  const board = new MapStatusBoard();
  const deps = { device: 'site-a-gw1', dataDir: dir, journal, onCommitted: journal.onCommitted.bind(journal), log, metrics, board };
  const sparkplug = new SparkplugComponent({ ...deps, config: sparkplugSchema.parse({ url: `mqtt://127.0.0.1:${sparkplugPort}`, group: 'bound', reconnectMs: 200 }) });
  const cloud = new CloudTelemetryComponent({ ...deps, config: cloudTelemetrySchema.parse({ aws: { url: aws.url, ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, reconnectMs: 200 } }) });
  after(async () => {
    await sparkplug.stop();
    await cloud.stop();
    await journal.close().catch(() => undefined);
  });
  await sparkplug.start();
  await cloud.start();
  const metric = async (name: string, labels: Record<string, string>) =>
    ((await metrics.getSingleMetric(name)?.get())?.values ?? []).filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);

  // more than the bound holds, all acknowledged by the sink, while the site broker is down
  for (let i = 0; i < 1500; i += 50) {
    await journal.appendMany(Array.from({ length: 50 }, (_, k) => reading(i + k)));
    await sleep(20);
  }
  await sleep(1500); // the cloud target's cursor saved: its hold is past everything
  let s = journal.stats();
  assert.equal(s.unsentRecords, 0);
  const lost = s.holds.sparkplug!.lost;
  assert.ok(lost > 0, 'the bound dropped nothing held');
  assert.equal(await metric('fieldproof_sparkplug_missed_total', { reason: 'disk_full' }), lost);
  // the cloud target's hold lags its cursor by up to a save: what it had is not counted as lost
  assert.equal(await metric('fieldproof_cloud_telemetry_errors_total', { target: 'aws-iot', reason: 'disk_full' }), 0);
  assert.equal((board.get('cloudTelemetry') as Record<string, { lostToDiskBound: number }>)['aws-iot']!.lostToDiskBound, 0);
  assert.equal(await metric('fieldproof_journal_hold_lost_records_total', { hold: 'sparkplug' }), lost);
  assert.equal((board.get('sparkplug') as { lostToDiskBound: number }).lostToDiskBound, lost);
  assert.equal((logText.match(/disk bound dropped records before the broker had them/g) ?? []).length, 1, 'one log line for the episode');
  assert.equal(s.prunedBatches, 0);

  // now the sink is down too: unsent batches fill the journal; held records go before any of them
  sinkUp = false;
  const heldBefore = s.heldRecords;
  for (let i = 1500; i < 1700; i += 50) await journal.appendMany(Array.from({ length: 50 }, (_, k) => reading(i + k)));
  s = journal.stats();
  assert.ok(s.heldRecords < heldBefore && s.heldRecords > 0, `held records made room (${heldBefore} -> ${s.heldRecords})`);
  assert.equal(s.prunedBatches, 0, 'an unsent batch was pruned while held records were left');
  assert.equal(s.unsentRecords, 200);
  // only once nothing held is left are the oldest unsent batches pruned; the publisher loses them too
  for (let i = 1700; i < 2400; i += 50) await journal.appendMany(Array.from({ length: 50 }, (_, k) => reading(i + k)));
  s = journal.stats();
  assert.equal(s.heldRecords, 0);
  assert.ok(s.prunedBatches > 0);
  assert.ok(s.bytes <= 80_000);
  assert.equal(s.holds.sparkplug!.through, s.holds['aws-iot']!.through, 'both holds moved past the pruned batches');

  // the site broker is back: every record the journal still holds arrives, none passed over
  const broker = await startMosquitto({ port: sparkplugPort });
  after(() => broker.stop());
  const sub = new SparkplugSubscriber(broker.url, 'bound');
  await sub.start();
  after(() => sub.stop());
  const held: number[] = [];
  // readings arrive as DDATA (gap records, as NDATA, tell of the pruned batches)
  for await (const { seq, line } of journal.records()) if ((JSON.parse(line) as { kind: string }).kind === 'reading') held.push(seq);
  const until = Date.now() + 30_000;
  for (let got = new Set<number>(); Date.now() < until && held.some((q) => !got.has(q)); got = new Set(sub.dataSeqs())) await sleep(200);
  const got = new Set(sub.dataSeqs());
  assert.deepEqual(held.filter((q) => !got.has(q)).slice(0, 10), [], 'held records never reached the site broker');
  assert.equal(await metric('fieldproof_sparkplug_missed_total', { reason: 'not_in_journal' }), 0);
  assert.ok(readFileSync(`${dir}/sparkplug.json`, 'utf8').includes('"through"'));
});

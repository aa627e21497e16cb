// JSON telemetry to an AWS-IoT-like mosquitto: a TLS listener that demands a client certificate
// (its CN is the identity, as a thing's certificate is) and an ACL that lets the device write only
// under the operator's topic. A consumer with its own certificate decodes what arrives. Then a
// broker outage: the readings journaled meanwhile arrive afterwards, in order, beside live ones.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import mqtt from 'mqtt';
import { createLogger } from '../../kernel/log.ts';
import { makeClientCert, makeTestCerts, startMosquitto, type Broker, type TestCerts } from '../../test/support/mosquitto.ts';
import { reading, telemetryDevice } from '../../test/support/telemetry-device.ts';
import { TelemetrySubscriber } from '../../test/support/telemetry-subscriber.ts';
import { keepAppending } from '../../test/support/live-writer.ts';
import { tempDir } from '../../test/support/tmp.ts';
import { awsIotSchema } from './config.ts';
import { awsIotPlatform } from './platforms.ts';

const DEVICE = 'site-a-gw1';
const ACL = `user ${DEVICE}\ntopic write fieldproof/${DEVICE}/#\n\nuser operator\ntopic read fieldproof/#\n`;

// the device's certificate has CN site-a-gw1, the consumer's CN operator, one CA for both and the broker
const certs: TestCerts = makeTestCerts(tempDir('aws-certs'), DEVICE);
const operator = makeClientCert(certs, 'operator');
let broker: Broker;
before(async () => {
  broker = await startMosquitto({ tls: true, certs, acl: ACL, logConnections: true });
});
after(() => broker?.stop());

const aws = (extra: Record<string, unknown> = {}) => ({ aws: { url: broker.url, ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, reconnectMs: 200, ...extra } });

async function consumer(): Promise<TelemetrySubscriber> {
  const sub = new TelemetrySubscriber(broker.url, 'fieldproof/#', { ca: readFileSync(certs.ca), cert: readFileSync(operator.cert), key: readFileSync(operator.key) });
  await sub.start();
  after(() => sub.stop());
  return sub;
}

test('a client without a certificate is refused', async () => {
  await assert.rejects(mqtt.connectAsync(broker.url, { ca: readFileSync(certs.ca), reconnectPeriod: 0, connectTimeout: 5000 }));
});

test('readings arrive as JSON arrays on the operator topic, one per sensor, with an id to drop repeats', async () => {
  const sub = await consumer();
  const { part, journal, metric, connected, board } = await telemetryDevice({ section: aws({ topic: 'fieldproof/{device}/{sensor}/{metric}' }) });
  await part.start();
  await connected('aws-iot');
  await journal.appendMany([reading('co2-1', 512.5, { quality: { score: 0.4, flags: ['calibration_stale'] } }), reading('co2-2', 430), reading('co2-1', null, { quality: { score: 0, flags: ['sensor_error'] } })]);
  await sub.until(3);
  const byTopic = new Map(sub.messages.map((m) => [m.topic, m.items]));
  assert.deepEqual([...byTopic.keys()].sort(), [`fieldproof/${DEVICE}/co2-1/co2_ppm`, `fieldproof/${DEVICE}/co2-2/co2_ppm`]);
  const co2 = byTopic.get(`fieldproof/${DEVICE}/co2-1/co2_ppm`)!;
  assert.equal(co2.length, 2, 'readings of one topic committed together go in one message');
  assert.deepEqual(
    { id: co2[0]!.id, seq: co2[0]!.seq, device: co2[0]!.device, value: co2[0]!.value, unit: co2[0]!.unit, quality: co2[0]!.quality, historical: co2[0]!.historical },
    { id: `${DEVICE}:1`, seq: 1, device: DEVICE, value: 512.5, unit: 'ppm', quality: { score: 0.4, flags: ['calibration_stale'] }, historical: undefined },
  );
  assert.equal(co2[1]!.value, null);
  // the client id is the device name, and the client speaks MQTT 3.1.1 (protocol level 4: "p2" in mosquitto's log)
  assert.match(broker.log(), new RegExp(`as ${DEVICE} \\(p2, c1`));
  assert.equal(await metric('fieldproof_cloud_telemetry_acknowledged_total', { target: 'aws-iot' }), 3);
  assert.equal(await metric('fieldproof_cloud_telemetry_connected', { target: 'aws-iot' }), 1);
  // the status page's view, as of the cursor's next save (every second)
  const shown = () => (board.get('cloudTelemetry') as Record<string, { connected: boolean; acknowledgedThrough: number; backlog: number }>)['aws-iot'];
  const deadline = Date.now() + 5000;
  while (shown()?.acknowledgedThrough !== 3 && Date.now() < deadline) await sleep(50);
  assert.deepEqual(shown(), { connected: true, acknowledgedThrough: 3, backlog: 0, lostToDiskBound: 0 });
});

test('many readings: messages hold at most maxReadingsPerMessage and maxMessageBytes, the readings of each topic in seq order', async () => {
  const sub = await consumer();
  const { part, journal } = await telemetryDevice({ section: aws({ maxReadingsPerMessage: 40, maxMessageBytes: 4096 }) });
  await part.start();
  await journal.appendMany(Array.from({ length: 300 }, (_, i) => reading(`s-${i % 3}`, i)));
  await sub.until(300);
  assert.ok(sub.messages.every((m) => m.items.length <= 40 && m.bytes <= 4096), 'a message over the limits');
  assert.ok(sub.messages.length >= 300 / 40);
  for (const sensor of ['s-0', 's-1', 's-2']) {
    const seqs = sub.items().filter((i) => i.sensor === sensor).map((i) => i.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `${sensor} in seq order`);
  }
});

test('a broker outage: the readings it missed arrive afterwards in order, flagged historical, live ones keep flowing, none lost', async () => {
  const sub = await consumer();
  const { part, journal, metric } = await telemetryDevice({ section: aws({ reconnectMs: 1000, replayPerSecond: 300, maxReadingsPerMessage: 20 }) });
  await part.start();
  const writer = keepAppending(() => journal.append(reading('live-1', 1)));
  await sleep(300);
  const port = broker.port;
  await broker.stop();
  await journal.appendMany(Array.from({ length: 400 }, (_, i) => reading(`missed-${i % 4}`, i)));
  await sleep(300);
  broker = await startMosquitto({ tls: true, certs, acl: ACL, logConnections: true, port });

  const deadline = Date.now() + 20_000;
  while (sub.items().filter((i) => i.sensor?.startsWith('missed-')).length < 400 && Date.now() < deadline) await sleep(50);
  await sleep(200);
  await writer.stop();
  const lastSeq = journal.stats().lastSeq;
  await sub.until(lastSeq, 20_000);

  const items = sub.items();
  const held = new Set(items.map((i) => i.seq));
  assert.deepEqual(Array.from({ length: lastSeq }, (_, i) => i + 1).filter((s) => !held.has(s)), [], 'readings lost');
  // at least once: a record is sent twice only when its acknowledgement was lost with the connection, and then from the journal
  const seen = new Set<number>();
  for (const i of items) {
    if (seen.has(i.seq)) assert.equal(i.historical, true, `seq ${i.seq} repeated live`);
    seen.add(i.seq);
  }
  const missed = items.filter((i) => i.sensor?.startsWith('missed-'));
  assert.ok(missed.every((i) => i.historical), 'readings of the outage flagged historical');
  // in journal order per topic (a message holds one topic's readings; the platform keeps no order across topics)
  for (let s = 0; s < 4; s++) {
    const seqs = [...new Set(missed.filter((i) => i.sensor === `missed-${s}`).map((i) => i.seq))];
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `the backlog of missed-${s} in journal order`);
  }
  const firstHistorical = items.findIndex((i) => i.historical);
  const lastHistorical = items.findLastIndex((i) => i.historical);
  assert.ok(items.slice(firstHistorical, lastHistorical).some((i) => !i.historical), 'live readings held back by the backlog');
  assert.ok((await metric('fieldproof_cloud_telemetry_reconnects_total', { target: 'aws-iot' })) >= 1);
  assert.ok((await metric('fieldproof_cloud_telemetry_replayed_total', { target: 'aws-iot' })) >= 400);
  assert.ok((await metric('fieldproof_cloud_telemetry_errors_total', { target: 'aws-iot', reason: 'connection_lost' })) >= 1);
});

test('port 443, for sites that open only HTTPS: the TLS handshake asks for MQTT by ALPN, as AWS IoT Core requires there', () => {
  const at = (url: string) => awsIotPlatform(awsIotSchema.parse({ url, cert: certs.clientCert, key: certs.clientKey }), DEVICE).options();
  assert.deepEqual(at('mqtts://abc-ats.iot.eu-west-1.amazonaws.com:443').ALPNProtocols, ['x-amzn-mqtt-ca']);
  assert.equal(at('mqtts://abc-ats.iot.eu-west-1.amazonaws.com:8883').ALPNProtocols, undefined);
  assert.equal(at('mqtts://abc-ats.iot.eu-west-1.amazonaws.com:8883').clientId, DEVICE);
});

test('a certificate file missing at run time: one line naming the key and file, retried, the daemon keeps running', async () => {
  let text = '';
  const log = createLogger('fieldproof', 'debug', new Writable({ write(chunk, _enc, done) { text += String(chunk); done(); } }));
  const { part, journal, metric } = await telemetryDevice({ section: aws({ cert: '/nonexistent/site-a-gw1.cert.pem' }), log });
  await part.start();
  await journal.append(reading('co2-1', 1));
  const deadline = Date.now() + 5000;
  while ((await metric('fieldproof_cloud_telemetry_errors_total', { target: 'aws-iot', reason: 'connection' })) < 2 && Date.now() < deadline) await sleep(50);
  const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; err?: string }).filter((l) => l.msg === 'aws-iot cannot connect');
  assert.ok(lines.length >= 2, 'retried');
  assert.equal(lines[0]!.err, 'cloudTelemetry.aws.cert: cannot read /nonexistent/site-a-gw1.cert.pem: ENOENT');
});

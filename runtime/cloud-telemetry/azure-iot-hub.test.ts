// JSON telemetry to an Azure-IoT-Hub-like mosquitto: TLS, the hub's user name for the device, its
// SAS token as the password (mosquitto_passwd), an ACL that lets the device write only to its
// device-to-cloud topic; the client must speak MQTT 3.1.1 (protocol level 4), checked in the
// broker's log. A wrong key is refused, and neither the key nor the token reaches the log.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { createLogger } from '../../kernel/log.ts';
import { makeClientCert, makeTestCerts, startMosquitto, type Broker } from '../../test/support/mosquitto.ts';
import { reading, telemetryDevice } from '../../test/support/telemetry-device.ts';
import { TelemetrySubscriber } from '../../test/support/telemetry-subscriber.ts';
import { tempDir } from '../../test/support/tmp.ts';
import { azureIotHubSchema } from './config.ts';
import { azureIotHubPlatform } from './platforms.ts';
import type { TelemetryTarget } from './target.ts';
import { deviceResource, sasToken } from './sas-token.ts';

const HUB = 'fp-test-hub';
const DEVICE = 'site-a-gw1';
const USERNAME = `${HUB}.azure-devices.net/${DEVICE}/?api-version=2021-04-12`;
const TOPIC = `devices/${DEVICE}/messages/events/$.ct=application%2Fjson&$.ce=utf-8`;
/** the device's clock, fixed so that the test knows the token the broker must accept */
const NOW = Date.now();

const dir = tempDir('azure');
const certs = makeTestCerts(dir);
const key = randomBytes(32).toString('base64');
const keyFile = join(dir, 'device-key');
writeFileSync(keyFile, `${key}\n`);
const token = sasToken(deviceResource(HUB, DEVICE), key, NOW, 3600).token;

let broker: Broker;
before(async () => {
  broker = await startMosquitto({
    tls: true, certs, clientCertificates: false, logConnections: true,
    users: { [USERNAME]: token, operator: 'operator-pass' },
    acl: `user ${USERNAME}\ntopic write devices/${DEVICE}/messages/events/#\n\nuser operator\ntopic read devices/#\n`,
  });
});
after(() => broker?.stop());

const azure = (extra: Record<string, unknown> = {}) => ({ azure: { hub: HUB, url: broker.url, ca: certs.ca, sharedAccessKeyFile: keyFile, reconnectMs: 200, ...extra } });

test('the SAS token is HMAC-SHA256 of the url-encoded resource and expiry, as openssl computes it', () => {
  const sr = encodeURIComponent(`${HUB}.azure-devices.net/devices/${DEVICE}`);
  const expiry = Math.floor(NOW / 1000) + 3600;
  const hex = Buffer.from(key, 'base64').toString('hex');
  const mac = execFileSync('openssl', ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `hexkey:${hex}`, '-binary'], { input: `${sr}\n${expiry}` });
  assert.equal(token, `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(mac.toString('base64'))}&se=${expiry}`);
});

test('telemetry reaches the device-to-cloud topic over MQTT 3.1.1 with the hub user name and SAS token; the token is renewed before it expires', async () => {
  const sub = new TelemetrySubscriber(broker.url, 'devices/#', { ca: readFileSync(certs.ca), username: 'operator', password: 'operator-pass' });
  await sub.start();
  after(() => sub.stop());
  const { part, journal, metric, connected } = await telemetryDevice({ section: azure(), now: () => NOW });
  await part.start();
  await connected('azure-iot-hub');
  await journal.appendMany([reading('co2-1', 500), reading('co2-2', 501), reading('co2-1', 502)]);
  await sub.until(3);
  assert.deepEqual([...new Set(sub.messages.map((m) => m.topic))], [TOPIC]);
  assert.deepEqual(sub.items().map((i) => [i.id, i.sensor, i.value]), [[`${DEVICE}:1`, 'co2-1', 500], [`${DEVICE}:2`, 'co2-2', 501], [`${DEVICE}:3`, 'co2-1', 502]]);
  // client id = device id, protocol level 4 ("p2" in mosquitto's log: MQTT 3.1.1), the hub's user name
  assert.match(broker.log(), new RegExp(`as ${DEVICE} \\(p2, c1, k60, u'${USERNAME.replaceAll('?', '\\?').replaceAll('.', '\\.')}'\\)`));

  // the renewal a token's expiry calls for: a disconnect, a new token, a reconnect, nothing lost
  const target = (part as unknown as { targets: TelemetryTarget[] }).targets[0]!;
  await target.renewCredential();
  await connected('azure-iot-hub');
  await journal.append(reading('co2-1', 503));
  await sub.until(4);
  assert.equal(await metric('fieldproof_cloud_telemetry_reconnects_total', { target: 'azure-iot-hub' }), 1);
  assert.equal(await metric('fieldproof_cloud_telemetry_errors_total', { target: 'azure-iot-hub', reason: 'connection_lost' }), 0, 'a renewal is not a lost connection');
});

test('a token is renewed at four fifths of its lifetime', () => {
  const config = azureIotHubSchema.parse({ hub: HUB, sharedAccessKeyFile: keyFile, sasTtlS: 3600 });
  const platform = azureIotHubPlatform(config, DEVICE);
  assert.equal(platform.url, `mqtts://${HUB}.azure-devices.net:8883`);
  const before = Date.now();
  const options = platform.options();
  assert.match(String(options.password), /^SharedAccessSignature sr=fp-test-hub\.azure-devices\.net%2Fdevices%2Fsite-a-gw1&sig=[^&]+&se=\d+$/);
  assert.equal(options.protocolVersion, 4);
  assert.equal(options.username, USERNAME);
  const renewIn = platform.renewAt!() - before;
  assert.ok(renewIn > 0.79 * 3600_000 && renewIn <= 0.8 * 3600_000 + 1000, `renews in ${renewIn} ms`);
});

test('a wrong key is refused with one clear line; neither key nor token is logged', async () => {
  let text = '';
  const log = createLogger('fieldproof', 'debug', new Writable({ write(chunk, _enc, done) { text += String(chunk); done(); } }));
  const wrongKeyFile = join(dir, 'wrong-key');
  const wrongKey = randomBytes(32).toString('base64');
  writeFileSync(wrongKeyFile, wrongKey);
  const { part, journal, metric } = await telemetryDevice({ section: azure({ sharedAccessKeyFile: wrongKeyFile }), now: () => NOW, log });
  await part.start();
  await journal.append(reading('co2-1', 1));
  const deadline = Date.now() + 10_000;
  while ((await metric('fieldproof_cloud_telemetry_errors_total', { target: 'azure-iot-hub', reason: 'connection' })) === 0 && Date.now() < deadline) await sleep(50);
  await part.stop();
  assert.ok((await metric('fieldproof_cloud_telemetry_errors_total', { target: 'azure-iot-hub', reason: 'connection' })) >= 1);
  assert.equal(await metric('fieldproof_cloud_telemetry_acknowledged_total', { target: 'azure-iot-hub' }), 0);
  const problems = text.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; err?: string }).filter((l) => l.msg === 'azure-iot-hub connection problem');
  assert.ok(problems.length >= 1, text);
  assert.match(problems[0]!.err!, /Not authorized|Bad User Name or Password/);
  const wrongToken = sasToken(deviceResource(HUB, DEVICE), wrongKey, NOW, 3600).token;
  for (const secret of [wrongKey, wrongToken, decodeURIComponent(wrongToken.split('sig=')[1]!.split('&')[0]!)]) assert.ok(!text.includes(secret), `a secret in the log:\n${text}`);
});

test('X.509 instead of a SAS token: the device certificate, the hub user name, no password', async () => {
  // a broker that demands a client certificate and takes its CN as the identity, as IoT Hub does for X.509 devices
  const device = makeClientCert(certs, DEVICE);
  const reader = makeClientCert(certs, 'x509-reader');
  const x509 = await startMosquitto({
    tls: true, certs, logConnections: true,
    acl: `user ${DEVICE}\ntopic write devices/${DEVICE}/messages/events/#\n\nuser x509-reader\ntopic read devices/#\n`,
  });
  after(() => x509.stop());
  const sub = new TelemetrySubscriber(x509.url, 'devices/#', { ca: readFileSync(certs.ca), cert: readFileSync(reader.cert), key: readFileSync(reader.key) });
  await sub.start();
  after(() => sub.stop());
  const { part, journal, connected } = await telemetryDevice({ section: { azure: { hub: HUB, url: x509.url, ca: certs.ca, cert: device.cert, key: device.key, reconnectMs: 200 } } });
  await part.start();
  await connected('azure-iot-hub');
  await journal.append(reading('co2-1', 600));
  await sub.until(1);
  assert.equal(sub.messages[0]!.topic, TOPIC);
  assert.equal(sub.items()[0]!.value, 600);
  assert.match(x509.log(), new RegExp(`as ${DEVICE} \\(p2, c1`));
  const options = azureIotHubPlatform(azureIotHubSchema.parse({ hub: HUB, cert: device.cert, key: device.key }), DEVICE).options();
  assert.equal(options.username, USERNAME);
  assert.equal(options.password, undefined);
  assert.ok(options.cert && options.key);
});

/**
 * IoT Hub's WebSocket endpoint in front of the broker: HTTPS with the test certificate, the path
 * `/$iothub/websocket` and the `mqtt` subprotocol demanded, each WebSocket piped to the broker's
 * MQTT port over TLS (this mosquitto has no WebSocket listener of its own). Records the paths and subprotocols asked for.
 */
async function webSocketFront(brokerPort: number) {
  const asked: { path: string; protocol: string }[] = [];
  const server = createServer({ cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) });
  const wss = new WebSocketServer({
    server,
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false),
    verifyClient: (info: { req: IncomingMessage }) => info.req.url === '/$iothub/websocket',
  });
  wss.on('connection', (socket, req) => {
    asked.push({ path: req.url!, protocol: socket.protocol });
    const stream = createWebSocketStream(socket);
    const tcp = connect({ port: brokerPort, host: '127.0.0.1', ca: readFileSync(certs.ca) });
    stream.pipe(tcp).pipe(stream);
    const close = () => (stream.destroy(), tcp.destroy());
    stream.on('error', close);
    tcp.on('error', close);
    tcp.on('close', close);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  after(() => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    server.close();
  });
  return { url: `wss://127.0.0.1:${(server.address() as AddressInfo).port}/$iothub/websocket`, asked };
}

test('MQTT over WebSockets on 443 for sites that open only HTTPS: the same login, topic and protocol level over wss://', async () => {
  const front = await webSocketFront(broker.port);
  const sub = new TelemetrySubscriber(broker.url, 'devices/#', { ca: readFileSync(certs.ca), username: 'operator', password: 'operator-pass' });
  await sub.start();
  after(() => sub.stop());
  const { part, journal, connected } = await telemetryDevice({ section: azure({ url: front.url }), now: () => NOW });
  await part.start();
  await connected('azure-iot-hub');
  await journal.append(reading('co2-1', 700));
  await sub.until(1);
  assert.equal(sub.messages[0]!.topic, TOPIC);
  assert.deepEqual(front.asked, [{ path: '/$iothub/websocket', protocol: 'mqtt' }]);
  const hub = azureIotHubPlatform(azureIotHubSchema.parse({ hub: HUB, sharedAccessKeyFile: keyFile, websockets: true }), DEVICE);
  assert.equal(hub.url, `wss://${HUB}.azure-devices.net:443/$iothub/websocket`);
});

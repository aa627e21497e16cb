// The alerts component against a real mosquitto (one per file, plain, with passwords and with
// TLS client certificates) and a real HTTP webhook endpoint.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import type { JournalRecord, ReadingRecord } from '../../protocol/records.ts';
import { silentLogger } from '../../kernel/log.ts';
import { Registry } from '../../kernel/metrics.ts';
import { MapStatusBoard } from '../../kernel/status-board.ts';
import { AlertsComponent } from './alerts.ts';
import { alertsSchema, type AlertsConfig } from './config.ts';
import type { Alert, AlertEvent } from './engine.ts';
import { startMosquitto, type Broker } from '../../test/support/mosquitto.ts';
import { tempDir } from '../../test/support/tmp.ts';

let plain: Broker;
let secured: Broker;
let tls: Broker;

before(async () => {
  // one at a time, so that a failure leaves nothing running that after() does not know of
  plain = await startMosquitto();
  secured = await startMosquitto({ users: { device: 'sas-token-123' } });
  tls = await startMosquitto({ tls: true });
});
after(async () => {
  await Promise.all([plain?.stop(), secured?.stop(), tls?.stop()]);
});

let seq = 0;
function reading(flags: string[], sensor = 'co2-1'): ReadingRecord {
  seq++;
  return { v: 1, kind: 'reading', device: 'site-a', seq, sensor, metric: 'co2_ppm', ts: 1_763_884_800_000 + seq, value: flags.length ? 99_999 : 500, unit: 'ppm', quality: { score: flags.length ? 0.2 : 1, flags } };
}

function component(config: AlertsConfig, dataDir = tempDir('alerts')) {
  let listener: ((r: readonly JournalRecord[]) => void) | null = null;
  const board = new MapStatusBoard();
  const metrics = new Registry();
  const c = new AlertsComponent({ config, device: 'site-a', dataDir, log: silentLogger(), metrics, board, onCommitted: (l) => (listener = l), sourceStatuses: () => [] });
  return { c, board, metrics, commit: (records: JournalRecord[]) => listener!(records) };
}

async function subscriber(url: string, topics: string[], opts: mqtt.IClientOptions = {}): Promise<{ client: MqttClient; messages: { topic: string; body: unknown; retain: boolean }[]; next: (topic: string, pred?: (b: any) => boolean) => Promise<any> }> {
  const client = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, ...opts });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  const messages: { topic: string; body: unknown; retain: boolean }[] = [];
  const waiters: { topic: string; pred: (b: any) => boolean; resolve: (b: any) => void }[] = [];
  client.on('message', (topic, payload, packet) => {
    const body = JSON.parse(payload.toString());
    messages.push({ topic, body, retain: packet.retain });
    for (const w of waiters.slice()) if (w.topic === topic && w.pred(body)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(body));
  });
  await client.subscribeAsync(topics, { qos: 1 });
  const next = (topic: string, pred: (b: any) => boolean = () => true) => {
    const seen = messages.find((m) => m.topic === topic && pred(m.body));
    if (seen) return Promise.resolve(seen.body);
    return new Promise((resolve, reject) => {
      waiters.push({ topic, pred, resolve });
      setTimeout(() => reject(new Error(`nothing on ${topic} in time`)), 5000).unref();
    });
  };
  return { client, messages, next };
}

test('raise and clear over MQTT QoS 1, retained status and active list, board and events', async () => {
  const config = alertsSchema.parse({ mqtt: { url: plain.url }, clearAfter: 2 });
  const { c, board, commit } = component(config);
  const sub = await subscriber(plain.url, ['fieldproof/site-a/#']);
  const events: AlertEvent[] = [];
  c.events.on('alert', (e) => events.push(e));
  await c.start();
  assert.equal((await sub.next('fieldproof/site-a/status')).state, 'online');
  commit([reading(['out_of_range']), reading(['out_of_range']), reading(['out_of_range'])]);
  const raised = await sub.next('fieldproof/site-a/alerts', (b) => b.type === 'raised');
  assert.equal(raised.alert.id, 'co2-1/co2_ppm/out_of_range');
  assert.equal(raised.alert.severity, 'critical');
  assert.equal((board.get('alerts') as Alert[]).length, 1);
  commit([reading([]), reading([])]);
  const cleared = await sub.next('fieldproof/site-a/alerts', (b) => b.type === 'cleared');
  assert.equal(cleared.alert.count, 3);
  assert.deepEqual(events.map((e) => e.type), ['raised', 'cleared']);
  assert.deepEqual(board.get('alerts'), []);
  // three flagged readings gave one raise: de-duplicated
  assert.equal(sub.messages.filter((m) => m.topic === 'fieldproof/site-a/alerts').length, 2);
  await c.stop();
  await sub.next('fieldproof/site-a/status', (b) => b.state === 'offline');
  // a late subscriber gets the retained status and active list
  const late = await subscriber(plain.url, ['fieldproof/site-a/status', 'fieldproof/site-a/alerts/active']);
  const status = await late.next('fieldproof/site-a/status');
  assert.equal(status.state, 'offline');
  assert.ok(late.messages.every((m) => m.retain));
  assert.deepEqual(await late.next('fieldproof/site-a/alerts/active'), []);
  await Promise.all([sub.client.endAsync(), late.client.endAsync()]);
});

test('the last will says offline when the connection drops without a goodbye', async () => {
  const config = alertsSchema.parse({ mqtt: { url: plain.url, clientId: 'will-test', reconnectMs: 60_000, keepaliveS: 1 } });
  const { c } = component(config);
  const sub = await subscriber(plain.url, ['fieldproof/site-a/status']);
  await c.start();
  await sub.next('fieldproof/site-a/status', (b) => b.state === 'online');
  sub.messages.length = 0;
  // cut the TCP connection under the client, as a power cut or a dead link would
  ((c as unknown as { mqtt: { client: MqttClient } }).mqtt.client.stream as unknown as { destroy(): void }).destroy();
  assert.equal((await sub.next('fieldproof/site-a/status', (b) => b.state === 'offline')).device, 'site-a');
  await c.stop();
  await sub.client.endAsync();
});

test('stopping never waits for a broker that is gone, alerts still unacknowledged', { timeout: 20_000 }, async () => {
  const broker = await startMosquitto();
  const { c, commit, metrics } = component(alertsSchema.parse({ mqtt: { url: broker.url, clientId: 'gone-broker', reconnectMs: 60_000 } }));
  const sub = await subscriber(broker.url, ['fieldproof/site-a/status']);
  await c.start();
  await sub.next('fieldproof/site-a/status', (b) => b.state === 'online');
  await sub.client.endAsync(true);
  await broker.stop();
  commit([reading(['stuck'])]); // QoS 1, never to be acknowledged
  await c.stop(); // a graceful end would wait for the acknowledgement forever: the timeout is the check
  const connected = await metrics.getSingleMetric('fieldproof_alerts_mqtt_connected')!.get();
  assert.equal(connected.values[0]?.value ?? 0, 0);
});

test('username and password are used, and a wrong one is refused', async () => {
  const good = component(alertsSchema.parse({ mqtt: { url: secured.url, username: 'device', password: 'sas-token-123' } }));
  const sub = await subscriber(secured.url, ['fieldproof/site-a/alerts'], { username: 'device', password: 'sas-token-123', clientId: 'sub-pw' });
  await good.c.start();
  good.commit([reading(['stuck'])]);
  assert.equal((await sub.next('fieldproof/site-a/alerts')).alert.kind, 'stuck');
  await good.c.stop();
  await sub.client.endAsync();

  const bad = component(alertsSchema.parse({ mqtt: { url: secured.url, username: 'device', password: 'wrong', clientId: 'bad' } }));
  await bad.c.start();
  await new Promise((r) => setTimeout(r, 500));
  const connected = await bad.metrics.getSingleMetric('fieldproof_alerts_mqtt_connected')!.get();
  assert.equal(connected.values[0]?.value ?? 0, 0);
  await bad.c.stop();
});

test('TLS with a client certificate (AWS IoT Core style) works; without one the broker refuses', async () => {
  const certs = tls.certs!;
  const { c, commit } = component(alertsSchema.parse({ mqtt: { url: tls.url, ca: certs.ca, cert: certs.clientCert, key: certs.clientKey } }));
  const sub = await subscriber(tls.url, ['fieldproof/site-a/alerts'], { ca: [readFileSync(certs.ca)], cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey), clientId: 'sub-tls' });
  await c.start();
  commit([reading(['anomaly'])]);
  assert.equal((await sub.next('fieldproof/site-a/alerts')).alert.kind, 'anomaly');
  await c.stop();
  await sub.client.endAsync();
  const noCert = mqtt.connect(tls.url, { protocolVersion: 5, reconnectPeriod: 0, ca: [readFileSync(certs.ca)] });
  const outcome = await new Promise((resolve) => {
    noCert.on('connect', () => resolve('connected'));
    noCert.on('error', () => resolve('refused'));
    noCert.on('close', () => resolve('refused'));
  });
  assert.equal(outcome, 'refused');
  noCert.end(true);
});

test('webhook: events are POSTed in order and retried while the endpoint fails', async () => {
  const got: { type: string; id: string }[] = [];
  let failures = 2;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (failures > 0) {
        failures--;
        res.writeHead(503).end();
        return;
      }
      const e = JSON.parse(body);
      got.push({ type: e.type, id: e.alert.id });
      res.writeHead(204).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const { c, commit } = component(alertsSchema.parse({ webhook: { url: `http://127.0.0.1:${port}/hook` }, clearAfter: 1 }));
  await c.start();
  commit([reading(['stuck']), reading([])]);
  const deadline = Date.now() + 8000;
  while (got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(got, [
    { type: 'raised', id: 'co2-1/co2_ppm/stuck' },
    { type: 'cleared', id: 'co2-1/co2_ppm/stuck' },
  ]);
  await c.stop();
  server.close();
});

test('config: cert without key, and password with passwordFile, are one-line errors', () => {
  assert.throws(() => alertsSchema.parse({ mqtt: { url: 'mqtts://x:8883', cert: 'a' } }), /cert and key go together/);
  assert.throws(() => alertsSchema.parse({ mqtt: { url: 'mqtt://x', password: 'a', passwordFile: 'b' } }), /not both/);
  assert.throws(() => alertsSchema.parse({ mqtt: { url: 'http://x' } }), /mqtt:\/\//);
});

test('the alert history keeps raise and clear times across a restart; one active at the stop is closed by it', async () => {
  const dir = tempDir('alert-history');
  const config = alertsSchema.parse({ clearAfter: 1, silentFactor: 0 });
  const first = component(config, dir);
  await first.c.start();
  first.commit([reading(['out_of_range'], 'co2-1')]);
  first.commit([reading([], 'co2-1')]);
  first.commit([reading(['stuck'], 'co2-2')]);
  const [active, cleared] = first.c.history.list();
  assert.equal(active!.id, 'co2-2/co2_ppm/stuck');
  assert.equal(active!.clearedAt, null);
  assert.equal(cleared!.id, 'co2-1/co2_ppm/out_of_range');
  assert.equal(cleared!.severity, 'critical');
  assert.ok(cleared!.clearedAt! > cleared!.raisedAt);
  assert.equal(cleared!.clearedBy, 'condition');
  await first.c.stop();

  const second = component(config, dir);
  await second.c.start();
  const after = second.c.history.list();
  assert.deepEqual(after[1], cleared);
  assert.equal(after[0]!.clearedBy, 'restart');
  assert.ok(after[0]!.clearedAt! >= after[0]!.raisedAt);
  await second.c.stop();

  // a damaged file is refused in one line and a new history starts
  writeFileSync(join(dir, 'alerts-history.json'), '{"v":1,"savedAt":1,"entries":[{"id":5}]}');
  const third = component(config, dir);
  await third.c.start();
  assert.deepEqual(third.c.history.list(), []);
  await third.c.stop();
});

test('an Azure IoT Hub URL is refused: IoT Hub takes neither MQTT 5 nor the alert topics', () => {
  for (const url of ['mqtts://my-hub.azure-devices.net:8883', 'mqtts://MY-HUB.Azure-Devices.NET', 'wss://dev:pw@my-hub.azure-devices.net/$iothub/websocket']) {
    const r = alertsSchema.safeParse({ mqtt: { url } });
    assert.equal(r.success, false, url);
    assert.match(r.error!.issues[0]!.message, /Azure IoT Hub takes only MQTT 3\.1\.1.*cloudTelemetry\.azure/);
  }
  assert.equal(alertsSchema.safeParse({ mqtt: { url: 'mqtts://a1b2c3-ats.iot.eu-west-1.amazonaws.com:8883' } }).success, true);
  assert.equal(alertsSchema.safeParse({ mqtt: { url: 'mqtts://azure-devices.net.example.org:8883' } }).success, true);
});

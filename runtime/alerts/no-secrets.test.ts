// What the alerts component writes to the log while it talks to a real mosquitto that wants a
// password and to a webhook whose URL path and header are its credentials: never the credentials.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import type { JournalRecord, ReadingRecord } from '../../protocol/records.ts';
import { createLogger } from '../../kernel/log.ts';
import { Registry } from '../../kernel/metrics.ts';
import { MapStatusBoard } from '../../kernel/status-board.ts';
import { AlertsComponent } from './alerts.ts';
import { alertsSchema } from './config.ts';
import { startMosquitto, type Broker } from '../../test/support/mosquitto.ts';
import { tempDir } from '../../test/support/tmp.ts';

const MQTT_PASSWORD = 'sas-token-7f3a9c';
const HOOK_PATH_SECRET = 'B07XYZ/Kq9vR2sT8uW4yZ1aB3cD5eF7g';
const HOOK_HEADER_SECRET = 'hook-bearer-51d2e8';

let broker: Broker;
before(async () => {
  broker = await startMosquitto({ users: { device: MQTT_PASSWORD } });
});
after(() => broker?.stop());

function capturedLogger() {
  let text = '';
  const sink = new Writable({ write(chunk, _enc, done) { text += String(chunk); done(); } });
  return { log: createLogger('fieldproof', 'debug', sink), text: () => text };
}

function flagged(seq: number): ReadingRecord {
  return { v: 1, kind: 'reading', device: 'site-a', seq, sensor: 'co2-1', metric: 'co2_ppm', ts: 1_763_884_800_000 + seq, value: 99_999, unit: 'ppm', quality: { score: 0.1, flags: ['out_of_range'] } };
}

test('broker URLs, passwords, webhook paths and headers stay out of the log', { timeout: 30_000 }, async () => {
  // The webhook endpoint fails, so that the notifier logs its retries.
  let hits = 0;
  const hook = createServer((req, res) => {
    hits++;
    req.resume();
    res.writeHead(503).end();
  });
  hook.listen(0, '127.0.0.1');
  await once(hook, 'listening');
  const hookPort = (hook.address() as { port: number }).port;

  const { log, text } = capturedLogger();
  const config = alertsSchema.parse({
    mqtt: { url: `mqtt://device:${MQTT_PASSWORD}@127.0.0.1:${broker.port}`, clientId: 'no-secrets' },
    webhook: { url: `http://127.0.0.1:${hookPort}/services/T0001/${HOOK_PATH_SECRET}?token=${HOOK_HEADER_SECRET}`, headers: { Authorization: `Bearer ${HOOK_HEADER_SECRET}` } },
  });
  let listener: ((r: readonly JournalRecord[]) => void) | null = null;
  const c = new AlertsComponent({ config, device: 'site-a', dataDir: tempDir('alerts-no-secrets'), log, metrics: new Registry(), board: new MapStatusBoard(), onCommitted: (l) => (listener = l), sourceStatuses: () => [] });
  // and a second publisher with the wrong password, so that the broker refuses it and the refusal is logged
  const refusedLog = capturedLogger();
  const refused = new AlertsComponent({
    config: alertsSchema.parse({ mqtt: { url: `mqtt://device:wrong-${MQTT_PASSWORD}@127.0.0.1:${broker.port}`, clientId: 'refused', reconnectMs: 60_000 } }),
    device: 'site-a', dataDir: tempDir('alerts-no-secrets'), log: refusedLog.log, metrics: new Registry(), board: new MapStatusBoard(), onCommitted: () => undefined, sourceStatuses: () => [],
  });
  try {
    await c.start();
    await refused.start();
    listener!([flagged(1), flagged(2)]);
    const until = Date.now() + 10_000;
    while (!(text().includes('mqtt connected') && text().includes('webhook delivery failed') && refusedLog.text().includes('mqtt connection problem'))) {
      if (Date.now() > until) throw new Error(`the expected lines did not come: ${text()} ${refusedLog.text()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(hits > 0, 'the webhook was called');
  } finally {
    await c.stop();
    await refused.stop();
    hook.close();
  }
  const out = text() + refusedLog.text();
  for (const secret of [MQTT_PASSWORD, HOOK_PATH_SECRET, 'Kq9vR2sT8uW4yZ1aB3cD5eF7g', HOOK_HEADER_SECRET]) {
    assert.ok(!out.includes(secret), `${secret} is in the log:\n${out}`);
  }
  const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.find((l) => l.msg === 'mqtt connected')!.url, `mqtt://device:***@127.0.0.1:${broker.port}`);
  assert.equal(lines.find((l) => l.msg === 'webhook delivery failed; retrying')!.url, `http://127.0.0.1:${hookPort}/***`);
  assert.equal(lines.find((l) => l.msg === 'mqtt connection problem')!.url, `mqtt://device:***@127.0.0.1:${broker.port}`);
});

// For the tests that send telemetry to an AWS-IoT-like broker: a TLS mosquitto that demands the
// device's client certificate (CN site-a-gw1, which may only write fieldproof/#), an operator's
// consumer subscribed to everything the device sends, and the `cloudTelemetry:` section (YAML)
// that points a device at it. Both are stopped when the test ends.
import { readFileSync } from 'node:fs';
import { after } from 'node:test';
import { makeClientCert, makeTestCerts, startMosquitto, type Broker, type TestCerts } from './mosquitto.ts';
import { TelemetrySubscriber } from './telemetry-subscriber.ts';
import { tempDir } from './tmp.ts';

export async function awsLikeBroker(prefix: string): Promise<{ broker: Broker; certs: TestCerts; sub: TelemetrySubscriber; section: string }> {
  const certs = makeTestCerts(tempDir(`${prefix}-certs`), 'site-a-gw1');
  const operator = makeClientCert(certs, 'operator');
  const broker = await startMosquitto({ tls: true, certs, acl: 'user site-a-gw1\ntopic write fieldproof/#\nuser operator\ntopic read fieldproof/#\n' });
  after(() => broker.stop());
  const sub = new TelemetrySubscriber(broker.url, 'fieldproof/#', { ca: readFileSync(certs.ca), cert: readFileSync(operator.cert), key: readFileSync(operator.key) });
  await sub.start();
  after(() => sub.stop());
  const section = `cloudTelemetry:\n  aws:\n    url: ${broker.url}\n    ca: ${certs.ca}\n    cert: ${certs.clientCert}\n    key: ${certs.clientKey}\n    reconnectMs: 200\n`;
  return { broker, certs, sub, section };
}

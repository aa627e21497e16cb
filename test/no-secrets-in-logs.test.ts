// The real daemon, configured with every kind of secret it can hold (LoRaWAN session and root keys,
// a sink URL and a broker URL with passwords, a webhook whose path and header are credentials, the
// status page token), run at debug level against peers that fail, so that it logs its connection
// problems: none of the secrets may appear on stdout or stderr.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { freeTcpPort } from '../kernel/net.ts';
import { CliProcess } from './support/cli.ts';
import { tempDir } from './support/tmp.ts';

const SECRETS = {
  nwkSKey: '5ec2e7a0c9d14b2f8e3a6b7c1d0f9e8a',
  appSKey: '6fd3f8b1dae25c309f4b7c8d2e10af9b',
  appKey: '7ae409c2ebf36d41a05c8d9e3f21b0ac',
  sinkPassword: 'sink-pass-4c1e',
  brokerPassword: 'broker-pass-9a7d',
  hookPath: 'T0001/B0002/hookpathsecret8f2e',
  hookHeader: 'hook-header-secret-3b6a',
  httpToken: 'status-page-token-0d5f2c',
};

test('no secret from the config reaches the daemon log', { timeout: 60_000 }, async () => {
  const dir = tempDir('secrets');
  const [sinkPort, brokerPort, hookPort, httpPort] = [await freeTcpPort(), await freeTcpPort(), await freeTcpPort(), await freeTcpPort()];
  const config = join(dir, 'device.yaml');
  writeFileSync(config, `device: site-a-gw1
dataDir: ${join(dir, 'data')}
drivers:
  - kind: simulated
    id: sim
    sensors: 2
    intervalMs: 100
batch:
  maxRecords: 50
  maxAgeMs: 200
uplink:
  url: http://fieldproof:${SECRETS.sinkPassword}@127.0.0.1:${sinkPort}
  backoffInitialMs: 50
http:
  listen: 127.0.0.1:${httpPort}
  token: ${SECRETS.httpToken}
alerts:
  mqtt:
    url: mqtt://device:${SECRETS.brokerPassword}@127.0.0.1:${brokerPort}
    reconnectMs: 200
  webhook:
    url: http://127.0.0.1:${hookPort}/services/${SECRETS.hookPath}
    headers:
      Authorization: Bearer ${SECRETS.hookHeader}
gateway:
  listen: 127.0.0.1:0
  devices:
    - id: node-1
      activation: abp
      devAddr: 49be7df1
      nwkSKey: ${SECRETS.nwkSKey}
      appSKey: ${SECRETS.appSKey}
    - id: node-2
      activation: otaa
      devEui: 0004a30b001c0530
      joinEui: 70b3d57ed0000000
      appKey: ${SECRETS.appKey}
`);
  const p = new CliProcess(['run', '--config', config, '--progress-ms', '200'], { FIELDPROOF_LOG_LEVEL: 'debug' });
  try {
    await p.waitFor((l) => l.msg === 'fieldproof running');
    // the uplink and the broker fail against closed ports, and say so
    await p.waitFor((l) => l.msg === 'sink not reachable');
    await p.waitFor((l) => l.msg === 'mqtt connection problem');
  } finally {
    await p.kill('SIGTERM');
  }
  const out = JSON.stringify(p.lines) + p.stderr.join('\n');
  for (const [name, secret] of Object.entries(SECRETS)) assert.ok(!out.includes(secret), `${name} is in the log`);
  const mqttLine = p.lines.find((l) => l.msg === 'mqtt connection problem')!;
  assert.equal(mqttLine.url, `mqtt://device:***@127.0.0.1:${brokerPort}`);
});

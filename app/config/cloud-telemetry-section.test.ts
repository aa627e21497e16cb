import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { deviceConfigSchema, resolveDeviceConfig } from './device-config.ts';
import { cloudTelemetrySchema } from '../../runtime/cloud-telemetry/config.ts';
import { runCli } from '../../test/support/cli.ts';
import { tempDir } from '../../test/support/tmp.ts';

const aws = { url: 'mqtts://abc-ats.iot.eu-west-1.amazonaws.com:8883', cert: '/c.pem', key: '/k.pem' };
const azure = { hub: 'site-a-hub', sharedAccessKeyFile: '/key' };

describe('cloudTelemetry config', () => {
  it('accepts the sample, and each platform alone with its defaults', () => {
    const sample = parse(readFileSync(fileURLToPath(new URL('../../runtime/cloud-telemetry/cloud-telemetry.sample.yaml', import.meta.url)), 'utf8')) as { cloudTelemetry: unknown };
    const c = cloudTelemetrySchema.parse(sample.cloudTelemetry);
    assert.equal(c.aws?.topic, 'fieldproof/{device}/{sensor}');
    assert.equal(c.azure?.hub, 'site-a-hub');
    const d = deviceConfigSchema.parse({ device: 'site-a-gw1', dataDir: '/tmp/x', cloudTelemetry: { aws } });
    assert.equal(d.cloudTelemetry?.aws?.maxMessageBytes, 128 * 1024);
    assert.equal(d.cloudTelemetry?.aws?.maxInFlight, 100);
    const z = cloudTelemetrySchema.parse({ azure });
    assert.equal(z.azure?.apiVersion, '2021-04-12');
    assert.equal(z.azure?.sasTtlS, 3600);
    assert.ok(z.azure!.maxMessageBytes < 256 * 1024);
  });

  it('refuses what the platforms refuse', () => {
    const bad = (section: unknown) => assert.equal(cloudTelemetrySchema.safeParse(section).success, false, JSON.stringify(section));
    bad({});
    bad({ aws: { ...aws, url: 'mqtt://abc.iot.amazonaws.com:1883' } }); // no TLS
    bad({ aws: { url: aws.url, cert: '/c.pem' } }); // no key
    for (const topic of ['a/b/c/d/e/f/g/h/{sensor}', 'fp/#', 'fp/+/x', '$aws/things/x', '/fp', 'fp//x', 'fp/{driver}', 'with space', 'x'.repeat(257)]) bad({ aws: { ...aws, topic } });
    bad({ aws: { ...aws, maxMessageBytes: 128 * 1024 + 1 } });
    bad({ aws: { ...aws, maxInFlight: 101 } });
    bad({ azure: { hub: 'site-a-hub.azure-devices.net', sharedAccessKeyFile: '/key' } }); // the host, not the name
    bad({ azure: { hub: 'site-a-hub' } }); // no credential
    bad({ azure: { ...azure, cert: '/c', key: '/k' } }); // both
    bad({ azure: { ...azure, maxMessageBytes: 256 * 1024 } });
    bad({ azure: { ...azure, deviceId: 'a/b' } });
    bad({ gcp: {} });
    bad({ azure: { ...azure, url: 'ws://site-a-hub.azure-devices.net/$iothub/websocket' } }); // no TLS
    assert.equal(cloudTelemetrySchema.safeParse({ azure: { hub: 'site-a-hub', cert: '/c', key: '/k' } }).success, true);
    assert.equal(cloudTelemetrySchema.safeParse({ azure: { ...azure, url: 'wss://edge.local:443/$iothub/websocket' } }).success, true);
  });

  it('takes relative certificate and key paths from the folder of the config file', () => {
    const raw = deviceConfigSchema.parse({ device: 'gw', dataDir: 'data', cloudTelemetry: { aws: { ...aws, cert: 'certs/c.pem', ca: '/etc/ca.pem' }, azure: { hub: 'h-1', sharedAccessKeyFile: 'azure-key' } } });
    const c = resolveDeviceConfig(raw, '/etc/fieldproof').cloudTelemetry!;
    assert.deepEqual([c.aws!.cert, c.aws!.key, c.aws!.ca, c.azure!.sharedAccessKeyFile], ['/etc/fieldproof/certs/c.pem', '/k.pem', '/etc/ca.pem', '/etc/fieldproof/azure-key']);
  });

  it('fieldproof run refuses a section a platform would refuse: one line naming the key, exit 2', async () => {
    const dir = tempDir('telemetry-config');
    const config = join(dir, 'device.yaml');
    writeFileSync(config, `device: gw\ndataDir: ${join(dir, 'data')}\ncloudTelemetry:\n  aws:\n    url: ${aws.url}\n    cert: /c.pem\n    key: /k.pem\n    topic: fieldproof/#\n`);
    const r = await runCli(['run', '--config', config]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /cloudTelemetry\.aws\.topic/);
  });
});

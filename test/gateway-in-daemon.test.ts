// The gateway inside the real device daemon: config file -> Daemon (journal, pipeline) -> gateway
// component -> test packet forwarder over UDP -> records in the journal.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ReadingRecord } from '../protocol/records.ts';
import { loadDeviceConfig } from '../app/config/device-config.ts';
import { Daemon } from '../app/daemon.ts';
import { silentLogger } from '../kernel/log.ts';
import { SimulatedForwarder, SimulatedNode } from '../gateway/simulator.ts';
import { ABP, GW1, OTAA } from '../gateway/testdata/gateway-fixture.ts';
import { waitFor } from '../gateway/testdata/wait.ts';
import { freeUdpPort } from '../gateway/testdata/ports.ts';

const root = mkdtempSync(join(tmpdir(), 'fieldproof-gateway-daemon-'));
after(() => rmSync(root, { recursive: true, force: true }));

function writeConfig(dir: string, port: number): string {
  const file = join(dir, 'device.yaml');
  writeFileSync(join(dir, 'th-sensor.js'), 'function decodeUplink(input) { return { data: { temperature_c: ((input.bytes[0] << 8) | input.bytes[1]) / 100 } }; }\n');
  writeFileSync(file, `device: site-a-gw1
dataDir: ./data
batch:
  maxRecords: 5
  maxAgeMs: 200
gateway:
  listen: 127.0.0.1:${port}
  devices:
    - id: node-1
      activation: abp
      devAddr: ${ABP.devAddr}
      nwkSKey: ${ABP.nwkSKey}
      appSKey: ${ABP.appSKey}
      codec: cayenne-lpp
    - id: node-2
      activation: otaa
      devEui: ${OTAA.devEui}
      joinEui: ${OTAA.joinEui}
      appKey: ${OTAA.appKey}
      codec: ./th-sensor.js
`);
  return file;
}

describe('gateway under the device daemon', () => {
  it('journals decoded ABP and OTAA uplinks with their radio metadata', async () => {
    const dir = mkdtempSync(join(root, 'run-'));
    const port = await freeUdpPort();
    const config = loadDeviceConfig(writeConfig(dir, port));
    const daemon = new Daemon(config, silentLogger(), { progressMs: 60_000 });
    await daemon.start();
    const fwd = new SimulatedForwarder({ server: { host: '127.0.0.1', port }, eui: GW1, pullIntervalMs: 0 });
    try {
      await fwd.start();
      const abp = SimulatedNode.abp(ABP);
      await fwd.uplink(abp.uplink(Buffer.from('03670110056700FF', 'hex')), { rssi: -88, lsnr: -3.5 });
      const otaa = SimulatedNode.otaa(OTAA);
      await fwd.uplink(otaa.joinRequest());
      otaa.acceptJoin((await fwd.nextDownlink(3000)).phy);
      await fwd.uplink(otaa.uplink(Buffer.from([0x08, 0x3e]), { fPort: 2 }));
      await waitFor('three records durable', () => (daemon.stats()?.lastSeq ?? 0) >= 3);
      assert.ok(daemon.context.sourceStatuses().some((s) => s.id === 'node-2' && s.state === 'ok'));
      const listener = daemon.context.sourceStatuses().find((s) => s.id === 'lorawan-gateway');
      assert.equal(listener?.state, 'ok');
      assert.equal(listener?.detail, `listening on 127.0.0.1:${port}; 1 packet forwarder(s) heard`);
    } finally {
      await fwd.stop();
      await daemon.stop();
    }
    // Read the journal back as the export verb would.
    const { Journal } = await import('../runtime/journal/journal.ts');
    const j = await Journal.open({ dir: config.dataDir, device: config.device, key: daemon.key!, log: silentLogger() });
    const records: ReadingRecord[] = [];
    for await (const { line } of j.records()) records.push(JSON.parse(line) as ReadingRecord);
    await j.close();
    const readings = records.filter((r) => r.kind === 'reading');
    assert.deepEqual(readings.map((r) => [r.seq, r.sensor, r.metric, r.value, r.unit]), [
      [1, 'node-1-3', 'temperature_c', 27.2, 'degC'],
      [2, 'node-1-5', 'temperature_c', 25.5, 'degC'],
      [3, 'node-2', 'temperature_c', 21.1, 'degC'],
    ]);
    assert.equal(readings[0]!.device, 'site-a-gw1');
    assert.deepEqual(readings[0]!.meta, { dataRate: 'SF7BW125', fcnt: 0, fport: 1, frequency: 868.1, gateway: GW1, rssi: -88, snr: -3.5 });
    assert.equal(readings[2]!.meta!.fport, 2);
  });

  it('refuses to start with a codec file that does not exist, in one line', async () => {
    const dir = mkdtempSync(join(root, 'bad-'));
    const file = writeConfig(dir, await freeUdpPort());
    writeFileSync(file, (await import('node:fs')).readFileSync(file, 'utf8').replace('./th-sensor.js', './missing.js'));
    const config = loadDeviceConfig(file);
    const daemon = new Daemon(config, silentLogger());
    await assert.rejects(daemon.start(), (e: Error) =>
      e.name === 'ConfigError' && e.message.startsWith(`${file}: gateway.devices.1.codec: ./missing.js is neither cayenne-lpp nor an existing file`) && !e.message.includes('\n'));
  });
});

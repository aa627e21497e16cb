// A hostile codec inside the real device daemon: while it attacks its engine uplink after uplink,
// another device's uplinks keep reaching the journal, each attack leaves a flagged record with its
// payload, and the daemon's event loop keeps turning. Then downlinks end to end: queued through
// the daemon's downlink service, encoded by the codec, sent in the next receive window over real
// UDP, acknowledged by the node, every step journaled.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ReadingRecord } from '../protocol/records.ts';
import { loadDeviceConfig } from '../app/config/device-config.ts';
import { Daemon } from '../app/daemon.ts';
import { silentLogger } from '../kernel/log.ts';
import { SimulatedForwarder, SimulatedNode } from '../gateway/simulator.ts';
import { ABP, GW1 } from '../gateway/testdata/gateway-fixture.ts';
import { freeTcpPort, freeUdpPort } from '../gateway/testdata/ports.ts';
import { waitFor } from '../gateway/testdata/wait.ts';

const root = mkdtempSync(join(tmpdir(), 'fieldproof-codec-isolation-'));
after(() => rmSync(root, { recursive: true, force: true }));

const HOSTILE = { devAddr: '26011bda', nwkSKey: '000102030405060708090a0b0c0d0e0f', appSKey: '101112131415161718191a1b1c1d1e1f' };
const SENSECAP = { devAddr: '26011bdb', nwkSKey: '202122232425262728292a2b2c2d2e2f', appSKey: '303132333435363738393a3b3c3d3e3f' };

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = fileURLToPath(new URL('../bin/fieldproof.js', import.meta.url));
  return new Promise((resolve) => execFile(process.execPath, [bin, ...args], { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr })));
}

async function startDaemon(): Promise<{ daemon: Daemon; fwd: SimulatedForwarder; records: ReadingRecord[]; dir: string; file: string; httpPort: number }> {
  const dir = mkdtempSync(join(root, 'run-'));
  copyFileSync(fileURLToPath(new URL('../gateway/testdata/codecs/hostile.js', import.meta.url)), join(dir, 'hostile.js'));
  copyFileSync(fileURLToPath(new URL('../gateway/codecs/examples/sensecap-style.js', import.meta.url)), join(dir, 'sensecap.js'));
  const port = await freeUdpPort();
  const httpPort = await freeTcpPort();
  const file = join(dir, 'device.yaml');
  const abp = (id: string, k: typeof ABP, codec: string) => `    - { id: ${id}, activation: abp, devAddr: ${k.devAddr}, nwkSKey: ${k.nwkSKey}, appSKey: ${k.appSKey}, codec: ${codec} }\n`;
  writeFileSync(file, `device: site-a-gw1
dataDir: ./data
batch: { maxRecords: 50, maxAgeMs: 200 }
http: { listen: 127.0.0.1:${httpPort} }
gateway:
  listen: 127.0.0.1:${port}
  codecTimeoutMs: 1000
  codecMemoryMiB: 4
  devices:
${abp('node-1', ABP, 'cayenne-lpp')}${abp('hostile', HOSTILE, './hostile.js')}${abp('sensecap', SENSECAP, './sensecap.js')}`);
  const daemon = new Daemon(loadDeviceConfig(file), silentLogger(), { progressMs: 60_000 });
  await daemon.start();
  const records: ReadingRecord[] = [];
  daemon.context.onCommitted((recs) => {
    for (const r of recs) if (r.kind === 'reading') records.push(r);
  });
  const fwd = new SimulatedForwarder({ server: { host: '127.0.0.1', port }, eui: GW1, pullIntervalMs: 0 });
  await fwd.start();
  return { daemon, fwd, records, dir, file, httpPort };
}

describe('codecs inside the daemon', () => {
  it('a hostile codec costs its own device only: other devices are journaled throughout, every attack is journaled flagged', async () => {
    const { daemon, fwd, records } = await startDaemon();
    // The event loop's longest stall while the attacks run, measured by a timer's lateness.
    let worstLateMs = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      worstLateMs = Math.max(worstLateMs, now - last - 10);
      last = now;
    }, 10);
    try {
      const good = SimulatedNode.abp(ABP);
      const bad = SimulatedNode.abp(HOSTILE);
      const attacks = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
      for (const [i, attack] of attacks.entries()) {
        await fwd.uplink(bad.uplink(Buffer.from([attack])));
        await fwd.uplink(good.uplink(Buffer.from([1, 0x67, 0x01, i])));
      }
      await fwd.uplink(bad.uplink(Buffer.from([42])));
      await waitFor('every uplink of both devices journaled', () =>
        records.filter((r) => r.sensor === 'node-1-1').length === attacks.length && records.filter((r) => r.sensor === 'hostile').length >= attacks.length + 1, 30_000);
    } finally {
      clearInterval(ticker);
      await fwd.stop();
      await daemon.stop();
    }
    assert.deepEqual(records.filter((r) => r.sensor === 'node-1-1').map((r) => r.value), [25.6, 25.7, 25.8, 25.9, 26, 26.1, 26.2, 26.3, 26.4, 26.5]);
    const hostile = records.filter((r) => r.sensor === 'hostile').map((r) => (r.metric === 'payload_undecoded' ? r.quality.flags[0] : `${r.metric}=${r.value}`));
    assert.deepEqual(hostile, [
      'codec_timeout', 'codec_threw', 'codec_out_of_memory', 'spun=1', 'codec_timeout', 'codec_timeout', 'rewrote=1', 'codec_out_of_memory', 'codec_timeout', 'locked=1',
      'level_pct=42', 'kept=0',
    ]);
    const undecoded = records.find((r) => r.sensor === 'hostile' && r.metric === 'payload_undecoded')!;
    assert.equal(undecoded.meta!.payload, '01');
    // Timing is the benchmarks' business; this only shows the loop was never held for long.
    assert.ok(worstLateMs < 2000, `the event loop stalled ${worstLateMs} ms`);
  });

  it('a downlink queued through the local API goes out in the next receive window, encoded, and its acknowledgement is journaled', async () => {
    const { daemon, fwd, records, file, httpPort } = await startDaemon();
    const api = `http://127.0.0.1:${httpPort}/api/downlinks`;
    const post = (body: unknown, type = 'application/json') => fetch(api, { method: 'POST', headers: { 'Content-Type': type }, body: JSON.stringify(body) });
    try {
      const service = daemon.context.services.downlinks!;
      assert.ok(service, 'the gateway offers the downlink service');
      const refused = await post({ device: 'sensecap', data: { interval_min: 0 }, confirmed: true });
      assert.deepEqual([refused.status, await refused.json()], [422, { error: 'encodeDownlink: interval_min must be 1..1440' }]);
      assert.equal((await post({ device: 'nobody', bytes: '00', fPort: 1 })).status, 404);
      assert.equal((await post({ device: 'sensecap', data: {} }, 'text/plain')).status, 415, 'a form or a simple cross-site POST is refused');
      assert.equal((await fetch(api, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: 'http://evil.example' }, body: '{}' })).status, 403);
      // Queued with the CLI verb, as an operator does.
      const sent = await cli('downlink', 'send', '--config', file, '--device', 'sensecap', '--data', '{"interval_min":30}', '--confirmed', '--json');
      assert.equal(sent.code, 0, sent.stderr);
      const queued = JSON.parse(sent.stdout) as { bytes: string; fPort: number; state: string };
      assert.deepEqual([queued.bytes, queued.fPort, queued.state], ['8e00001e', 2, 'queued']);
      const listed = await (await fetch(`${api}?device=sensecap`)).json() as { downlinks: { state: string }[] };
      assert.deepEqual(listed.downlinks.map((d) => d.state), ['queued']);

      const node = SimulatedNode.abp(SENSECAP);
      await fwd.uplink(node.uplink(Buffer.from('0110c05d0000', 'hex'), { fPort: 3 }));
      const down = node.decodeDownlink((await fwd.nextDownlink(5000)).phy);
      assert.equal(down.mtype, 5, 'confirmed data down');
      assert.equal(down.fPort, 2);
      assert.equal(down.payload.toString('hex'), '8e00001e');
      // The node acknowledges in its next uplink.
      await fwd.uplink(node.uplink(Buffer.from('0110c05d0000', 'hex'), { fPort: 3, ack: true }));
      await waitFor('the acknowledgement journaled', () => records.some((r) => r.metric === 'downlink' && r.state === 'acknowledged'), 10_000);
      assert.deepEqual(service.list('sensecap').map((d) => d.state), ['acknowledged']);
    } finally {
      await fwd.stop();
      await daemon.stop();
    }
    const steps = records.filter((r) => r.metric === 'downlink');
    assert.deepEqual(steps.map((r) => r.state), ['queued', 'sent', 'acknowledged']);
    assert.deepEqual(steps[0]!.meta, { id: steps[0]!.meta!.id!, fport: 2, payload: '8e00001e', confirmed: true, data: { interval_min: 30 } });
    assert.equal(steps[1]!.meta!.fcnt, 0);
    assert.equal(steps[1]!.meta!.window, 'rx1');
    // The uplinks decoded meanwhile, normalized quantities included.
    assert.ok(records.some((r) => r.sensor === 'sensecap' && r.metric === 'air.temperature' && r.unit === 'degC' && r.value === 24));
  });
});

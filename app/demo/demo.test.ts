// `fieldproof demo` as a user runs it: a child process, the URL on the first line, a live
// dashboard with every device kind reading over its own wire (MH-Z19 on a pty pair, ION7550 over
// Modbus TCP, a LoRaWAN node through the UDP gateway), batches held by the embedded sink, and a
// clean stop that leaves a proof `fieldproof verify` accepts.
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { verifyRecordProof } from '../../protocol/proof.ts';
import { SparkplugSubscriber } from '../../test/support/sparkplug-subscriber.ts';

const BIN = resolve(import.meta.dirname, '../../bin/fieldproof.js');

function getJson(url: string): Promise<unknown> {
  return new Promise((resolveGet, reject) => {
    request(url, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolveGet(JSON.parse(body)) : reject(new Error(`${url}: ${res.statusCode}`))));
    })
      .on('error', reject)
      .end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The demo as a child process, with its output collected. */
function runDemo(args: string[]): { child: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, 'demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out: () => out, err: () => err, exited };
}

function runCli(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('exit', (code) => resolveRun({ code, out }));
  });
}

type Sensor = { sensor: string; metric: string; value: number | null; unit: string };
type Status = { sensors: Sensor[]; sources: { id: string; kind: string; state: string; readings: number }[] };

/** The series each device kind must deliver, with the range its simulator keeps it in. */
const EXPECTED: { kind: string; sensor: string; metric: string; unit: string; min: number; max: number }[] = [
  { kind: 'mhz19', sensor: 'co2-room', metric: 'co2_ppm', unit: 'ppm', min: 300, max: 1000 },
  { kind: 'ion7550', sensor: 'meter-main', metric: 'power_kw', unit: 'kW', min: 0, max: 110 },
  { kind: 'ion7550', sensor: 'meter-main', metric: 'energy_delivered_kwh', unit: 'kWh', min: 48_210, max: 48_300 },
  { kind: 'lorawan', sensor: 'field-node-1', metric: 'temperature_c', unit: 'degC', min: 5, max: 30 },
  { kind: 'lorawan', sensor: 'field-node-2', metric: 'humidity_pct', unit: '%', min: 40, max: 80 },
  { kind: 'simulated', sensor: 'pv-1', metric: 'power_kw', unit: 'kW', min: 0, max: 500 },
];

function missing(status: Status): string[] {
  return EXPECTED.filter((e) => !status.sensors.some((s) => s.sensor === e.sensor && s.metric === e.metric && s.value !== null)).map((e) => `${e.sensor}/${e.metric}`);
}

describe('fieldproof demo', () => {
  it('prints the dashboard URL first, reads all three device kinds, syncs to the sink, and leaves a proof that verifies after SIGTERM', async () => {
    const demo = runDemo([]);
    let proofDir: string | undefined;
    try {
      const until = Date.now() + 30_000;
      while (!demo.out().includes('\n')) {
        if (Date.now() > until || demo.child.exitCode !== null) throw new Error(`no first line: ${demo.out()} ${demo.err()}`);
        await sleep(50);
      }
      const first = demo.out().split('\n')[0]!;
      const m = /^fieldproof demo: dashboard at (http:\/\/127\.0\.0\.1:(\d+)\/)$/.exec(first);
      assert.ok(m, `first line: ${first}`);
      const url = m[1]!;

      // Every kind's readings on the page, and the sink holding at least one batch.
      let status: Status | null = null;
      let sinkHead: { batch: number; last: number } | null = null;
      while (Date.now() < until) {
        const sinkUrl = /sink at (http:\/\/127\.0\.0\.1:\d+)/.exec(demo.out())?.[1];
        if (sinkUrl && /\[\s*\d+ s\] journaled/.test(demo.out())) {
          status = (await getJson(`${url}api/status`)) as Status;
          sinkHead = (await getJson(`${sinkUrl}/v1/devices/demo-gw1/head`)) as { batch: number; last: number };
          if (sinkHead.batch >= 1) {
            assert.ok(demo.out().includes(`sink pages at ${sinkUrl}/: the fleet`), 'the sink\'s pages are printed beside the dashboard');
            const fleet = (await getJson(`${sinkUrl}/v1/fleet`)) as { devices: { device: string; backlog: number | null }[] };
            assert.deepEqual(fleet.devices.map((d) => d.device), ['demo-gw1']);
            assert.equal(typeof fleet.devices[0]!.backlog, 'number', 'the device reports its backlog with its batches');
          }
          if (missing(status).length === 0 && sinkHead.batch >= 1) break;
        }
        assert.equal(demo.child.exitCode, null, `the demo exited: ${demo.out()} ${demo.err()}`);
        await sleep(250);
      }
      assert.ok(status, `no status: ${demo.out()}`);
      assert.deepEqual(missing(status), [], `series without readings: ${JSON.stringify(status.sensors.map((s) => `${s.sensor}/${s.metric}`))}`);
      for (const e of EXPECTED) {
        const s: Sensor = status.sensors.find((x) => x.sensor === e.sensor && x.metric === e.metric)!;
        assert.equal(s.unit, e.unit, `${e.sensor}/${e.metric} unit`);
        assert.ok(s.value! >= e.min && s.value! <= e.max, `${e.sensor}/${e.metric} = ${s.value} (expected ${e.min}..${e.max})`);
      }
      const kinds = new Map(status.sources.map((s) => [s.kind, s]));
      for (const kind of ['mhz19', 'ion7550', 'lorawan', 'simulated']) {
        const s = kinds.get(kind);
        assert.ok(s && s.state === 'ok' && s.readings > 0, `source of kind ${kind}: ${JSON.stringify(s)}`);
      }
      assert.ok(sinkHead && sinkHead.batch >= 1 && sinkHead.last >= 1, `sink head: ${JSON.stringify(sinkHead)}`);
      // The page's history and alert history are on.
      const series = (await getJson(`${url}api/history/series`)) as { series: { sensor: string; metric: string }[] };
      assert.ok(series.series.some((x) => x.sensor === 'meter-main' && x.metric === 'power_kw'), JSON.stringify(series));
      assert.equal(((await getJson(`${url}api/alerts/history`)) as { enabled: boolean }).enabled, true);
      // It says where Sparkplug goes; with mosquitto installed (as in CI) to a broker of its own, where the readings are.
      const sparkplugLine = demo.out().split('\n').find((l) => l.startsWith('Sparkplug B'));
      assert.ok(sparkplugLine, `no Sparkplug line: ${demo.out()}`);
      const broker = /^Sparkplug B to (mqtt:\/\/127\.0\.0\.1:\d+) \(group fieldproof-demo, edge node demo-gw1\)/.exec(sparkplugLine);
      if (broker) {
        const sub = new SparkplugSubscriber(broker[1]!, 'fieldproof-demo');
        await sub.start();
        try {
          const data = await sub.next((m) => m.type === 'DDATA' && m.node === 'demo-gw1' && m.device === 'meter-main');
          assert.ok(data.metrics.some((x) => x.name === 'power_kw'));
        } finally {
          await sub.stop();
        }
      }
      const progress = demo.out().split('\n').filter((l) => /^\[\s*\d+ s\] journaled/.test(l)).at(-1)!;
      for (const series of ['meter-main', 'field-node-1', 'co2-room', 'pv-1']) assert.match(progress, new RegExp(`${series} -?\\d+(\\.\\d)? \\S+`), `progress line: ${progress}`);

      demo.child.kill('SIGTERM');
      assert.equal(await demo.exited, 0, demo.out() + demo.err());
      const out = demo.out();
      const stopped = /stopped: (\d+) records journaled in (\d+) signed batches, (\d+) batches held by the sink/.exec(out);
      assert.ok(stopped, out);
      assert.ok(Number(stopped[3]) >= 1, 'batches reached the sink');

      // The proof: written, named with the exact command, accepted by `fieldproof verify`.
      const cmd = /^check it with: npx fieldproof verify (\S+) --device-key ([0-9a-f]{64})$/m.exec(out);
      assert.ok(cmd, `no verify command: ${out}`);
      const proofFile = cmd[1]!;
      proofDir = resolve(proofFile, '..');
      assert.deepEqual(readdirSync(proofDir), ['proof.json'], 'the temp folder keeps only the proof');
      const proof = JSON.parse(readFileSync(proofFile, 'utf8')) as { record: Sensor & { device: string; seq: number } };
      assert.equal(proof.record.device, 'demo-gw1');
      assert.equal(`${proof.record.sensor}/${proof.record.metric}`, 'meter-main/power_kw', 'the meter reading is the one proved');
      assert.match(out, new RegExp(`proof of record ${proof.record.seq} \\(meter-main power_kw = `));
      const verified = await runCli(['verify', proofFile, '--device-key', cmd[2]!]);
      assert.equal(verified.code, 0, verified.out);
      assert.match(verified.out, /^ok +batch signature/m);
      assert.match(verified.out, /^ok +given key/m);
      assert.match(verified.out, /^proof holds, and ends at the device key given/m);
      assert.equal((await runCli(['verify', proofFile])).code, 3, 'without the key it is only consistent');
    } finally {
      if (demo.child.exitCode === null) demo.child.kill('SIGKILL');
      if (proofDir?.includes('fieldproof-demo-')) rmSync(proofDir, { recursive: true, force: true });
    }
  });

  it('with --dir keeps the device, the sink and the proof, and stops by itself after --seconds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fieldproof-demo-test-'));
    try {
      const demo = runDemo(['--dir', join(dir, 'site'), '--seconds', '2']);
      assert.equal(await demo.exited, 0, demo.out() + demo.err());
      assert.match(demo.out(), /^2 s elapsed: stopping$/m);
      const site = join(dir, 'site');
      assert.deepEqual(readdirSync(site).sort(), ['device', 'device.log', 'proof.json', 'sink']);
      // Short as the run was, the stop sealed and synced the readings before asking for the proof.
      const check = verifyRecordProof(JSON.parse(readFileSync(join(site, 'proof.json'), 'utf8')));
      assert.ok(check.ok, JSON.stringify(check.steps));
      assert.match(demo.out(), new RegExp(`^check it with: npx fieldproof verify ${join(site, 'proof.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} --device-key [0-9a-f]{64}$`, 'm'));
      assert.ok(readdirSync(join(site, 'device')).length > 0, 'the device folder is kept');
      assert.ok(existsSync(join(site, 'sink')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a bad --port in one line', async () => {
    const child = spawn(process.execPath, [BIN, 'demo', '--port', 'eighty'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    assert.equal(code, 2);
    assert.equal(err, 'fieldproof demo: --port must be a port number (1-65535), got "eighty"\n');
  });
});

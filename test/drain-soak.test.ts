// Draining a long outage's backlog through a sink that keeps dying, with real processes: a
// `fieldproof run` journals 100,000 readings while no sink is up (and is SIGKILLed once on the
// way), then drains them to a `fieldproof sink` (LevelDB store) that is SIGKILLed and restarted
// every second or so. The drain overlaps the journal's reads of the next batches with the
// deletes of the acknowledged ones all the time. At the end the sink holds every record exactly
// once, the device none, and neither side logged an error.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { chainProblem, checkBatch, type BatchHeader } from '../protocol/batch.ts';
import type { JournalRecord } from '../protocol/records.ts';
import { freeTcpPort } from '../kernel/net.ts';
import { CliProcess, runCli } from './support/cli.ts';
import { tempDir } from './support/tmp.ts';

const BACKLOG = 100_000;
const DEVICE = 'soak-dev';
const WIRE_BYTES_PER_S = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const processes: CliProcess[] = [];
after(async () => {
  for (const p of processes) await p.kill('SIGKILL');
});

function spawn(args: string[]): CliProcess {
  const p = new CliProcess(args);
  processes.push(p);
  return p;
}

/** pino lines at error level or above (50 error, 60 fatal), and anything on stderr. */
function errorsOf(p: CliProcess, who: string): string[] {
  return [
    ...p.lines.filter((l) => typeof l.level === 'number' && l.level >= 50).map((l) => `${who}: ${JSON.stringify(l)}`),
    ...p.stderr.map((l) => `${who} stderr: ${l}`),
  ];
}

const lastProgress = (p: CliProcess) => p.lines.filter((l) => l.msg === 'progress').at(-1);

test(`a backlog of ${BACKLOG} records drains through a sink SIGKILLed every second or so: each record once, nothing left, no error`, { timeout: 150_000 }, async () => {
  const dir = tempDir('drain-soak');
  const dataDir = join(dir, 'device');
  const port = await freeTcpPort();
  const { key } = JSON.parse((await runCli(['keys', 'show', '--data-dir', dataDir, '--json'])).stdout) as { key: string };

  const sinkYaml = join(dir, 'sink.yaml');
  writeFileSync(sinkYaml, `listen: 127.0.0.1:${port}\ndataDir: ${join(dir, 'sink')}\ndevices:\n  - id: ${DEVICE}\n    key: ${key}\nanchor:\n  mode: none\n  intervalMs: 60000\n`);
  // Group commits of a few dozen readings make batches of about ten chunks each: the shape in
  // which a read of a batch spans several LevelDB reads, between which acknowledgements land.
  const deviceYaml = (withSource: boolean) => {
    const file = join(dir, withSource ? 'device.yaml' : 'device-drain.yaml');
    writeFileSync(file, [
      `device: ${DEVICE}`, `dataDir: ${dataDir}`,
      withSource ? 'drivers:\n  - kind: simulated\n    id: sim\n    sensors: 200\n    intervalMs: 20' : 'drivers: []',
      'batch:\n  maxRecords: 500\n  maxAgeMs: 1000',
      'journal:\n  commitMaxWaitMs: 5',
      'validation:\n  model:\n    enabled: false',
      // The byte budget keeps the drain going for several sink lifetimes on any machine.
      `uplink:\n  url: http://127.0.0.1:${port}\n  backoffInitialMs: 100\n  backoffMaxMs: 500\n  inFlight: 6\n  maxBytesPerSecond: ${WIRE_BYTES_PER_S}`,
    ].join('\n') + '\n');
    return file;
  };
  const devices: CliProcess[] = [];
  const sinks: CliProcess[] = [];
  const runDevice = (withSource: boolean) => {
    const p = spawn(['run', '--config', deviceYaml(withSource), '--progress-ms', '250']);
    devices.push(p);
    return p;
  };
  const startSink = async () => {
    const p = spawn(['sink', '--config', sinkYaml]);
    sinks.push(p);
    await p.waitFor((l) => l.msg === 'sink listening', 30_000);
    return p;
  };
  const progressed = (p: CliProcess, seq: number) => p.waitFor((l) => l.msg === 'progress' && (l.lastSeq as number) >= seq, 90_000);

  // The outage: the sink is down while the backlog builds; the device dies once on the way.
  let device = runDevice(true);
  await progressed(device, BACKLOG / 2);
  assert.equal((await device.kill('SIGKILL')).signal, 'SIGKILL');
  device = runDevice(true);
  await progressed(device, BACKLOG);
  assert.equal((await device.kill('SIGTERM')).code, 0, 'the source stops and the tail is sealed');
  const backlog = JSON.parse((await runCli(['journal', 'stats', '--data-dir', dataDir, '--json'])).stdout) as { lastSeq: number; lastBatch: number; unsentRecords: number };
  assert.ok(backlog.unsentRecords >= BACKLOG, `the backlog holds ${backlog.unsentRecords} records`);

  // The drain, through a sink that keeps dying. Killing stops once the sink holds everything.
  device = runDevice(false);
  let sink = await startSink();
  let kills = 0;
  let killsMidDrain = 0;
  const drained = () => lastProgress(device)?.unsentRecords === 0;
  while (!drained()) {
    await Promise.race([sleep(500 + Math.random() * 1000), device.waitFor((l) => l.msg === 'progress' && l.unsentRecords === 0, 3000).catch(() => undefined)]);
    if (drained()) break;
    await sink.kill('SIGKILL');
    kills++;
    if (!drained()) killsMidDrain++;
    await sleep(200);
    sink = await startSink();
    assert.ok(kills < 60, `still ${String(lastProgress(device)?.unsentRecords)} records unsent after ${kills} sink kills`);
  }
  assert.ok(killsMidDrain >= 3, `the sink died ${killsMidDrain} times during the drain`);
  assert.equal((await device.kill('SIGTERM')).code, 0);
  assert.equal((await sink.kill('SIGTERM')).code, 0);

  const errors = [...devices.flatMap((p, i) => errorsOf(p, `device run ${i + 1}`)), ...sinks.flatMap((p, i) => errorsOf(p, `sink run ${i + 1}`))];
  assert.deepEqual(errors.slice(0, 10), [], `${errors.length} error lines`);

  const stats = JSON.parse((await runCli(['journal', 'stats', '--data-dir', dataDir, '--json'])).stdout) as { lastSeq: number; lastBatch: number; ackedBatch: number; unsentRecords: number };
  assert.equal(stats.unsentRecords, 0, 'the device holds nothing unsent');
  assert.equal(stats.ackedBatch, stats.lastBatch);
  assert.equal(stats.lastSeq, backlog.lastSeq, 'draining wrote no records');

  const exported = await runCli(['sink-export', '--config', sinkYaml], { timeoutMs: 60_000 });
  assert.equal(exported.code, 0, exported.stderr);
  const batches = exported.stdout.trim().split('\n').map((l) => JSON.parse(l) as { header: BatchHeader; records: JournalRecord[]; pruned?: boolean });
  assert.equal(batches.length, stats.lastBatch, 'every batch, once');
  assert.equal(chainProblem(batches.map((b) => b.header)), null, 'the stored headers form the device\'s chain');
  let expected = 1;
  for (const b of batches) {
    assert.equal(b.pruned, undefined, `batch ${b.header.batch} is whole`);
    assert.ok(checkBatch(b.header, b.records).ok, `batch ${b.header.batch} verifies`);
    for (const r of b.records) assert.equal(r.seq, expected++, 'seqs 1..N, each once, in order');
  }
  assert.equal(expected - 1, stats.lastSeq, 'every record the device journaled');
});

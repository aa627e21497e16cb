// The restored journal end to end with real processes: `fieldproof run` with a simulated source,
// `fieldproof sink`, the device's data dir copied while it runs, the device going on, the copy
// restored and the device started on it. The new epoch waits in `sink-devices pending-restarts`
// until `sink-devices accept-restart`; then every reading taken is at the sink exactly once
// across both epochs, and both chains verify.
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { chainProblem, checkBatch, epochOf, type BatchHeader } from '../protocol/batch.ts';
import type { JournalRecord } from '../protocol/records.ts';
import type { RestartRecord } from '../protocol/restart.ts';
import { freeTcpPort } from '../kernel/net.ts';
import { loadOrCreateKey } from '../runtime/device-key.ts';
import { BIN } from './support/cli.ts';
import { getJson, tempDir } from './support/sink.ts';
import { killVerbs, signalVerb, startVerb } from './support/verb-process.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const start = startVerb;
const stop = (child: ChildProcess) => signalVerb(child, 'SIGTERM');

async function cli(...args: string[]): Promise<Record<string, unknown>> {
  return JSON.parse((await run(process.execPath, [BIN, ...args], { maxBuffer: 256 * 1024 * 1024 })).stdout) as Record<string, unknown>;
}

const ndjson = <T>(text: string): T[] => text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);
const readingKey = (r: JournalRecord) => (r.kind === 'reading' ? `${r.sensor}/${r.metric}@${r.ts}` : null);

describe('a journal restored from a copy, with real processes', { timeout: 180_000 }, () => {
  it('pending until the admin accepts, then every reading at the sink once across both epochs', async () => {
    const tmp = tempDir('fieldproof-restore-');
    const deviceDir = join(tmp.dir, 'device');
    const copyDir = join(tmp.dir, 'copy');
    const { key } = loadOrCreateKey(deviceDir);
    const port = await freeTcpPort();
    const url = `http://127.0.0.1:${port}`;
    const sinkYaml = join(tmp.dir, 'sink.yaml');
    writeFileSync(sinkYaml, `listen: 127.0.0.1:${port}\ndataDir: ${join(tmp.dir, 'sink')}\nadminToken: restore-test-token\ndevices:\n  - id: site-r\n    key: ${key.public}\nanchor:\n  mode: none\n  intervalMs: 60000\n`);
    const deviceYaml = (drivers: boolean) => {
      const file = join(tmp.dir, drivers ? 'device.yaml' : 'device-drain.yaml');
      writeFileSync(file, [
        'device: site-r', `dataDir: ${deviceDir}`,
        drivers ? 'drivers:\n  - kind: simulated\n    id: sim\n    sensors: 3\n    intervalMs: 20' : 'drivers: []',
        'batch:\n  maxRecords: 40\n  maxAgeMs: 150',
        `uplink:\n  url: ${url}\n  backoffInitialMs: 100\n  backoffMaxMs: 400`,
      ].join('\n') + '\n');
      return file;
    };
    /**
     * The device without its source until its journal holds nothing unsent: run until the sink's
     * head stops moving, then ask the journal (a loaded machine can keep the head still for a
     * while with batches yet to go: run again then).
     */
    const drain = async () => {
      for (let attempt = 1; ; attempt++) {
        const device = await start(['run', '--config', deviceYaml(false)], 'fieldproof running');
        let last = '';
        for (let still = 0; still < 4; ) {
          await sleep(300);
          const h = (await getJson(`${url}/v1/devices/site-r/head`)).body;
          const now = `${String(h.epoch)}/${String(h.batch)}`;
          still = now === last ? still + 1 : 0;
          last = now;
        }
        await stop(device);
        const { unsentRecords } = await cli('journal', 'stats', '--data-dir', deviceDir, '--json');
        if (unsentRecords === 0 || attempt === 5) return;
      }
    };
    try {
      const sink = await start(['sink', '--config', sinkYaml], 'sink listening');
      let device = await start(['run', '--config', deviceYaml(true)], 'fieldproof running');
      await sleep(900);
      cpSync(deviceDir, copyDir, { recursive: true }); // the operator's backup, taken while it runs
      await sleep(900);
      await stop(device);
      await drain();
      const copied = ndjson<JournalRecord>((await run(process.execPath, [BIN, 'journal', 'export', '--data-dir', copyDir])).stdout);
      assert.ok(copied.length > 0, 'the copy holds records not yet acknowledged');

      // The card is replaced; the copy restored; the device runs on it.
      rmSync(deviceDir, { recursive: true, force: true });
      cpSync(copyDir, deviceDir, { recursive: true });
      device = await start(['run', '--config', deviceYaml(true)], 'fieldproof running');
      let pending: { epoch: number; reason: string }[] = [];
      for (let i = 0; i < 100 && pending.length === 0; i++) {
        await sleep(200);
        pending = (await cli('sink-devices', 'pending-restarts', '--config', sinkYaml)).restarts as typeof pending;
      }
      assert.deepEqual(pending.map((r) => [r.epoch, r.reason]), [[2, 'journal_behind_sink']]);
      await sleep(600); // it keeps journaling while it waits
      assert.equal((await getJson(`${url}/v1/devices/site-r/head`)).body.epoch, 1, 'nothing of epoch 2 stored before the acceptance');
      const accepted = await cli('sink-devices', 'accept-restart', '--device', 'site-r', '--config', sinkYaml);
      assert.equal(accepted.status, 'accepted');
      assert.deepEqual((await cli('sink-devices', 'pending-restarts', '--config', sinkYaml)).restarts, []);
      await sleep(600);
      await stop(device);
      await drain();
      await stop(sink);

      const stats = await cli('journal', 'stats', '--data-dir', deviceDir, '--json');
      assert.equal(stats.unsentRecords, 0, 'the device holds nothing unsent');
      const batches = ndjson<{ header: BatchHeader; records: JournalRecord[] }>((await run(process.execPath, [BIN, 'sink-export', '--config', sinkYaml], { maxBuffer: 256 * 1024 * 1024 })).stdout);
      const e1 = batches.filter((b) => epochOf(b.header) === 1);
      const e2 = batches.filter((b) => epochOf(b.header) === 2);
      assert.equal(e1.length + e2.length, batches.length);
      for (const b of batches) assert.equal(checkBatch(b.header, b.records).ok, true);
      assert.equal(chainProblem(e1.map((b) => b.header)), null, 'epoch 1 verifies');
      const restart = e2[0]!.records[0] as RestartRecord;
      assert.equal(restart.kind, 'restart');
      assert.deepEqual(restart.from, { epoch: 1, batch: e1.at(-1)!.header.batch, hash: e2[0]!.header.prev });
      assert.equal(chainProblem(e2.map((b) => b.header), null, restart.from.hash), null, 'epoch 2 verifies, joined to the end of epoch 1');
      assert.equal(e2.at(-1)!.header.last, stats.lastSeq, 'every record of epoch 2, seqs 1..last');

      const atSink = batches.flatMap((b) => b.records).map(readingKey).filter((k): k is string => k !== null);
      assert.equal(new Set(atSink).size, atSink.length, 'no reading twice across the epochs');
      const held = new Set(atSink);
      for (const r of copied) if (readingKey(r)) assert.ok(held.has(readingKey(r)!), `reading ${readingKey(r)} of the copy is at the sink`);
    } finally {
      await killVerbs();
      tmp.cleanup();
    }
  });
});

// End to end with real processes: `fieldproof run` with a simulated source writing all the time,
// `fieldproof sink`, SIGKILL to the sink several times and to the device once. At the end the
// sink holds exactly the device's records, each once, in a chain that verifies.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chainProblem, checkBatch, type BatchHeader } from '../protocol/batch.ts';
import { loadOrCreateKey } from '../runtime/device-key.ts';
import { getJson, tempDir } from './support/sink.ts';
import { freeTcpPort as freePort } from '../kernel/net.ts';
import { killVerbs, signalVerb, startVerb } from './support/verb-process.ts';

const BIN = fileURLToPath(new URL('../bin/fieldproof.js', import.meta.url));
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


const start = startVerb;
const kill = signalVerb;

describe('end to end through crashes', { timeout: 120_000 }, () => {
  it('ends with exactly the device\'s records at the sink, each once', async () => {
    const tmp = tempDir('fieldproof-e2e-');
    const deviceDir = join(tmp.dir, 'device');
    const { key } = loadOrCreateKey(deviceDir);
    const port = await freePort();
    const sinkYaml = join(tmp.dir, 'sink.yaml');
    writeFileSync(sinkYaml, `listen: 127.0.0.1:${port}\ndataDir: ${join(tmp.dir, 'sink')}\ndevices:\n  - id: site-e2e\n    key: ${key.public}\nanchor:\n  mode: none\n  intervalMs: 60000\n`);
    const deviceYaml = (drivers: boolean) => {
      const file = join(tmp.dir, drivers ? 'device.yaml' : 'device-drain.yaml');
      writeFileSync(file, [
        'device: site-e2e', `dataDir: ${deviceDir}`,
        drivers ? 'drivers:\n  - kind: simulated\n    id: sim\n    sensors: 5\n    intervalMs: 20' : 'drivers: []',
        'batch:\n  maxRecords: 60\n  maxAgeMs: 150',
        `uplink:\n  url: http://127.0.0.1:${port}\n  backoffInitialMs: 100\n  backoffMaxMs: 400\n  inFlight: 4`,
      ].join('\n') + '\n');
      return file;
    };
    try {
      let sink = await start(['sink', '--config', sinkYaml], 'sink listening');
      let device = await start(['run', '--config', deviceYaml(true), '--progress-ms', '500'], 'fieldproof running');
      for (let round = 0; round < 4; round++) {
        await sleep(900 + round * 150);
        await kill(sink, 'SIGKILL');
        await sleep(400);
        if (round === 1) {
          await kill(device, 'SIGKILL');
          device = await start(['run', '--config', deviceYaml(true), '--progress-ms', '500'], 'fieldproof running');
        }
        sink = await start(['sink', '--config', sinkYaml], 'sink listening');
      }
      await sleep(800);
      await kill(device, 'SIGTERM'); // stops the source and seals the last batch
      // The same device without its source, until the sink has everything.
      device = await start(['run', '--config', deviceYaml(false)], 'fieldproof running');
      let last = -1;
      let still = 0;
      while (still < 4) {
        await sleep(300);
        const head = (await getJson(`http://127.0.0.1:${port}/v1/devices/site-e2e/head`)).body.batch as number;
        still = head === last ? still + 1 : 0;
        last = head;
      }
      await kill(device, 'SIGTERM');
      await kill(sink, 'SIGTERM');

      const stats = JSON.parse((await run(process.execPath, [BIN, 'journal', 'stats', '--data-dir', deviceDir, '--json'])).stdout) as { lastSeq: number; lastBatch: number; ackedBatch: number; unsentRecords: number };
      assert.equal(stats.ackedBatch, stats.lastBatch, 'the device holds nothing unsent');
      assert.equal(stats.unsentRecords, 0);
      assert.ok(stats.lastSeq > 500, `the source wrote ${stats.lastSeq} records`);

      const out = (await run(process.execPath, [BIN, 'sink-export', '--config', sinkYaml], { maxBuffer: 256 * 1024 * 1024 })).stdout;
      const batches = out.trim().split('\n').map((l) => JSON.parse(l) as { header: BatchHeader; records: { seq: number }[]; pruned?: boolean });
      assert.equal(batches.length, stats.lastBatch);
      assert.equal(chainProblem(batches.map((b) => b.header)), null, 'the stored headers form the device\'s chain');
      const seqs: number[] = [];
      for (const b of batches) {
        assert.equal(b.header.key, key.public);
        assert.equal(b.pruned, undefined);
        assert.deepEqual(checkBatch(b.header, b.records).ok, true);
        for (const r of b.records) seqs.push(r.seq);
      }
      assert.equal(seqs.length, stats.lastSeq, 'each record once');
      assert.deepEqual(seqs, Array.from({ length: stats.lastSeq }, (_, i) => i + 1));
    } finally {
      await killVerbs();
      tmp.cleanup();
    }
  });
});

// Signed pruning under SIGKILL: a real `fieldproof run` whose sink is down fills its disk bound
// (drop-oldest), is killed at random moments while it prunes, and then reaches a real sink. Every
// batch arrives once: whole, or pruned beside the device's signed gap record naming it; nothing
// the journal still held is lost, and the sink's chain is the device's.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { chainProblem, headerHash, type BatchHeader } from '../protocol/batch.ts';
import { coverProblem } from '../protocol/prune-cover.ts';
import { sinkConfig } from '../cloud-sink/config.ts';
import { Sink } from '../cloud-sink/sink.ts';
import { freeTcpPort } from '../kernel/net.ts';
import { Journal } from '../runtime/journal/journal.ts';
import { verifyJournal } from '../runtime/journal/verify.ts';
import { CliProcess, runCli } from './support/cli.ts';
import { tempDir } from './support/tmp.ts';

test('a device killed while its disk bound prunes reaches the sink with every batch whole or covered', async () => {
  const dir = tempDir('prune-kill');
  const port = await freeTcpPort();
  const config = join(dir, 'device.yaml');
  writeFileSync(config, readFileSync(new URL('../app/config/testdata/device.yaml', import.meta.url), 'utf8')
    .replace('/var/lib/fieldproof', join(dir, 'data'))
    .replace('http://127.0.0.1:8787', `http://127.0.0.1:${port}`)
    .replace('maxRecords: 500', 'maxRecords: 100')
    + 'journal:\n  maxBytes: 90000\n  policy: drop-oldest\n');
  const key = JSON.parse((await runCli(['keys', 'show', '--data-dir', join(dir, 'data'), '--json'])).stdout) as { key: string };

  // The sink is down: batches pile up and the bound drops the oldest. Killed five times meanwhile.
  for (let i = 0; i < 5; i++) {
    const p = new CliProcess(['run', '--config', config, '--progress-ms', '100']);
    if (i === 0) await p.waitFor((l) => l.msg === 'journal full: dropped the oldest unsent batch', 20_000);
    else await p.waitFor((l) => l.msg === 'fieldproof running');
    await new Promise((r) => setTimeout(r, 200 + Math.random() * 800));
    assert.equal((await p.kill('SIGKILL')).signal, 'SIGKILL');
  }
  const journal = await Journal.inspect(join(dir, 'data'));
  const before = journal.stats();
  const verification = await verifyJournal(journal);
  await journal.close();
  assert.equal(verification.ok, true, verification.problems.join('; '));
  assert.ok(before.prunedBatches > 0, 'the bound pruned unsent batches');

  const sink = new Sink(sinkConfig({ listen: `127.0.0.1:${port}`, dataDir: join(dir, 'sink'), devices: [{ id: 'site-a-gw1', key: key.key }] }));
  await sink.start();
  try {
    const p = new CliProcess(['run', '--config', config, '--progress-ms', '100']);
    await p.waitFor((l) => l.msg === 'fieldproof running');
    // Until what was sealed before the sink came up is acknowledged.
    const deadline = Date.now() + 60_000;
    while ((await sink.store.head('site-a-gw1')).batch < before.lastBatch && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.equal((await p.kill('SIGTERM')).code, 0);

    const headers: BatchHeader[] = [];
    let pruned = 0;
    for await (const { row, lines } of sink.store.batches('site-a-gw1')) {
      headers.push(row.header);
      if (row.pruned) {
        pruned++;
        assert.equal(lines.length, 0);
        assert.equal(coverProblem(row.header, row.cover), null, `batch ${row.header.batch} is covered by a signed gap record`);
      } else assert.equal(lines.length, row.header.count, `batch ${row.header.batch} is whole`);
    }
    assert.ok(headers.length >= before.lastBatch);
    assert.equal(chainProblem(headers), null, 'the sink holds the device\'s chain, every link');
    assert.equal(before.ackedBatch, 0, 'the sink was down: nothing was acknowledged before');
    assert.ok(pruned >= before.prunedBatches, `every batch pruned before reached the sink as pruned (${pruned} of ${before.prunedBatches})`);
    // Whatever the journal still held with records when the sink came up reached it with records.
    const rejournal = await Journal.inspect(join(dir, 'data'));
    const after = rejournal.stats();
    await rejournal.close();
    assert.ok(after.ackedBatch >= before.lastBatch);
    const hashes = new Set(headers.map((h) => headerHash(h)));
    assert.equal(hashes.size, headers.length, 'each batch stored once');
  } finally {
    await sink.stop();
  }
});

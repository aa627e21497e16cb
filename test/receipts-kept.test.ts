// The device keeps the receipts it got: each beside its batch's header while that is held (so
// `journal export --batches` shows it), and the last acknowledged batch's receipt after, in
// `journal stats --json`: the operator can show the sink's signed acceptance later. Real LevelDB,
// a real sink over HTTP, the real `fieldproof journal` command.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { headerHash } from '../protocol/batch.ts';
import { checkReceipt, signReceipt, type Receipt } from '../protocol/receipt.ts';
import { generateKey } from '../protocol/signature.ts';
import { sinkConfig } from '../cloud-sink/config.ts';
import { Sink } from '../cloud-sink/sink.ts';
import { silentLogger } from '../kernel/log.ts';
import { Registry } from '../kernel/metrics.ts';
import { Journal } from '../runtime/journal/journal.ts';
import { uplinkSchema } from '../runtime/uplink/config.ts';
import { Uplink } from '../runtime/uplink/uplink.ts';
import { runCli } from './support/cli.ts';
import { tempDir } from './support/sink.ts';

const tmp = tempDir('fieldproof-receipts-kept-');
after(() => tmp.cleanup());

const readings = (n: number) => Array.from({ length: n }, (_, i) => ({ sensor: 's', metric: 'm', unit: 'u', ts: 1763884800000 + i * 1000, value: i }));

async function journalOf(dir: string, key = generateKey()): Promise<Journal> {
  const j = await Journal.open({ dir, device: 'dev-1', key, batch: { maxRecords: 10, maxBytes: 1e6, maxAgeMs: 3_600_000 }, commitMaxWaitMs: 1 });
  await j.appendMany(readings(30));
  await j.sealNow();
  return j;
}

describe('receipts kept in the journal', () => {
  it('keeps a receipt with its held batch across a restart, exports it, and keeps the last acknowledged one after the header goes', async () => {
    const dir = join(tmp.dir, 'unit');
    const sinkKey = generateKey();
    let j = await journalOf(dir);
    const r2 = signReceipt(sinkKey, { device: 'dev-1', batch: 2, header: headerHash(j.header(2)!) }, 1763884900000);
    await j.keepReceipt(r2);
    assert.deepEqual(j.receipt(2), r2);
    await j.close();

    const exported = await runCli(['journal', 'export', '--data-dir', dir, '--batches']);
    assert.equal(exported.code, 0, exported.stderr);
    const lines = exported.stdout.trim().split('\n').map((l) => JSON.parse(l) as { header: { batch: number }; receipt?: Receipt });
    assert.deepEqual(lines.map((l) => l.receipt?.batch ?? null), [null, 2, null], 'batch 2 carries its receipt, the others none');
    assert.ok(checkReceipt(lines[1]!.receipt, { device: 'dev-1', batch: 2, header: headerHash(lines[1]!.header as never) }).ok);

    j = await Journal.open({ dir, device: 'dev-1', key: { public: '' } as never, readOnly: true });
    assert.deepEqual(j.receipt(2), r2, 'reloaded at open');
    await j.close();
  });

  it('after a drain to a real sink, journal stats --json shows the sink\'s receipt of the last batch, which verifies', async () => {
    const key = generateKey();
    const dir = join(tmp.dir, 'dev');
    const j = await journalOf(dir, key);
    const last = headerHash(j.header(3)!);
    const sink = new Sink(sinkConfig({ listen: '127.0.0.1:0', dataDir: join(tmp.dir, 'sink'), devices: [{ id: 'dev-1', key: key.public }] }));
    await sink.start();
    const up = new Uplink({ journal: j, device: 'dev-1', dataDir: dir, log: silentLogger(), metrics: new Registry(), config: uplinkSchema.parse({ url: sink.url, backoffInitialMs: 50, backoffMaxMs: 200 }) });
    await up.start();
    assert.ok(await up.drained(20_000));
    await up.stop();
    await j.close();
    await sink.stop();

    const stats = await runCli(['journal', 'stats', '--data-dir', dir, '--json']);
    assert.equal(stats.code, 0, stats.stderr);
    const s = JSON.parse(stats.stdout) as { ackedBatch: number; lastReceipt: Receipt | null };
    assert.equal(s.ackedBatch, 3);
    assert.ok(s.lastReceipt, 'the last receipt is kept');
    assert.equal(s.lastReceipt.sink, sink.receiptKey);
    assert.ok(checkReceipt(s.lastReceipt, { device: 'dev-1', batch: 3, header: last }).ok);
  });
});

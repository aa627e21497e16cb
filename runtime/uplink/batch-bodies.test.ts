// Bodies made ahead against a real journal: each is the batch's own, decoded back to its lines;
// made one at a time in batch order; gone with the batch once the sink acknowledged it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { generateKey } from '../../protocol/signature.ts';
import { tempDir } from '../../test/support/sink.ts';
import { decodeColumnar } from '../../protocol/columnar/decoder.ts';
import { Journal } from '../journal/journal.ts';
import { BatchBodies, type BatchBody } from './batch-bodies.ts';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function journalOf(batches: number): Promise<Journal> {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const j = await Journal.open({ dir: join(tmp.dir, 'dev'), device: 'dev-1', key: generateKey(), batch: { maxRecords: 20, maxBytes: 1e6, maxAgeMs: 3_600_000 }, commitMaxWaitMs: 1 });
  cleanups.push(() => j.close());
  await j.appendMany(Array.from({ length: batches * 20 }, (_, i) => ({ sensor: `s-${i % 4}`, metric: 'temperature_c', unit: 'degC', ts: 1763884800000 + i * 250, value: (i % 37) / 10 })));
  await j.sealNow();
  assert.equal(j.stats().lastBatch, batches);
  return j;
}

describe('batch bodies', () => {
  it('makes each batch body ahead, and the sink decodes exactly the journal lines from it', async () => {
    const j = await journalOf(5);
    const bodies = new BatchBodies(j, { encoding: 'columnar', gzipLevel: 6 });
    bodies.prepare(1, 3);
    assert.equal(bodies.size, 3);
    for (let b = 1; b <= 5; b++) {
      const made = (await bodies.take(b)) as BatchBody | null;
      assert.ok(made);
      const decoded = decodeColumnar(gunzipSync(made.body), 1000);
      const held = (await j.readBatchLines(b))!;
      assert.deepEqual(decoded.header, held.header);
      assert.deepEqual(decoded.lines, held.lines);
      assert.equal(made.records, 20);
    }
    assert.equal(bodies.size, 0);
  });

  it('reads and encodes in batch order, one batch at a time', async () => {
    const j = await journalOf(4);
    const order: string[] = [];
    const source = {
      readBatchLines: async (b: number) => {
        order.push(`read ${b}`);
        const r = await j.readBatchLines(b);
        order.push(`read ${b} done`);
        return r;
      },
      pruneCover: (b: number) => j.pruneCover(b),
    };
    const bodies = new BatchBodies(source, { encoding: 'json', gzipLevel: 1 });
    bodies.prepare(1, 4);
    const made = await Promise.all([4, 3, 2, 1].map((b) => bodies.take(b)));
    assert.deepEqual(order, [1, 2, 3, 4].flatMap((b) => [`read ${b}`, `read ${b} done`]));
    const seqs = made.map((m) => (JSON.parse(gunzipSync((m as BatchBody).body).toString('utf8')) as { header: { batch: number } }).header.batch);
    assert.deepEqual(seqs, [4, 3, 2, 1]);
  });

  it('drops bodies made for batches before the window, and gives null for a batch the journal no longer holds', async () => {
    const j = await journalOf(4);
    const bodies = new BatchBodies(j, { encoding: 'columnar', gzipLevel: 6 });
    bodies.prepare(1, 2);
    bodies.prepare(3, 4);
    assert.equal(bodies.size, 2);
    await j.acknowledge(2);
    assert.equal(await bodies.take(1), null);
    assert.ok(await bodies.take(3));
    bodies.clear();
    assert.equal(bodies.size, 0);
  });
});

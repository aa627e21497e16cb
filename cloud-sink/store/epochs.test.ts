// Both stores keep a device's recovery epochs as chains of their own: a restart is noted once,
// accepted only while it joins a batch the store holds, and moves the head to the new chain; the
// old chain stays readable; one equivocation report per conflicting pair. PostgreSQL runs when
// FIELDPROOF_TEST_PG names a database (in a schema of its own, dropped at the end).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { epochOf, headerHash, signBatch, signHeader, type Batch } from '../../protocol/batch.ts';
import { restartRecord } from '../../protocol/restart.ts';
import { readingRecord } from '../../protocol/records.ts';
import { generateKey } from '../../protocol/signature.ts';
import { makeChain, tempDir } from '../../test/support/sink.ts';
import { LevelSinkStore } from './level-store.ts';
import { PostgresSinkStore } from './postgres-store.ts';
import type { BatchToStore, SinkStore } from './types.ts';

const PG = process.env.FIELDPROOF_TEST_PG;
const tmp = tempDir();
after(tmp.cleanup);

function toStore(b: Batch): BatchToStore {
  const ts = b.records.flatMap((r) => (r.kind === 'reading' ? [r.ts] : []));
  return {
    header: b.header, hash: headerHash(b.header), text: b.records.map((r) => JSON.stringify(r)).join('\n'), pruned: false,
    minTs: ts.length ? Math.min(...ts) : null, maxTs: ts.length ? Math.max(...ts) : null, receivedAt: Date.now(),
  };
}

async function exercise(store: SinkStore, device: string): Promise<void> {
  const key = generateKey();
  const chain = makeChain(device, key, 3, 4);
  for (const b of chain) assert.deepEqual(await store.commitBatch(toStore(b)), { status: 'stored' });
  const head1 = await store.head(device);
  assert.deepEqual({ epoch: head1.epoch, batch: head1.batch }, { epoch: 1, batch: 3 });

  const from = { epoch: 1, batch: 3, hash: head1.hash };
  const records = [restartRecord(device, 2, 'journal_lost', from, 1, 1763884900000), readingRecord(device, 2, { sensor: 's', metric: 'm', ts: 1763884900001, value: 1, unit: 'u' }, { score: 1, flags: [] })];
  // batch 1 of epoch 2: the restart record first, chained to the head it names
  const { sig: _sig, v: _v, key: _k, ...fields } = signBatch(device, key, 1, records, from.hash, 1763884900002).header;
  const epoch2: Batch = { header: signHeader({ ...fields, epoch: 2 }, key), records };

  assert.deepEqual(await store.commitBatch(toStore(epoch2)), { status: 'other_epoch', epoch: 1 }, 'not before the acceptance');
  const restart = { device, epoch: 2, reason: 'journal_lost', from, ts: 1, rejournaled: 1, header: epoch2.header, seenAt: 5, acceptedAt: null };
  assert.equal(await store.noteRestart(restart), true);
  assert.equal(await store.noteRestart(restart), false, 'noted once');
  const again = { ...restart, header: { ...restart.header, created: 1 } };
  assert.equal(await store.noteRestart(again), true, 'a pending restart is replaced by another batch 1 of its epoch');
  assert.equal(await store.noteRestart(restart), true);
  assert.equal((await store.acceptRestart(device, 3, 9)).status, 'not_pending');
  assert.equal((await store.acceptRestart(device, 2, 9)).status, 'accepted');
  assert.equal((await store.acceptRestart(device, 2, 9)).status, 'not_pending', 'accepted once');
  assert.deepEqual(await store.head(device), { epoch: 2, batch: 0, hash: from.hash, last: 0 });
  assert.deepEqual(await store.commitBatch(toStore(epoch2)), { status: 'stored' });
  assert.deepEqual(await store.commitBatch(toStore(epoch2)), { status: 'duplicate' });
  assert.deepEqual(await store.commitBatch(toStore(chain[1]!)), { status: 'duplicate' }, 'the old chain still answers for what it holds');
  const late = makeChain(device, key, 4, 4)[3]!;
  assert.deepEqual(await store.commitBatch(toStore(late)), { status: 'other_epoch', epoch: 2 }, 'the old chain is closed');

  assert.deepEqual(await store.epochs(device), [1, 2]);
  const overlapping = async (from: number, to: number) => (await store.batchesOverlapping(device, from, to)).map((r) => [epochOf(r.header), r.header.batch]);
  assert.deepEqual(await overlapping(0, Number.MAX_SAFE_INTEGER), [[1, 1], [1, 2], [1, 3], [2, 1]], 'reports find the batches of every epoch');
  assert.deepEqual(await overlapping(1763884900001, 1763884900002), [[2, 1]]);
  assert.equal((await store.batchForSeq(device, 2, 2))!.header.batch, 1);
  assert.equal((await store.batchForSeq(device, 2, 1))!.header.batch, 1, 'seq 2 of epoch 1 is another record');
  assert.equal((await store.records(device, 1, 2)).length, 2);
  assert.equal((await store.restarts(device))[0]!.acceptedAt, 9);
  assert.equal(await store.noteRestart(again), false, 'an accepted restart is never replaced');
  assert.ok((await store.devices()).includes(device));

  const offered = makeChain(device, key, 1, 7)[0]!;
  const report = { device, epoch: 1, batch: 1, storedHash: headerHash(chain[0]!.header), offeredHash: headerHash(offered.header), offeredHeader: offered.header, reportedAt: 1 };
  assert.equal(await store.reportEquivocation(report, 2), 'new');
  for (let i = 0; i < 5; i++) assert.equal(await store.reportEquivocation({ ...report, reportedAt: 2 + i }, 2), 'known');
  assert.equal((await store.equivocations()).filter((r) => r.device === device).length, 1);
  // a chain has at most as many reports as asked for; another chain of the device has its own
  const pair = (batch: number, epoch = 1) => ({ ...report, batch, epoch, offeredHash: `${batch}${epoch}`.padStart(64, 'e') });
  assert.equal(await store.reportEquivocation(pair(2), 2), 'new');
  assert.equal(await store.reportEquivocation(pair(3), 2), 'full');
  assert.equal(await store.reportEquivocation(pair(2), 2), 'known');
  assert.equal(await store.reportEquivocation(pair(3, 2), 2), 'new');
  assert.equal((await store.equivocations()).filter((r) => r.device === device).length, 3);
}

describe('recovery epochs in the stores', () => {
  it('LevelDB', async () => {
    const store = new LevelSinkStore(join(tmp.dir, 'level'));
    await store.open();
    try {
      await exercise(store, 'dev-e');
    } finally {
      await store.close();
    }
  });

  it('PostgreSQL', { skip: PG ? false : 'FIELDPROOF_TEST_PG is not set' }, async () => {
    const schema = `fp_epochs_${process.pid}_${Date.now().toString(36)}`;
    const store = new PostgresSinkStore({ url: PG!, schema, poolSize: 2 });
    await store.open();
    try {
      await exercise(store, 'dev-e');
    } finally {
      await store.close();
      const c = new pg.Client({ connectionString: PG });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    }
  });
});

// Group commit in the PostgreSQL store, against a real server (FIELDPROOF_TEST_PG): many batches of
// many devices offered at once, with a device's consecutive batches, a batch offered twice and two
// different batches under one number in the same groups, one batch the database refuses, and a
// device's new recovery epoch stored in groups beside its closed one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { headerHash, signBatch as signEpochBatch, type Batch } from '../../protocol/batch.ts';
import { canonicalize } from '../../protocol/canonical.ts';
import { readingRecord } from '../../protocol/records.ts';
import { restartRecord } from '../../protocol/restart.ts';
import { generateKey } from '../../protocol/signature.ts';
import { makeChain, signBatch } from '../../test/support/sink.ts';
import { PostgresSinkStore } from './postgres-store.ts';
import type { BatchToStore } from './types.ts';

const PG = process.env.FIELDPROOF_TEST_PG;
const skip = PG ? false : 'FIELDPROOF_TEST_PG is not set: no PostgreSQL to test against (.ci/run sets it)';

function toStore(b: Batch, text = b.records.map((r) => canonicalize(r)).join('\n')): BatchToStore {
  return { header: b.header, hash: headerHash(b.header), text, pruned: false, minTs: null, maxTs: null, receivedAt: Date.now() };
}

describe('PostgreSQL store: batches committed in groups', { skip }, () => {
  const schema = `fp_group_${process.pid}_${Date.now().toString(36)}`;
  // a pool of 2: one committer, so that batches offered together queue and go in groups
  const store = new PostgresSinkStore({ url: PG!, schema, poolSize: 2 });
  /** (epoch, seq) of a device's readings as the `readings` view shows them, once the store has written them */
  const readingSeqs = async (device: string): Promise<string[]> => {
    await store.readings()!.latest(device, 1);
    const c = new pg.Client({ connectionString: PG, options: `-c search_path=${schema}` });
    await c.connect();
    try {
      const { rows } = await c.query<{ epoch: number; seq: string }>('SELECT epoch, seq FROM readings WHERE device = $1 ORDER BY epoch, seq', [device]);
      return rows.map((r) => `${r.epoch}:${r.seq}`);
    } finally {
      await c.end();
    }
  };

  before(() => store.open());
  after(async () => {
    await store.close();
    const c = new pg.Client({ connectionString: PG });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
  });

  it('stores every chain in order, a batch offered twice once, and refuses the twin of a stored batch', async () => {
    const key = generateKey();
    const chains = Array.from({ length: 12 }, (_, d) => makeChain(`group-${d}`, key, 5, 10));
    // each device's batches in order, the devices interleaved: consecutive batches of one device share groups
    const offers = chains[0]!.flatMap((_, b) => chains.map((c) => c[b]!));
    const twin = signBatch('group-3', key, 2, structuredClone(chains[3]![1]!.records).map((r, i) => (i === 0 ? { ...r, value: -1 } : r)), headerHash(chains[3]![0]!.header));
    const outcomes = await Promise.all([
      ...offers.map((b) => store.commitBatch(toStore(b))),
      store.commitBatch(toStore(chains[5]![0]!)),
      store.commitBatch(toStore(twin)),
    ]);
    const stored = outcomes.slice(0, offers.length);
    assert.ok(stored.every((o) => o.status === 'stored' || o.status === 'duplicate'), JSON.stringify(stored.filter((o) => o.status !== 'stored')));
    assert.equal(stored.filter((o) => o.status === 'stored').length + (outcomes[offers.length]!.status === 'stored' ? 1 : 0), 60, 'each batch stored once');
    assert.equal(outcomes.at(-1)!.status, 'equivocation', JSON.stringify(outcomes.at(-1)));
    for (const [d, chain] of chains.entries()) {
      assert.deepEqual(await store.head(`group-${d}`), { epoch: 1, batch: 5, hash: headerHash(chain[4]!.header), last: 50 });
      const held: number[] = [];
      for await (const { row, lines } of store.batches(`group-${d}`)) {
        held.push(row.header.batch);
        assert.deepEqual(lines.map((l) => JSON.parse(l)), chain[row.header.batch - 1]!.records);
      }
      assert.deepEqual(held, [1, 2, 3, 4, 5]);
    }
  });

  it('stores a new epoch in groups as its own chain, and answers its closed epoch from what is held', async () => {
    const key = generateKey();
    const device = 'group-epoch';
    const old = makeChain(device, key, 4, 3);
    for (const b of old.slice(0, 3)) assert.deepEqual(await store.commitBatch(toStore(b)), { status: 'stored' });
    const from = { epoch: 1, batch: 3, hash: headerHash(old[2]!.header) };
    const reading = (seq: number) => readingRecord(device, seq, { sensor: 's', metric: 'm', ts: 1763884900000 + seq, value: seq, unit: 'u' }, { score: 1, flags: [] });
    const epoch2: Batch[] = [];
    let prev = from.hash;
    for (let n = 1; n <= 3; n++) {
      const records = n === 1 ? [restartRecord(device, 2, 'journal_lost', from, 1, 1763884900000), reading(2)] : [reading(2 * n - 1), reading(2 * n)];
      epoch2.push(signEpochBatch(device, key, n, records, prev, 1763884900000 + n, 2));
      prev = headerHash(epoch2.at(-1)!.header);
    }
    await store.noteRestart({ device, epoch: 2, reason: 'journal_lost', from, ts: 1, rejournaled: 1, header: epoch2[0]!.header, seenAt: 1, acceptedAt: null });
    assert.equal((await store.acceptRestart(device, 2, 2)).status, 'accepted');
    // the first offer goes alone while the rest queue into one group: the new chain out of order,
    // and a batch of the old chain it does not hold
    const outcomes = await Promise.all([old[1]!, epoch2[2]!, epoch2[0]!, old[3]!, epoch2[1]!].map((b) => store.commitBatch(toStore(b))));
    assert.deepEqual(outcomes.map((o) => o.status), ['duplicate', 'stored', 'stored', 'other_epoch', 'stored']);
    assert.deepEqual(await store.head(device), { epoch: 2, batch: 3, hash: prev, last: 6 });
    const held: number[] = [];
    for await (const { row } of store.batches(device, 1, 2)) held.push(row.header.epoch! * 10 + row.header.batch);
    assert.deepEqual(held, [21, 22, 23]);
    assert.equal((await store.heldBatch(device, 2, 2))?.hash, headerHash(epoch2[1]!.header));
    assert.equal((await store.heldBatch(device, 2, 1))?.hash, headerHash(old[1]!.header), 'batch 2 of epoch 1 is another batch');
    assert.deepEqual(await readingSeqs(device), [...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((q) => `1:${q}`), ...[2, 3, 4, 5, 6].map((q) => `2:${q}`)],
      'the readings of both epochs, each once, none of the batch answered other_epoch');
  });

  it('fails only the batch the database refuses when it shares a group with others', async () => {
    const key = generateKey();
    const chains = Array.from({ length: 6 }, (_, d) => makeChain(`alone-${d}`, key, 1, 5));
    // PostgreSQL text cannot hold a NUL character: this insert fails, and its group with it
    const poisoned = toStore(chains[2]![0]!, 'a\u0000b');
    const results = await Promise.allSettled(chains.map((c, d) => store.commitBatch(d === 2 ? poisoned : toStore(c[0]!))));
    assert.equal(results[2]!.status, 'rejected');
    for (const [d, r] of results.entries()) {
      if (d === 2) continue;
      assert.deepEqual(r, { status: 'fulfilled', value: { status: 'stored' } }, `device ${d}`);
    }
    assert.equal((await store.head('alone-2')).batch, 0, 'nothing of the refused batch is left, not even its head');
    assert.deepEqual(await readingSeqs('alone-2'), [], 'nor its readings');
    for (const d of [0, 1, 3, 4, 5]) assert.deepEqual(await readingSeqs(`alone-${d}`), ['1:1', '1:2', '1:3', '1:4', '1:5'], `the readings of device ${d}, once`);
    assert.deepEqual(await store.commitBatch(toStore(chains[2]![0]!)), { status: 'stored' }, 'the same batch, sound, goes in afterwards');
    assert.deepEqual(await readingSeqs('alone-2'), ['1:1', '1:2', '1:3', '1:4', '1:5']);
  });
});

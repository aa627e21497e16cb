// The LevelDB store on a real LevelDB, where its in-memory head cache meets reads that wait.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { headerHash, type Batch } from '../../protocol/batch.ts';
import { generateKey } from '../../protocol/signature.ts';
import { makeChain, tempDir } from '../../test/support/sink.ts';
import { LevelSinkStore } from './level-store.ts';
import type { BatchToStore } from './types.ts';

const tmp = tempDir();
after(tmp.cleanup);

function toStore(b: Batch): BatchToStore {
  return { header: b.header, hash: headerHash(b.header), text: b.records.map((r) => JSON.stringify(r)).join('\n'), pruned: false, minTs: null, maxTs: null, receivedAt: Date.now() };
}

test('a head read that waits while a batch is stored does not bring the older head back', async () => {
  const store = new LevelSinkStore(join(tmp.dir, 'store'));
  await store.open();
  const chain = makeChain('dev-1', generateKey(), 2, 5);
  // Hold the first read of the device's head (a head query) until a batch has been stored.
  const db = (store as unknown as { db: { get: (k: string, ...rest: unknown[]) => Promise<string | undefined> } }).db;
  const realGet = db.get;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  db.get = async function (k: string, ...rest: unknown[]) {
    db.get = realGet;
    const value = await realGet.call(db, k, ...rest);
    await released;
    return value;
  };
  const query = store.head('dev-1');
  assert.deepEqual(await store.commitBatch(toStore(chain[0]!)), { status: 'stored' });
  release();
  assert.equal((await query).batch, 1, 'the query answers with the head stored meanwhile');
  assert.equal((await store.head('dev-1')).batch, 1);
  assert.deepEqual(await store.commitBatch(toStore(chain[1]!)), { status: 'stored' }, 'the next batch chains on');
  await store.close();
});

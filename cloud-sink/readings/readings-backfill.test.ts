// Batches stored while the readings index was off (or before it existed) have their readings
// filled in when the store next opens with it on: on a real LevelDB and a real PostgreSQL.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { headerHash, type Batch } from '../../protocol/batch.ts';
import { generateKey } from '../../protocol/signature.ts';
import { dropPgSchema, makeChain, tempDir } from '../../test/support/sink.ts';
import { LevelSinkStore } from '../store/level-store.ts';
import { PostgresSinkStore } from '../store/postgres-store.ts';
import type { BatchToStore, SinkStore } from '../store/types.ts';

const PG = process.env.FIELDPROOF_TEST_PG;
const START = Date.UTC(2026, 1, 1);

function toStore(b: Batch): BatchToStore {
  return { header: b.header, hash: headerHash(b.header), text: b.records.map((r) => JSON.stringify(r)).join('\n'), pruned: false, minTs: null, maxTs: null, receivedAt: Date.now() };
}

for (const kind of ['level', 'postgres'] as const) {
  describe(`readings filled in on the ${kind} store`, { skip: kind === 'postgres' && !PG ? 'FIELDPROOF_TEST_PG is not set' : false }, () => {
    const tmp = tempDir();
    const schema = `fp_rfill_${process.pid}_${Date.now().toString(36)}`;
    const open = async (readings: boolean): Promise<SinkStore> => {
      const store = kind === 'level'
        ? new LevelSinkStore(join(tmp.dir, 'store'), { readings })
        : new PostgresSinkStore({ url: PG!, schema, poolSize: 2, readings: { enabled: readings, monthsAhead: 1 } });
      await store.open();
      return store;
    };
    after(async () => {
      if (kind === 'postgres') await dropPgSchema(PG!, schema);
      tmp.cleanup();
    });

    it('indexes the readings of batches stored while the index was off, once', async () => {
      // 3 batches of 40 readings: 4 sensors at 1 Hz, two null values among pv-2's
      const chain = makeChain('dev-1', generateKey(), 3, 40, { start: START });
      let store = await open(true);
      assert.deepEqual(await store.commitBatch(toStore(chain[0]!)), { status: 'stored' });
      await store.close();
      store = await open(false);
      assert.equal(store.readings(), null);
      for (const b of chain.slice(1)) assert.deepEqual(await store.commitBatch(toStore(b)), { status: 'stored' });
      await store.close();
      for (let round = 0; round < 2; round++) {
        store = await open(true);
        const q = { device: 'dev-1', sensor: 'pv-1', metric: 'power_kw', from: START, to: START + 3600_000, step: 3600_000 };
        const [bucket] = (await store.readings()!.series(q)).points;
        assert.equal(bucket?.n, 30, 'every pv-1 reading of the 3 batches, each once');
        const latest = await store.readings()!.latest('dev-1', 100);
        assert.deepEqual(latest.map((l) => [l.sensor, l.ts]), [1, 2, 3, 4].map((s) => [`pv-${s}`, START + 29_000]));
        await store.close();
      }
    });
  });
}

// The PostgreSQL store writes a batch's readings just after acknowledging it. A real sink process,
// SIGKILLed right after its last acknowledgement (readings of the last batches possibly not yet
// written), started again: every acknowledged reading is in the readings table exactly once, and
// no batch is left pending (FIELDPROOF_TEST_PG).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { generateKey } from '../../protocol/signature.ts';
import { dropPgSchema, makeChain, postColumnar, tempDir } from '../../test/support/sink.ts';
import { startSinkProcess } from '../sink-process.ts';

const PG = process.env.FIELDPROOF_TEST_PG;

describe('PostgreSQL readings through SIGKILL', { skip: PG ? false : 'FIELDPROOF_TEST_PG is not set', timeout: 120_000 }, () => {
  it('has every acknowledged reading once after a restart, however far the writing had got', async () => {
    const tmp = tempDir('fieldproof-rkill-');
    const schema = `fp_rkill_${process.pid}_${Date.now().toString(36)}`;
    const key = generateKey();
    const config = join(tmp.dir, 'sink.yaml');
    writeFileSync(config, `listen: 127.0.0.1:0\ndataDir: ${JSON.stringify(join(tmp.dir, 'sink'))}\ndevices:\n  - id: site-k\n    key: ${key.public}\n`
      + `store:\n  kind: postgres\n  url: ${JSON.stringify(PG)}\n  schema: ${schema}\n`);
    const db = new pg.Pool({ connectionString: PG, max: 1, options: `-c search_path=${schema}` });
    const chain = makeChain('site-k', key, 30, 500, { sensors: 10 });
    try {
      let sink = await startSinkProcess(config);
      // a few posts in flight at a time, as a draining uplink keeps them
      let next = 0;
      await Promise.all(Array.from({ length: 3 }, async () => {
        while (next < chain.length) {
          const b = chain[next++]!;
          for (;;) {
            const r = await postColumnar(sink.url, b);
            if (r.body.status === 'stored') break;
            assert.equal(r.status, 409, JSON.stringify(r.body)); // its predecessor still on its way: offered again
          }
        }
      }));
      await sink.stop('SIGKILL');
      const pendingAtKill = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM readings_pending')).rows[0]!.n;
      sink = await startSinkProcess(config);
      try {
        const { rows } = await db.query<{ n: number; seqs: number; lo: string; hi: string }>(
          `SELECT count(*)::int AS n, count(DISTINCT seq)::int AS seqs, min(seq) AS lo, max(seq) AS hi FROM readings WHERE device = 'site-k'`);
        assert.deepEqual({ ...rows[0]!, lo: Number(rows[0]!.lo), hi: Number(rows[0]!.hi) }, { n: 15_000, seqs: 15_000, lo: 1, hi: 15_000 },
          `every acknowledged reading once (${pendingAtKill} batches were pending at the kill)`);
        assert.equal((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM readings_pending')).rows[0]!.n, 0);
        const latest = await db.query<{ seq: string }>(`SELECT max(seq) AS seq FROM readings_latest WHERE device = 'site-k'`);
        assert.equal(Number(latest.rows[0]!.seq), 15_000, 'the latest readings moved to the last batch');
      } finally {
        await sink.stop();
      }
    } finally {
      await db.end();
      await dropPgSchema(PG!, schema);
      tmp.cleanup();
    }
  });
});

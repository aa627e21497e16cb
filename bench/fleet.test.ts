// `fieldproof bench fleet` with tiny numbers: it must run end to end (keys, signed chains, a
// generator process, one and then two real sink processes over PostgreSQL) and report every
// reading accepted, not be fast. The figures themselves are not asserted.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { runCli } from '../test/support/cli.ts';

const PG = process.env.FIELDPROOF_TEST_PG;
const skip = PG ? false : 'FIELDPROOF_TEST_PG is not set: no PostgreSQL to test against (.ci/run sets it)';

async function benchSchemas(): Promise<string[]> {
  const c = new pg.Client({ connectionString: PG });
  await c.connect();
  try {
    const { rows } = await c.query<{ name: string }>(`SELECT nspname AS name FROM pg_namespace WHERE nspname LIKE 'fleet_bench_%'`);
    return rows.map((r) => r.name).sort();
  } finally {
    await c.end();
  }
}

describe('fieldproof bench fleet', { skip, timeout: 180_000 }, () => {
  it('posts every device\'s chain to one and then two sink processes, each batch to them in turn, and reports it all accepted', async () => {
    const before = await benchSchemas();
    const r = await runCli(['bench', 'fleet', '--devices', '6', '--batches', '3', '--records', '20', '--processes', '1,2', '--concurrency', '4', '--route', 'batch', '--json'], { timeoutMs: 170_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /2 sink processes/, 'progress on stderr');
    const out = JSON.parse(r.stdout) as { readings: number; cores: number; runs: Record<string, unknown>[] };
    assert.equal(out.readings, 6 * 3 * 20);
    assert.ok(out.cores >= 1);
    assert.deepEqual(out.runs.map((run) => run.processes), [1, 2]);
    for (const run of out.runs) {
      assert.equal(run.readings, 360, JSON.stringify(run));
      assert.equal(run.batches, 18);
      assert.ok((run.queryable_after_s as number) >= 0 && (run.queryable_readings_per_s as number) > 0 && (run.queryable_readings_per_s as number) <= (run.readings_per_s as number), JSON.stringify(run));
      assert.deepEqual(run.refused, {}, 'no batch refused, not even out of order when a device alternates between processes');
      assert.equal(run.failed_devices, 0);
      for (const figure of ['readings_per_s', 'p50_ms', 'p99_ms', 'db_share_of_acceptance', 'db_transactions_per_batch']) assert.equal(typeof run[figure], 'number', figure);
    }
    assert.equal(typeof out.runs[1]!.scaling, 'number');
    assert.deepEqual(await benchSchemas(), before, 'each run\'s schema is dropped');
  });

  it('runs the sinks without their readings index when asked, and gives the generator\'s CPU a reading too', async () => {
    const r = await runCli(['bench', 'fleet', '--devices', '4', '--batches', '2', '--records', '10', '--processes', '1', '--concurrency', '4', '--no-readings', '--json'], { timeoutMs: 170_000 });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { readings_index: boolean; runs: { readings: number; cpu_us_per_reading: Record<string, number> }[] };
    assert.equal(out.readings_index, false);
    assert.equal(out.runs[0]!.readings, 80);
    for (const part of ['sinks', 'postgres', 'generator']) assert.equal(typeof out.runs[0]!.cpu_us_per_reading[part], 'number', part);
    const index = (out.runs[0] as unknown as { mrv_index_after_load: { caught_up: boolean; cpu_us_per_reading: Record<string, number> } }).mrv_index_after_load;
    assert.equal(index.caught_up, true, 'the MRV index took in every batch stored');
    assert.equal(typeof index.cpu_us_per_reading.sinks, 'number');
  });

  it('refuses a bad option with one line and exit 2', async () => {
    const r = await runCli(['bench', 'fleet', '--route', 'sideways', '--json']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--route must be device or batch/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });
});

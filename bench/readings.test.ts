// `fieldproof bench readings` at a tiny size, as CI runs it: it fills, queries and reports, on
// LevelDB always and on PostgreSQL when FIELDPROOF_TEST_PG names one. The figures are not judged.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../test/support/cli.ts';

test('bench readings runs at a tiny size and prints one JSON object of figures', async () => {
  const r = await runCli(['bench', 'readings', '--rows', '2000,4000', '--level-rows', '2000', '--devices', '5', '--queries', '3', '--drain', '0', '--json'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.bench, 'readings');
  assert.equal(out.level.series_buckets > 0, true);
  for (const q of ['series', 'series_unaligned', 'series_grid', 'latest']) assert.equal(typeof out.level.queries[q].p99_ms, 'number', q);
  if (process.env.FIELDPROOF_TEST_PG) {
    assert.equal(out.postgres.sizes.length, 2);
    assert.equal(out.postgres.sizes[1].series_readings, out.level.series_readings, 'both stores see the same dense series');
    assert.equal(out.postgres.growth.length, 1);
  }
  assert.match(r.stderr, /filled/, 'progress while filling');
});

test('bench readings drains three pairs taking turns and reports their medians', { skip: process.env.FIELDPROOF_TEST_PG ? false : 'FIELDPROOF_TEST_PG is not set' }, async () => {
  const r = await runCli(['bench', 'readings', '--rows', '2000', '--level-rows', '0', '--devices', '5', '--queries', '3', '--drain', '3000', '--json'], { timeoutMs: 180_000 });
  assert.equal(r.code, 0, r.stderr);
  const { drain } = JSON.parse(r.stdout);
  assert.equal(drain.pairs, 3);
  assert.equal(drain.pair_slowdown_pct.length, 3);
  for (const k of ['without_readings_per_s', 'with_readings_per_s', 'with_queryable_readings_per_s']) assert.equal(drain[k] > 0, true, k);
  assert.match(r.stderr, /pair 3 of 3/);
});

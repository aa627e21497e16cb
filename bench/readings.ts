// `fieldproof bench readings`: the readings index at sizes a fleet reaches, queried through the code
// the API runs (cloud-sink/readings/): one sensor over 30 days in 1 h steps, and the latest reading
// of each sensor of one device, on PostgreSQL (at each --rows size, grown in place) and LevelDB;
// the table's size on disk; and what keeping the index costs ingest (bench drain into PostgreSQL
// with and without it).
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { parseFlags, positiveInt, printJson, UsageError } from '../kernel/command.ts';
import { openLevel } from '../kernel/level-open.ts';
import { startSinkProcess } from '../cloud-sink/sink-process.ts';
import { LevelReadingsIndex } from '../cloud-sink/readings/level-readings.ts';
import { ReadingPartitions } from '../cloud-sink/readings/pg-partitions.ts';
import { MAX_LATEST } from '../cloud-sink/readings/readings-api.ts';
import type { ReadingsIndex } from '../cloud-sink/readings/types.ts';
import { PostgresSinkStore } from '../cloud-sink/store/postgres-store.ts';
import { copyBacklog, drainBacklog, fillBacklog, writeSinkConfig } from './drain.ts';
import { DAY, DENSE_DEVICE, fillDenseAndLatestPg, fillGridPg, fillLevel, gridDevice, layout, minutesFor, MIN, SERIES, type Layout } from './readings-fill.ts';
import { median } from '../kernel/percentile.ts';

export const help = `usage: fieldproof bench readings [--rows 1000000,10000000] [--level-rows 1000000] [--devices 1000] [--sensors 20]
                               [--queries N] [--drain N] [--pg URL] [--json]

Fills a readings index with a grid of --devices x --sensors at one reading a minute (plus one
dense series of up to 30 days at 1/min), in PostgreSQL (--pg URL or FIELDPROOF_TEST_PG; a schema
of its own, dropped at the end) at each --rows size, grown in place, and in LevelDB at
--level-rows (0 skips it). At each size it times, --queries times each (default 200), through the
API's query code: "series" (the dense sensor, 30 days from a whole hour, 1 h steps), "series_grid" (one grid sensor,
30 days, 1 h steps), "series_unaligned" (the dense sensor from a minute past the hour, which the
hourly sums cannot answer: every reading is read), "latest" (each sensor's latest reading of one device) and, for comparison,
"latest_distinct_on" (the same answer from the readings table itself). Then --drain N readings
(default 200000, as bench drain; 0 skips) are drained into a PostgreSQL sink process without and
with the index, three times taking turns (medians, and each pair's slowdown).

Prints per size: p50_ms and p99_ms of each query, table_bytes (readings_data, readings_series,
readings_latest and readings_hourly, indexes included), fill_s; growth from one size to the
next; the LevelDB figures; the drain figures (readings_per_s both ways, slowdown_pct, and with the index
until every reading is queryable, queryable_slowdown_pct); conditions.`;

const HOUR = 3600_000;
const DISTINCT_ON_SQL = `SELECT DISTINCT ON (sensor, metric) sensor, metric, ts, value FROM readings WHERE device = $1 ORDER BY sensor, metric, ts DESC, seq DESC`;

interface Timing {
  p50_ms: number;
  p99_ms: number;
}

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Run `fn` a few times to warm up, then `n` times, timed one by one. */
async function timed(n: number, fn: (i: number) => Promise<unknown>): Promise<Timing> {
  for (let i = 0; i < 5; i++) await fn(i);
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const at = (p: number) => ms[Math.min(ms.length - 1, Math.ceil((p / 100) * ms.length) - 1)]!;
  return { p50_ms: round(at(50)), p99_ms: round(at(99)) };
}

/** The queries every store answers, the same for each. */
async function timeQueries(index: ReadingsIndex, l: Layout, n: number, extra: Record<string, (i: number) => Promise<unknown>> = {}) {
  // from a whole hour: whole-hour buckets, read from the hourly sums; a minute later: reading by reading
  const thirtyDays = { from: Math.floor(l.end / HOUR) * HOUR - 30 * DAY, to: l.end, step: HOUR };
  const unaligned = { ...thirtyDays, from: thirtyDays.from + MIN };
  const device = (i: number) => gridDevice(1 + ((i * 7919) % l.devices));
  const out: Record<string, Timing> = {
    series: await timed(n, () => index.series({ device: DENSE_DEVICE, ...SERIES, ...thirtyDays })),
    series_unaligned: await timed(n, () => index.series({ device: DENSE_DEVICE, ...SERIES, ...unaligned })),
    series_grid: await timed(n, (i) => index.series({ device: device(i), ...SERIES, ...thirtyDays })),
    latest: await timed(n, (i) => index.latest(device(i), MAX_LATEST)),
  };
  for (const [name, fn] of Object.entries(extra)) out[name] = await timed(n, fn);
  const check = await index.series({ device: DENSE_DEVICE, ...SERIES, ...thirtyDays });
  return { queries: out, series_buckets: check.points.length, series_readings: check.points.reduce((a, p) => a + p.n, 0) };
}

async function tableBytes(db: pg.Pool): Promise<number> {
  const { rows } = await db.query<{ bytes: string }>(
    `SELECT (coalesce(sum(pg_total_relation_size(inhrelid)), 0) + pg_total_relation_size('readings_series') + pg_total_relation_size('readings_latest')
             + pg_total_relation_size('readings_hourly'))::bigint AS bytes
     FROM pg_inherits WHERE inhparent = 'readings_data'::regclass`);
  return Number(rows[0]!.bytes);
}

async function benchPostgres(url: string, sizes: number[], l: Layout, queries: number, progress: (m: string) => void) {
  const schema = `fp_bench_readings_${process.pid}_${Date.now().toString(36)}`;
  const store = new PostgresSinkStore({ url, schema, poolSize: 4, readings: { enabled: true, monthsAhead: 1 } });
  const db = new pg.Pool({ connectionString: url, max: 2, options: `-c search_path=${schema}` });
  try {
    await store.open();
    // the months the data covers, made as the upkeep makes them, before the fill
    await new ReadingPartitions({ db: () => db, monthsAhead: 3, now: () => l.end - 31 * DAY }).ensure();
    await fillDenseAndLatestPg(db, l);
    const results: (Awaited<ReturnType<typeof timeQueries>> & { rows: number; fill_s: number; table_bytes: number })[] = [];
    let held = 0;
    for (const rows of sizes) {
      const minutes = minutesFor(l, rows);
      const t0 = performance.now();
      await fillGridPg(db, l, l.maxMinutes - minutes, l.maxMinutes - held, (d) => progress(`postgres ${rows} rows: devices 1..${d} of ${l.devices} filled`));
      held = minutes;
      progress(`postgres ${rows} rows: vacuum analyze`);
      await db.query('VACUUM ANALYZE readings_data');
      await db.query('VACUUM ANALYZE readings_latest');
      const fillS = (performance.now() - t0) / 1000;
      const { rows: [count] } = await db.query<{ n: string }>('SELECT count(*) AS n FROM readings_data');
      progress(`postgres ${rows} rows: querying`);
      const index = store.readings()!;
      const q = await timeQueries(index, l, queries, {
        latest_distinct_on: (i) => db.query(DISTINCT_ON_SQL, [gridDevice(1 + ((i * 7919) % l.devices))]),
      });
      results.push({ rows: Number(count!.n), fill_s: round(fillS, 1), table_bytes: await tableBytes(db), ...q });
    }
    const growth = results.slice(1).map((r, i) => {
      const before = results[i]!;
      const x = (a: number, b: number) => (b > 0 ? round(a / b) : null);
      return {
        from_rows: before.rows, to_rows: r.rows, rows_x: x(r.rows, before.rows), table_bytes_x: x(r.table_bytes, before.table_bytes),
        ...Object.fromEntries(Object.keys(r.queries).map((k) => [`${k}_p99_x`, x(r.queries[k]!.p99_ms, before.queries[k]!.p99_ms)])),
      };
    });
    return { sizes: results, growth };
  } finally {
    await store.close();
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await db.end();
  }
}

function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

async function benchLevel(rows: number, l: Layout, queries: number, progress: (m: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'fieldproof-bench-readings-'));
  const db = await openLevel(dir);
  try {
    const t0 = performance.now();
    await fillLevel(db, l, minutesFor(l, rows), (d) => progress(`level ${rows} rows: devices 1..${d} of ${l.devices} filled`));
    const fillS = (performance.now() - t0) / 1000;
    progress(`level ${rows} rows: querying`);
    const q = await timeQueries(new LevelReadingsIndex(() => db), l, queries);
    return { rows: l.denseRows + minutesFor(l, rows) * l.devices * l.sensors, fill_s: round(fillS, 1), dir_bytes: dirBytes(dir), ...q };
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const PAIRS = 3;

/**
 * Drain the same backlog into a PostgreSQL sink process without, then with, the readings index,
 * PAIRS times taking turns, and report the medians: a drain lasts a second or two, and on a shared
 * machine one pair alone says more about what else ran than about the index.
 */
async function benchDrain(url: string, readings: number, progress: (m: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'fieldproof-bench-readings-drain-'));
  const admin = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const backlog = await fillBacklog(join(dir, 'device'), { readings, sensors: 20, batchRecords: 1000, progress });
    const runs: Record<string, number[]> = {};
    const note = (k: string, v: number) => (runs[k] ??= []).push(v);
    for (let pair = 0; pair < PAIRS; pair++) {
      for (const on of [false, true]) {
        // each drain in a folder and schema of its own: a sink's files and keys never meet the next one's
        const schema = `fp_bench_rdrain_${on ? 'on' : 'off'}_${pair}_${process.pid}`;
        const runRoot = mkdtempSync(join(dir, 'run-'));
        const runDir = join(runRoot, 'device');
        const sink = await startSinkProcess(writeSinkConfig(runRoot, copyBacklog(backlog, runDir), { kind: 'postgres', url, schema }, { readings: on }));
        try {
          progress(`drain ${readings} readings ${on ? 'with' : 'without'} the readings index (pair ${pair + 1} of ${PAIRS})`);
          const d = await drainBacklog({ ...backlog, dir: runDir }, sink, { encoding: 'columnar', inFlight: 6, pg: { url, schema }, readingsIndex: on });
          note(on ? 'with_readings_per_s' : 'without_readings_per_s', d.readingsPerS);
          note(on ? 'with_sink_cpu_s' : 'without_sink_cpu_s', round(d.sinkCpuS));
          note(on ? 'with_postgres_cpu_s' : 'without_postgres_cpu_s', round(d.pgCpuS ?? 0));
          if (on) note('with_queryable_readings_per_s', Math.round(readings / d.queryableSeconds!));
        } finally {
          await sink.stop();
          await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          rmSync(runRoot, { recursive: true, force: true });
        }
      }
    }
    const out = Object.fromEntries(Object.entries(runs).map(([k, xs]) => [k, median(xs)]));
    const slowdown = round((1 - out.with_readings_per_s! / out.without_readings_per_s!) * 100, 1);
    const queryableSlowdown = round((1 - out.with_queryable_readings_per_s! / out.without_readings_per_s!) * 100, 1);
    const pairSlowdowns = runs.with_readings_per_s!.map((w, i) => round((1 - w / runs.without_readings_per_s![i]!) * 100, 1));
    return { readings, pairs: PAIRS, medians: true, ...out, slowdown_pct: slowdown, queryable_slowdown_pct: queryableSlowdown, pair_slowdown_pct: pairSlowdowns, target_slowdown_pct: 25 };
  } finally {
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

function sizesFlag(v: string | undefined, fallback: number[]): number[] {
  if (v === undefined) return fallback;
  const sizes = v.split(',').map((s) => Number(s));
  if (sizes.some((n) => !Number.isSafeInteger(n) || n < 100)) throw new UsageError(`--rows must be sizes of at least 100, comma-separated, got ${JSON.stringify(v)}`);
  return sizes.sort((a, b) => a - b);
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    rows: { type: 'string' }, 'level-rows': { type: 'string' }, devices: { type: 'string' }, sensors: { type: 'string' },
    queries: { type: 'string' }, drain: { type: 'string' }, pg: { type: 'string' }, json: { type: 'boolean' },
  });
  const sizes = sizesFlag(values.rows, [1_000_000, 10_000_000]);
  const levelRows = values['level-rows'] === '0' ? 0 : positiveInt(values['level-rows'], 'level-rows', 1_000_000);
  const drain = values.drain === '0' ? 0 : positiveInt(values.drain, 'drain', 200_000);
  const queries = positiveInt(values.queries, 'queries', 200);
  const url = values.pg ?? process.env.FIELDPROOF_TEST_PG;
  const l = layout(levelRows > 0 ? [...sizes, levelRows].sort((a, b) => a - b) : sizes,
    positiveInt(values.devices, 'devices', 1000), positiveInt(values.sensors, 'sensors', 20), Math.floor(Date.now() / MIN) * MIN);
  const progress = (m: string) => process.stderr.write(`bench readings: ${m}\n`);
  if (!url) progress('no --pg URL (or FIELDPROOF_TEST_PG): PostgreSQL and the drain are skipped');

  const out = {
    bench: 'readings',
    targets: { p99_ms_at_10m_rows: 50, drain_slowdown_pct: 25 },
    layout: { devices: l.devices, sensors: l.sensors, interval_ms: MIN, dense_series_readings: l.denseRows, query_window_days: 30, step_ms: 3600_000 },
    postgres: url ? await benchPostgres(url, sizes, l, queries, progress) : null,
    level: levelRows > 0 ? await benchLevel(levelRows, l, queries, progress) : null,
    drain: url && drain > 0 ? await benchDrain(url, drain, progress) : null,
    conditions: { cpus: cpus().length, loadavg1: round(loadavg()[0]!), node: process.version },
  };
  if (values.json) printJson(out);
  else process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  return 0;
}

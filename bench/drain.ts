// `fieldproof bench drain`: a backlog of N readings in a real journal, drained through the uplink
// to a sink running as its own process (`fieldproof sink`), as after a long outage. Filling the
// backlog is not timed; the drain is, from the first request to the last acknowledgement.
// `bench attack` drains the same way, with and without hostile traffic, through fillBacklog and
// drainBacklog.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSinkProcess, type SinkProcess } from '../cloud-sink/sink-process.ts';
import { backendCpuSince, databaseUse, dropSchema, readingsWritten } from './postgres-use.ts';
import { generateKey, type DeviceKey } from '../protocol/signature.ts';
import type { ReadingInput } from '../protocol/records.ts';
import { parseFlags, positiveInt, printJson, UsageError } from '../kernel/command.ts';
import { Journal } from '../runtime/journal/journal.ts';
import { silentLogger } from '../kernel/log.ts';
import { Registry } from '../kernel/metrics.ts';
import { cpuSeconds, peakRssMb } from '../kernel/proc-stats.ts';
import { uplinkSchema } from '../runtime/uplink/config.ts';
import { Uplink } from '../runtime/uplink/uplink.ts';

export const help = `usage: fieldproof bench drain [--readings N] [--sensors S] [--batch R] [--encoding columnar|json]
                             [--in-flight K] [--store level|postgres --pg URL] [--no-readings] [--json]

Fills a journal with N readings (default 200000) of S sensors (default 20) at 1 Hz, sealed in
batches of R records (default 1000), starts a sink process on a free port with a fresh store, and
times draining the backlog through the uplink (PostgreSQL: in a schema of its own, dropped at the end):
readings_per_s from the first request to the last acknowledgement, queryable_readings_per_s until
every reading is also queryable (the PostgreSQL store writes them just after it acknowledges). Prints readings_per_s, wire_bytes_per_reading,
sink_rss_mb (the sink process's peak resident memory), the CPU seconds each side used (with
PostgreSQL, its backends' too) and the load average.
--no-readings runs the sink without its readings index (readings.enabled: false), to see what
keeping it costs; bench readings reports the drain both ways.`;

function readings(n: number, sensors: number, start: number): ReadingInput[] {
  const out: ReadingInput[] = new Array(n);
  const level = Array.from({ length: sensors }, (_, i) => 400 + i * 7);
  for (let i = 0; i < n; i++) {
    const s = i % sensors;
    level[s] = Math.max(350, level[s]! + Math.round((Math.random() - 0.5) * 40) / 10);
    out[i] = { sensor: `co2-${s + 1}`, metric: 'co2_ppm', ts: start + Math.floor(i / sensors) * 1000 + (i % 7), value: Math.round(level[s]! * 10) / 10, unit: 'ppm', quality: { score: 1, flags: [] } };
  }
  return out;
}

export interface Backlog {
  /** the journal's folder */
  dir: string;
  device: string;
  key: DeviceKey;
  readings: number;
  batches: number;
  batchRecords: number;
}

const batchLimits = (records: number) => ({ maxRecords: records, maxBytes: 64 * 1024 * 1024, maxAgeMs: 3_600_000 });

/** A journal in `dir` holding `readings` readings of `sensors` sensors at 1 Hz, sealed in batches; closed. */
export async function fillBacklog(dir: string, opts: { readings: number; sensors: number; batchRecords: number; progress: (msg: string) => void }): Promise<Backlog> {
  const key = generateKey();
  const device = `bench-${process.pid}-${Date.now().toString(36)}`;
  const n = opts.readings;
  const journal = await Journal.open({ dir, device, key, batch: batchLimits(opts.batchRecords), commitMaxRecords: opts.batchRecords });
  const start = Date.now() - Math.ceil(n / opts.sensors) * 1000;
  const chunk = 50_000;
  for (let i = 0; i < n; i += chunk) {
    await journal.appendMany(readings(Math.min(chunk, n - i), opts.sensors, start + Math.floor(i / opts.sensors) * 1000));
    opts.progress(`backlog: ${Math.min(n, i + chunk)} of ${n} readings journaled`);
  }
  await journal.close();
  const sealed = await Journal.open({ dir, device, key, batch: batchLimits(opts.batchRecords) });
  const batches = sealed.stats().lastBatch;
  await sealed.close();
  return { dir, device, key, readings: n, batches, batchRecords: opts.batchRecords };
}

/** The same backlog in another folder: each drain consumes its journal. */
export function copyBacklog(backlog: Backlog, dir: string): Backlog {
  cpSync(backlog.dir, dir, { recursive: true });
  return { ...backlog, dir };
}

/** A sink config registering the backlog's device, on a free port of 127.0.0.1, with a fresh store. */
export type SinkStoreChoice = { kind: 'level' } | { kind: 'postgres'; url: string; schema?: string };

/**
 * A sink config registering the backlog's device, on a free port of 127.0.0.1, with a fresh store
 * (PostgreSQL: in `schema` when given); `readings: false` turns the readings index off.
 */
export function writeSinkConfig(dir: string, backlog: Backlog, store: SinkStoreChoice, opts: { readings?: boolean } = {}): string {
  const storeYaml = store.kind === 'postgres'
    ? `store:\n  kind: postgres\n  url: ${JSON.stringify(store.url)}\n${store.schema ? `  schema: ${store.schema}\n` : ''}`
    : '';
  const readingsYaml = opts.readings === false ? 'readings:\n  enabled: false\n' : '';
  const configFile = join(dir, 'sink.yaml');
  writeFileSync(configFile, `listen: 127.0.0.1:0\ndataDir: ${JSON.stringify(join(dir, 'sink'))}\ndevices:\n  - id: ${backlog.device}\n    key: ${backlog.key.public}\n${storeYaml}${readingsYaml}`);
  return configFile;
}

export interface DrainResult {
  seconds: number;
  readingsPerS: number;
  wireBytes: number;
  uplinkCpuS: number;
  sinkCpuS: number;
  /** PostgreSQL store: the CPU seconds of the database's backends (the sink's connections) */
  pgCpuS: number | null;
  /**
   * from the first request until every reading drained is queryable: the same as `seconds` where
   * the readings are written with the batch (LevelDB), later where they are written after (PostgreSQL);
   * null without the readings index
   */
  queryableSeconds: number | null;
}

export interface DrainOptions {
  encoding: 'columnar' | 'json';
  inFlight: number;
  /** the sink's PostgreSQL store, when it has one: its backends' CPU is counted */
  pg?: { url: string; schema?: string };
  /** the sink keeps the readings index: the drain also waits for every reading to be queryable */
  readingsIndex?: boolean;
}

/** Drain the backlog through the uplink into a running sink, timed from the first request to the last acknowledgement. */
export async function drainBacklog(backlog: Backlog, sink: SinkProcess, opts: DrainOptions): Promise<DrainResult> {
  const journal = await Journal.open({ dir: backlog.dir, device: backlog.device, key: backlog.key, batch: batchLimits(backlog.batchRecords) });
  const metrics = new Registry();
  const uplink = new Uplink({
    journal, device: backlog.device, dataDir: `${backlog.dir}-uplink`, log: silentLogger(), metrics,
    config: uplinkSchema.parse({ url: sink.url, encoding: opts.encoding, inFlight: opts.inFlight }),
  });
  try {
    const pg0 = opts.pg ? (await databaseUse(opts.pg.url)).cpu : null;
    const sinkCpu0 = cpuSeconds(sink.child.pid!);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await uplink.start();
    const ok = await uplink.drained(600_000);
    const seconds = (performance.now() - t0) / 1000;
    if (ok && opts.readingsIndex && opts.pg) await readingsWritten(opts.pg.url, opts.pg.schema);
    const queryableSeconds = opts.readingsIndex ? (performance.now() - t0) / 1000 : null;
    const cpu = process.cpuUsage(cpu0);
    const sinkCpu = cpuSeconds(sink.child.pid!) - sinkCpu0;
    if (!ok) throw new Error('the backlog did not drain within 10 minutes');
    const pgCpuS = opts.pg && pg0 ? backendCpuSince(pg0, (await databaseUse(opts.pg.url)).cpu) : null;
    const wireBytes = (await metrics.getSingleMetric('fieldproof_uplink_wire_bytes_total')!.get()).values[0]?.value ?? 0;
    return { seconds, readingsPerS: Math.round(backlog.readings / seconds), wireBytes, uplinkCpuS: (cpu.user + cpu.system) / 1e6, sinkCpuS: sinkCpu, pgCpuS, queryableSeconds };
  } finally {
    await uplink.stop();
    await journal.close();
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    readings: { type: 'string' }, sensors: { type: 'string' }, batch: { type: 'string' }, encoding: { type: 'string' },
    'in-flight': { type: 'string' }, store: { type: 'string' }, pg: { type: 'string' }, 'no-readings': { type: 'boolean' }, json: { type: 'boolean' },
  });
  const n = positiveInt(values.readings, 'readings', 200_000);
  const sensors = positiveInt(values.sensors, 'sensors', 20);
  const batch = positiveInt(values.batch, 'batch', 1000);
  const inFlight = positiveInt(values['in-flight'], 'in-flight', 6);
  const encoding = values.encoding ?? 'columnar';
  if (encoding !== 'columnar' && encoding !== 'json') throw new UsageError('--encoding must be columnar or json');
  const store = values.store ?? 'level';
  if (store !== 'level' && store !== 'postgres') throw new UsageError('--store must be level or postgres');
  const pg = values.pg ?? process.env.FIELDPROOF_TEST_PG;
  if (store === 'postgres' && !pg) throw new UsageError('--store postgres needs --pg URL');

  const dir = mkdtempSync(join(tmpdir(), 'fieldproof-drain-'));
  // PostgreSQL: a schema of its own, dropped at the end, so that each run starts from empty tables
  const schema = `fp_bench_drain_${process.pid}_${Date.now().toString(36)}`;
  let sink: SinkProcess | null = null;
  const progress = (msg: string) => values.json || process.stderr.write(msg + '\n');
  try {
    const backlog = await fillBacklog(join(dir, 'device'), { readings: n, sensors, batchRecords: batch, progress });
    const readingsIndex = !values['no-readings'];
    sink = await startSinkProcess(writeSinkConfig(dir, backlog, store === 'postgres' ? { kind: 'postgres', url: pg!, schema } : { kind: 'level' }, { readings: readingsIndex }));
    progress(`sink ${sink.url} (${store}); draining ${backlog.batches} batches`);
    const d = await drainBacklog(backlog, sink, { encoding, inFlight, readingsIndex, ...(store === 'postgres' ? { pg: { url: pg!, schema } } : {}) });
    const result = {
      bench: 'drain', readings: n, batches: backlog.batches, batch_records: batch, sensors, encoding, in_flight: inFlight, store, readings_index: readingsIndex,
      seconds: round3(d.seconds),
      readings_per_s: d.readingsPerS,
      // every reading drained queryable through the readings API (PostgreSQL writes them just after acceptance)
      ...(d.queryableSeconds !== null ? { queryable_seconds: round3(d.queryableSeconds), queryable_readings_per_s: Math.round(n / d.queryableSeconds) } : {}),
      wire_bytes_per_reading: Math.round((d.wireBytes / n) * 100) / 100,
      sink_rss_mb: peakRssMb(sink.child.pid!),
      // CPU time spent on each side: on a shared or loaded machine these say more than wall time
      uplink_cpu_s: Math.round(d.uplinkCpuS * 100) / 100,
      sink_cpu_s: Math.round(d.sinkCpuS * 100) / 100,
      ...(d.pgCpuS !== null ? { postgres_cpu_s: Math.round(d.pgCpuS * 100) / 100 } : {}),
      conditions: { loadavg1: Math.round(loadavg()[0]! * 100) / 100 },
    };
    if (values.json) printJson(result);
    else process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return 0;
  } finally {
    await sink?.stop();
    if (store === 'postgres') await dropSchema(pg!, schema);
    rmSync(dir, { recursive: true, force: true });
  }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;


// `fieldproof bench report`: the MRV report over a long history of one meter, on the LevelDB and
// PostgreSQL stores. The history is made here: a PV meter's export, import and power registers
// (a day curve, auxiliaries importing at night, a few outages), as the device journals them, under
// one monitoring plan. Indexing it is timed apart from the report, which is what a verifier waits
// for: the index is kept up to date as batches arrive.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { headerHash, signHeader, type BatchHeader } from '../protocol/batch.ts';
import { canonicalize } from '../protocol/canonical.ts';
import { ZERO_HASH } from '../protocol/hash.ts';
import { leafHash, rootFromLeafHashes } from '../protocol/merkle.ts';
import { planRecord, type PlanInput } from '../protocol/plan.ts';
import { ReadingEncoder } from '../protocol/reading-encoder.ts';
import { generateKey, type DeviceKey } from '../protocol/signature.ts';
import { parseFlags, positiveInt, printJson, UsageError } from '../kernel/command.ts';
import { silentLogger } from '../kernel/log.ts';
import { LevelSinkStore } from '../cloud-sink/store/level-store.ts';
import { PostgresSinkStore } from '../cloud-sink/store/postgres-store.ts';
import type { SinkStore } from '../cloud-sink/store/types.ts';
import { mrvReportSchema } from '../cloud-sink/mrv/config.ts';
import { RegisterIndex, type BatchSource } from '../cloud-sink/mrv/index/register-index.ts';
import { buildMrvReport } from '../cloud-sink/mrv/report.ts';
import { median } from '../kernel/percentile.ts';
import { dropSchema } from './postgres-use.ts';

export const help = `usage: fieldproof bench report [--datasets year-1min,month-1s] [--stores level,postgres] [--pg URL]
                              [--batches] [--batch-records N] [--polls N] [--runs N] [--json]

For each dataset (a year of 1-minute polls, a month of 1-second polls, one meter: export, import
and power registers) and each store: builds the MRV register index from the meter's records, then
times the report over the whole dataset and over its last 30 days, --runs times (default 3).
PostgreSQL needs --pg URL (or FIELDPROOF_TEST_PG); the bench works in a schema of its own and drops it.
By default the records go straight to the index; --batches stores them first as signed batches
(what the sink holds) and indexes from the store, which takes far longer and far more disk.
--polls N cuts each dataset to its first N polls.

Prints per dataset and store: polls, records, index_ms (with --batches: storing, then indexing),
index_records_per_s, report_ms (median),
report_first_ms, report_30d_ms, credited_kwh, and the figures' conditions.`;

const DEVICE = 'bench-site';
const SENSOR = 'pv-meter-1';
const DAY = 86_400_000;
const META = { register: { bits: 32, scale: 0.001, signed: true, type: 'int32' } };

interface Dataset {
  name: string;
  intervalMs: number;
  polls: number;
}

export const DATASETS: Record<string, Dataset> = {
  'year-1min': { name: 'year-1min', intervalMs: 60_000, polls: 365 * 1440 },
  'month-1s': { name: 'month-1s', intervalMs: 1000, polls: 30 * 86_400 },
};

const T0 = Date.UTC(2025, 0, 1);

/** Export kW of a 50 kW PV plant at time t: a sine from 06:00 to 18:00 UTC. */
function exportKw(t: number): number {
  const h = ((t % DAY) / DAY) * 24;
  return h > 6 && h < 18 ? 45 * Math.sin(((h - 6) / 12) * Math.PI) : 0;
}

/** The meter's records, batch by batch: a plan, then export, import and power per poll. */
export async function* history(ds: Dataset, perBatch: number, key: DeviceKey | null): AsyncGenerator<{ header: BatchHeader; lines: string[]; minTs: number | null }> {
  const enc = new ReadingEncoder(DEVICE);
  const plan: PlanInput = {
    kind: 'plan', sensor: SENSOR, ts: T0, serial: 'ION-BENCH-1', accuracyClass: '0.2S', calibratedAt: '2024-12-01', calibrationDue: '2026-12-01',
    ratedKw: 50, intervalMs: ds.intervalMs, readWindowMs: 1000,
    export: { metric: 'energy_delivered_kwh', type: 'int32', bits: 32, signed: true, scale: 0.001, unit: 'kWh' },
    import: { metric: 'energy_received_kwh', type: 'int32', bits: 32, signed: true, scale: 0.001, unit: 'kWh' },
    power: { metric: 'power_kw', unit: 'kW' },
  };
  let lines: string[] = [canonicalize(planRecord(DEVICE, 1, plan))];
  let seq = 2;
  let batch = 1;
  let prev = ZERO_HASH;
  let minTs: number | null = null;
  let exportWh = 1_000_000;
  let importWh = 50_000;
  const q = { score: 1, flags: [] as string[] };
  const seal = () => {
    const first = seq - lines.length;
    const fields = { device: DEVICE, batch, first, last: seq - 1, count: lines.length, root: '', prev, created: T0 };
    if (key) fields.root = rootFromLeafHashes(lines.map((l) => leafHash(l))).toString('hex');
    const header = key ? signHeader(fields, key) : ({ ...fields, v: 1, key: '', sig: '' } as BatchHeader);
    prev = key ? headerHash(header) : prev;
    const out = { header, lines, minTs };
    lines = [];
    minTs = null;
    batch++;
    return out;
  };
  for (let k = 1; k <= ds.polls; k++) {
    const ts = T0 + k * ds.intervalMs;
    const kw = exportKw(ts);
    exportWh += (kw * 1000 * ds.intervalMs) / 3_600_000;
    importWh += kw > 0 ? 0 : (800 * ds.intervalMs) / 3_600_000;
    if (k % 50_000 < 30) continue; // now and then the device was off for 30 polls
    minTs ??= ts;
    lines.push(enc.encode(seq++, { sensor: SENSOR, metric: 'energy_delivered_kwh', ts, value: Math.floor(exportWh) / 1000, unit: 'kWh', meta: META }, q));
    lines.push(enc.encode(seq++, { sensor: SENSOR, metric: 'energy_received_kwh', ts, value: Math.floor(importWh) / 1000, unit: 'kWh', meta: META }, q));
    lines.push(enc.encode(seq++, { sensor: SENSOR, metric: 'power_kw', ts, value: Math.round(kw * 1000) / 1000, unit: 'kW' }, q));
    if (lines.length >= perBatch) yield seal();
  }
  if (lines.length > 0) yield seal();
}

async function openStore(kind: string, pgUrl: string | undefined, schema: string, dir: string): Promise<SinkStore> {
  const store = kind === 'postgres' ? new PostgresSinkStore({ url: pgUrl!, schema, poolSize: 4 }) : new LevelSinkStore(dir);
  await store.open();
  return store;
}

const ms = (t: number) => Math.round((performance.now() - t) * 10) / 10;

async function benchOne(ds: Dataset, kind: string, opts: { pg?: string; batches: boolean; perBatch: number; runs: number }) {
  const dir = mkdtempSync(join(tmpdir(), 'fieldproof-bench-report-'));
  const schema = `fp_bench_report_${process.pid}_${Date.now().toString(36)}`;
  const store = await openStore(kind, opts.pg, schema, dir);
  const progress = (what: string) => process.stderr.write(`bench report: ${ds.name} on ${kind}: ${what}\n`);
  try {
    const index = new RegisterIndex({ store, mrv: store.mrvStore(), log: silentLogger() });
    let records = 0;
    const tIndex = performance.now();
    if (opts.batches) {
      const key = generateKey();
      for await (const b of history(ds, opts.perBatch, key)) {
        records += b.lines.length;
        await store.commitBatch({ header: b.header, hash: headerHash(b.header), text: b.lines.join('\n'), pruned: false, minTs: b.minTs, maxTs: b.minTs, receivedAt: Date.now() });
        if (b.header.batch % 500 === 0) progress(`stored ${records} records`);
      }
      await index.catchUp(DEVICE);
    } else {
      const source = async function* (): BatchSource {
        for await (const b of history(ds, opts.perBatch, null)) {
          records += b.lines.length;
          if (b.header.batch % 1000 === 0) progress(`indexed ${records} records`);
          yield { row: { header: b.header, pruned: false, minTs: b.minTs }, lines: b.lines };
        }
      };
      await index.indexFrom(DEVICE, () => source());
    }
    const indexMs = ms(tIndex);
    const config = mrvReportSchema.parse({ indexIntervalMs: 0 });
    const deps = { store, mrv: store.mrvStore(), index, config };
    const to = T0 + (ds.polls + 1) * ds.intervalMs;
    const times: number[] = [];
    let credited = 0;
    for (let r = 0; r < opts.runs; r++) {
      const t = performance.now();
      const report = await buildMrvReport(deps, DEVICE, T0, to);
      times.push(ms(t));
      credited = report.energy.creditedKwh;
    }
    const t30 = performance.now();
    await buildMrvReport(deps, DEVICE, to - 30 * DAY, to);
    const report30 = ms(t30);
    progress(`report ${median(times)} ms`);
    return {
      dataset: ds.name, store: kind, polls: ds.polls, records, index_ms: Math.round(indexMs), index_records_per_s: Math.round(records / (indexMs / 1000)),
      report_ms: median(times), report_first_ms: times[0]!, report_30d_ms: report30, credited_kwh: credited, batches_stored: opts.batches,
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    if (kind === 'postgres') await dropSchema(opts.pg!, schema);
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    datasets: { type: 'string' }, stores: { type: 'string' }, pg: { type: 'string' }, batches: { type: 'boolean' }, 'batch-records': { type: 'string' }, runs: { type: 'string' },
    polls: { type: 'string' }, json: { type: 'boolean' },
  });
  const names = (values.datasets ?? 'year-1min,month-1s').split(',');
  for (const n of names) if (!DATASETS[n]) throw new UsageError(`unknown dataset ${JSON.stringify(n)}; year-1min or month-1s`);
  const pgUrl = values.pg ?? process.env.FIELDPROOF_TEST_PG;
  const stores = (values.stores ?? (pgUrl ? 'level,postgres' : 'level')).split(',');
  for (const s of stores) if (s !== 'level' && s !== 'postgres') throw new UsageError(`unknown store ${JSON.stringify(s)}; level or postgres`);
  if (stores.includes('postgres') && !pgUrl) throw new UsageError('--stores postgres needs --pg URL (or FIELDPROOF_TEST_PG)');
  const opts = { pg: pgUrl, batches: values.batches ?? false, perBatch: positiveInt(values['batch-records'], 'batch-records', 500), runs: positiveInt(values.runs, 'runs', 3) };
  const results = [];
  const maxPolls = positiveInt(values.polls, 'polls', Number.MAX_SAFE_INTEGER);
  for (const n of names) {
    const ds = DATASETS[n]!;
    for (const s of stores) results.push(await benchOne({ ...ds, polls: Math.min(ds.polls, maxPolls) }, s, opts));
  }
  const out = { bench: 'report', target_ms: 1000, conditions: { cpus: cpus().length, loadavg1: Math.round(loadavg()[0]! * 100) / 100, node: process.version }, results };
  if (values.json) printJson(out);
  else for (const r of results) process.stdout.write(`${r.dataset} ${r.store}: report ${r.report_ms} ms (first ${r.report_first_ms}, 30 days ${r.report_30d_ms}), index ${r.index_ms} ms for ${r.records} records\n`);
  return 0;
}

// `fieldproof bench fleet`: a fleet of devices, each with its own key, posting signed batches at
// once to one and then several `fieldproof sink` processes over one PostgreSQL database. The load
// comes from a process of its own (fleet-load.ts). Each run gets a fresh schema with the devices
// registered, the same pre-signed chains, and sinks started for it.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { generateKey } from '../protocol/signature.ts';
import { parseFlags, positiveInt, printJson, UsageError } from '../kernel/command.ts';
import { cpuSeconds } from '../kernel/proc-stats.ts';
import { startSinkProcess, type SinkProcess } from '../cloud-sink/sink-process.ts';
import { PostgresSinkStore } from '../cloud-sink/store/postgres-store.ts';
import { backendCpuSince, databaseUse, dropSchema, readingsWritten } from './postgres-use.ts';
import type { FleetDevice } from './fleet-bodies.ts';
import type { LoadMessage, LoadOrder, LoadResult } from './fleet-load.ts';

export const help = `usage: fieldproof bench fleet [--devices N] [--processes 1,2] [--batches B] [--records R]
                             [--concurrency C] [--route device|batch] [--seconds S] [--pg URL]
                             [--no-readings] [--json]

N devices (default 1000), each with its own Ed25519 key, each with a signed chain of B batches
(default 3) of R readings (default 500, device.yaml's batch size), sent as the uplink sends them
(columnar, gzip). For each number of sink processes in --processes (default 1,2): a fresh schema
in the PostgreSQL database of --pg (or FIELDPROOF_TEST_PG), the devices registered in it through
the store's registration call (what POST /v1/devices ends in; direct, to be quick), that many
\`fieldproof sink\` processes started on it, and a load generator in a process of its own posting
every device's chain, a device one batch at a time, C requests in flight per sink (default 128)
from several loopback addresses over keep-alive connections; route device sends each device to
one sink, route batch sends a device's batches to the sinks in turn. A batch counts once its
signed receipt verifies. Stops taking new batches after S seconds (default 120).

Prints per run readings_per_s, queryable_after_s (from the last acknowledgement until every
reading is in the readings index: PostgreSQL writes them just after acceptance) and
queryable_readings_per_s, p50/p99 ms from a batch's first post to its receipt, the store's
share of that time (the sinks' fieldproof_sink_store_seconds over the summed times to
acceptance), the CPU seconds of the sinks, of PostgreSQL's backends and of the generator (until
every reading is queryable: writing the readings is part of what a reading costs), CPU
per reading and what the cores would allow from it, and with several runs the ratio of each to
the first. After the load it waits (up to 2 min) for the sinks' MRV register index to take in
every batch stored, and gives that CPU a reading too (mrv_index_after_load): a short run may end
before the index has run at all. --no-readings runs the sinks without their readings index
(readings.enabled: false), to see the cost of the rest. Progress goes to stderr.`;

const LOAD = fileURLToPath(new URL('./fleet-load.ts', import.meta.url));
const round = (x: number, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits;

class Generator {
  private readonly child: ChildProcess;
  private waiting: { type: string; resolve: (m: LoadMessage) => void; reject: (e: Error) => void } | null = null;

  constructor(progress: (msg: string) => void) {
    this.child = fork(LOAD, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.child.on('message', (m: LoadMessage) => {
      if (m.type === 'progress') return progress(`  ${m.readings.toLocaleString('en')} readings after ${round(m.seconds, 1)} s`);
      const w = this.waiting;
      this.waiting = null;
      if (m.type === 'error') w?.reject(new Error(`the load generator failed: ${m.error}`));
      else w?.resolve(m);
    });
    this.child.once('exit', (code) => this.waiting?.reject(new Error(`the load generator exited (${code})`)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  ask<T extends LoadMessage['type']>(order: LoadOrder, answer: T): Promise<Extract<LoadMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      this.waiting = { type: answer, resolve: resolve as (m: LoadMessage) => void, reject };
      this.child.send(order);
    });
  }

  /** Asks the generator to exit (so that it ends as a process should, profiles and all), killing it if it does not soon. */
  stop(): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (this.child.connected) this.child.send({ type: 'exit' } satisfies LoadOrder);
    setTimeout(() => {
      if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill();
    }, 2000).unref();
  }
}

/** A metric's samples summed over the sinks: every series of it, whatever its labels. */
async function metricSum(sinks: SinkProcess[], name: string): Promise<number> {
  const series = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'gm');
  let sum = 0;
  for (const s of sinks) {
    const res = await request(`${s.url}/metrics`);
    const text = await res.body.text();
    for (const m of text.matchAll(series)) sum += Number(m[1]);
  }
  return sum;
}

/** The sinks' time in the store while accepting (seconds, summed over processes). */
const storeSeconds = (sinks: SinkProcess[]) => metricSum(sinks, 'fieldproof_sink_store_seconds_sum');

/**
 * After the load: until the sinks' MRV register index (a background task of every sink, run every
 * few seconds) has taken in the batches stored, or `maxMs`. It reads every stored batch back and
 * parses it, so its CPU is part of what a reading costs the sink and the database, though a short
 * run may end before it has run at all.
 */
async function indexCatchUp(sinks: SinkProcess[], url: string, batches: number, indexed0: number, maxMs: number): Promise<IndexCatchUp> {
  const t0 = performance.now();
  const cpu0 = sinks.map((s) => cpuSeconds(s.child.pid!));
  const pg0 = await databaseUse(url);
  let indexed = 0;
  while (performance.now() - t0 < maxMs) {
    indexed = (await metricSum(sinks, 'fieldproof_sink_mrv_indexed_batches_total')) - indexed0;
    if (indexed >= batches) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const pgCpuS = backendCpuSince(pg0.cpu, (await databaseUse(url)).cpu);
  const sinkCpuS = sinks.reduce((n, s, i) => n + cpuSeconds(s.child.pid!) - cpu0[i]!, 0);
  return { seconds: (performance.now() - t0) / 1000, indexed, sinkCpuS, pgCpuS };
}

interface IndexCatchUp {
  seconds: number;
  /** batches the index took in during the run and after it */
  indexed: number;
  sinkCpuS: number;
  pgCpuS: number;
}

interface Phase {
  processes: number;
  result: LoadResult;
  storeS: number;
  sinkCpuS: number;
  pgCpuS: number;
  commits: number;
  index: IndexCatchUp;
  /** seconds from the last acknowledgement until every reading was queryable (null without the readings index) */
  queryableAfterS: number | null;
}

async function runPhase(opts: {
  processes: number; url: string; dir: string; devices: { id: string; key: string }[]; generator: Generator;
  concurrency: number; route: 'device' | 'batch'; seconds: number; readings: boolean; progress: (m: string) => void;
}): Promise<Phase> {
  const { processes, url, dir, progress } = opts;
  const schema = `fleet_bench_${process.pid}_${processes}_${Date.now().toString(36)}`;
  const store = new PostgresSinkStore({ url, schema });
  await store.open();
  try {
    for (let i = 0; i < opts.devices.length; i += 8) {
      await Promise.all(opts.devices.slice(i, i + 8).map((d) => store.addDevice({ id: d.id, key: d.key, addedAt: Date.now() })));
    }
  } finally {
    await store.close();
  }
  const config = join(dir, `sink-${processes}.yaml`);
  // one data folder for every process: they sign receipts with the one key made there
  const readingsYaml = opts.readings ? '' : 'readings:\n  enabled: false\n';
  writeFileSync(config, `listen: 127.0.0.1:0\ndataDir: ${JSON.stringify(join(dir, 'sink'))}\nstore:\n  kind: postgres\n  url: ${JSON.stringify(url)}\n  schema: ${schema}\n${readingsYaml}`);
  const sinks: SinkProcess[] = [];
  try {
    sinks.push(...(await Promise.all(Array.from({ length: processes }, () => startSinkProcess(config)))));
    const sinkKey = String(sinks[0]!.logs.find((l) => l.msg === 'sink listening')!.receiptKey);
    progress(`${processes} sink process${processes > 1 ? 'es' : ''} (${sinks.map((s) => s.url).join(', ')}), schema ${schema}: posting`);
    const cpu0 = sinks.map((s) => cpuSeconds(s.child.pid!));
    const pg0 = await databaseUse(url);
    const store0 = await storeSeconds(sinks);
    const indexed0 = await metricSum(sinks, 'fieldproof_sink_mrv_indexed_batches_total');
    const concurrency = opts.concurrency * processes;
    // a sink lets one client address keep 16 requests in flight: 8 from each address here
    const addresses = Array.from({ length: Math.max(1, Math.ceil(concurrency / 8)) }, (_, i) => `127.0.0.${i + 2}`);
    const { result } = await opts.generator.ask({ type: 'run', targets: sinks.map((s) => s.url), route: opts.route, concurrency, addresses, sinkKey, seconds: opts.seconds }, 'result');
    // the readings of the last batches acknowledged are written just after: until all are queryable
    const acknowledged = performance.now();
    if (opts.readings) await readingsWritten(url, schema);
    const queryableAfterS = opts.readings ? (performance.now() - acknowledged) / 1000 : null;
    const storeS = (await storeSeconds(sinks)) - store0;
    // a backend reports its transaction counts at most once a second, when idle
    await new Promise((r) => setTimeout(r, 1500));
    const pg1 = await databaseUse(url);
    const sinkCpuS = sinks.reduce((n, s, i) => n + cpuSeconds(s.child.pid!) - cpu0[i]!, 0);
    const pgCpuS = backendCpuSince(pg0.cpu, pg1.cpu);
    const index = await indexCatchUp(sinks, url, result.batches, indexed0, 120_000);
    return { processes, result, storeS, sinkCpuS, pgCpuS, commits: pg1.commits - pg0.commits, index, queryableAfterS };
  } catch (err) {
    // what the sinks said last, so that a failed run can be understood
    for (const s of sinks) for (const l of s.logs.filter((l) => Number(l.level) >= 40).slice(-5)) progress(`  sink ${s.url}: ${JSON.stringify(l)}`);
    throw err;
  } finally {
    await Promise.all(sinks.map((s) => s.stop()));
    await dropSchema(url, schema).catch(() => undefined);
  }
}

function phaseFigures(p: Phase) {
  const r = p.result;
  return {
    processes: p.processes,
    seconds: round(r.seconds, 2),
    batches: r.batches,
    readings: r.readings,
    readings_per_s: Math.round(r.readings / r.seconds),
    // every reading also queryable through the readings API and in the readings view
    ...(p.queryableAfterS !== null ? { queryable_after_s: round(p.queryableAfterS, 3), queryable_readings_per_s: Math.round(r.readings / (r.seconds + p.queryableAfterS)) } : {}),
    batches_per_s: round(r.batches / r.seconds, 1),
    p50_ms: r.latencyMs.p50,
    p99_ms: r.latencyMs.p99,
    max_ms: r.latencyMs.max,
    store_ms_per_batch: r.batches ? round((p.storeS / r.batches) * 1000, 2) : null,
    db_share_of_acceptance: r.latencySumS ? round(p.storeS / r.latencySumS, 3) : null,
    cpu_s: { sinks: round(p.sinkCpuS, 1), postgres: round(p.pgCpuS, 1), generator: round(r.cpuS, 1) },
    db_share_of_cpu: round(p.pgCpuS / (p.sinkCpuS + p.pgCpuS + r.cpuS), 3),
    // CPU per reading does not depend on how busy the machine is, as wall time does: what a
    // core could take (1e6 / us) when the sink has one to itself
    cpu_us_per_reading: r.readings
      ? { sinks: round((p.sinkCpuS / r.readings) * 1e6, 2), postgres: round((p.pgCpuS / r.readings) * 1e6, 2), generator: round((r.cpuS / r.readings) * 1e6, 2) }
      : null,
    // what the cores would allow with the machine to itself: each sink process is one event loop
    // (at most a core), and the sinks, PostgreSQL and the generator share the machine's cores
    cpu_bound_readings_per_s: r.readings && p.sinkCpuS > 0
      ? Math.round(Math.min(p.processes / (p.sinkCpuS / r.readings), availableParallelism() / ((p.sinkCpuS + p.pgCpuS + r.cpuS) / r.readings)))
      : null,
    db_transactions_per_batch: r.batches ? round(p.commits / r.batches, 3) : null,
    // the MRV index's catching up after the load: CPU a reading on top of the figures above
    mrv_index_after_load: {
      seconds: round(p.index.seconds, 1), caught_up: p.index.indexed >= r.batches,
      cpu_us_per_reading: r.readings ? { sinks: round((p.index.sinkCpuS / r.readings) * 1e6, 2), postgres: round((p.index.pgCpuS / r.readings) * 1e6, 2) } : null,
    },
    refused: r.refused,
    failed_devices: r.failedDevices,
  };
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    devices: { type: 'string' }, processes: { type: 'string' }, batches: { type: 'string' }, records: { type: 'string' },
    concurrency: { type: 'string' }, route: { type: 'string' }, seconds: { type: 'string' }, pg: { type: 'string' }, 'no-readings': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const n = positiveInt(values.devices, 'devices', 1000);
  const batches = positiveInt(values.batches, 'batches', 3);
  const records = positiveInt(values.records, 'records', 500);
  const concurrency = positiveInt(values.concurrency, 'concurrency', 128);
  const seconds = positiveInt(values.seconds, 'seconds', 120);
  const route = values.route ?? 'device';
  if (route !== 'device' && route !== 'batch') throw new UsageError('--route must be device or batch');
  const processes = (values.processes ?? '1,2').split(',').map((p) => positiveInt(p.trim(), 'processes', 1));
  if (processes.some((p) => p > 8)) throw new UsageError('--processes: at most 8 sink processes');
  if (concurrency * Math.max(...processes) > 8 * 200) throw new UsageError('--concurrency: at most 1600 requests in flight in all (8 from each of 200 loopback addresses)');
  const url = values.pg ?? process.env.FIELDPROOF_TEST_PG;
  if (!url) throw new UsageError('give --pg URL (or FIELDPROOF_TEST_PG): the PostgreSQL database the sinks share');

  const progress = (msg: string) => process.stderr.write(msg + '\n');
  const dir = mkdtempSync(join(tmpdir(), 'fieldproof-fleet-'));
  const generator = new Generator(progress);
  try {
    const keys = Array.from({ length: n }, (_, i) => ({ id: `fleet-${String(i + 1).padStart(5, '0')}`, key: generateKey() }));
    const fleet: FleetDevice[] = keys.map((k) => ({ id: k.id, seed: k.key.secret }));
    progress(`signing ${n} devices' chains: ${batches} batches of ${records} readings each`);
    const prepared = await generator.ask({ type: 'prepare', devices: fleet, shape: { batches, records, sensors: 20 } }, 'prepared');
    progress(`signed ${prepared.readings.toLocaleString('en')} readings in ${round(prepared.seconds, 1)} s`);
    const phases: Phase[] = [];
    for (const p of processes) {
      phases.push(await runPhase({
        processes: p, url, dir, devices: keys.map((k) => ({ id: k.id, key: k.key.public })), generator, concurrency, route, seconds, progress,
        readings: values['no-readings'] !== true,
      }));
      progress(`  ${p} process${p > 1 ? 'es' : ''}: ${Math.round(phases.at(-1)!.result.readings / phases.at(-1)!.result.seconds).toLocaleString('en')} readings/s`);
    }
    const figures = phases.map(phaseFigures);
    const base = figures[0]!.readings_per_s;
    const result = {
      bench: 'fleet', devices: n, batches_per_device: batches, batch_records: records, readings: prepared.readings,
      concurrency_per_process: concurrency, route, encoding: 'columnar+gzip', registration: 'direct store call', readings_index: values['no-readings'] !== true,
      cores: availableParallelism(), node: process.version,
      runs: figures.map((f) => ({ ...f, scaling: base ? round(f.readings_per_s / base, 2) : null })),
    };
    if (values.json) printJson(result);
    else process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return 0;
  } finally {
    generator.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

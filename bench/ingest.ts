// `fieldproof bench ingest`: readings from the pipeline to durable, signed batches, against the
// naive store (the same records as JSON, one LevelDB key each, synced batches of the same size)
// measured in the same run, so that the ratio holds on a noisy machine.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { SimulatedSignal, SIGNAL_UNITS } from '../drivers/simulated/signal.ts';
import type { ReadingInput } from '../protocol/records.ts';
import { generateKey } from '../protocol/signature.ts';
import { parseFlags, positiveInt, printJson } from '../kernel/command.ts';
import { percentile } from '../kernel/percentile.ts';
import { silentLogger } from '../kernel/log.ts';
import { Registry } from '../kernel/metrics.ts';
import { Pipeline } from '../runtime/pipeline.ts';
import { Journal } from '../runtime/journal/journal.ts';
import { DEFAULT_HISTORY } from '../runtime/history/config.ts';
import { HistoryIndex } from '../runtime/history/history-index.ts';

export const help = `usage: fieldproof bench ingest [--readings N] [--sensors S] [--batch R] [--rounds K] [--rate P] [--history] [--json]

Feeds N simulated readings (default 200000, from S sensors, default 20) as fast as they come
through the pipeline into a fresh journal, with batches of R records (default 500), and the same
records into a naive LevelDB store (JSON, one key each, synced batches as large as the journal's
group commits, no hashing). Each is run K times (default 2), alternating; the best round is kept.
Then readings arrive at a steady P per second (default 20000) for 3 s, to time the wait of a
reading from emit to durable when the journal is not flooded.

--history also keeps the device page's history (24 h of 1-minute buckets per series) from every
commit, as a daemon with a status page does; the journal then builds record objects for its
commit listener, which the bare run does not.

Prints readings_per_s, (with --history) history_us_per_reading, p99_commit_ms (one group commit: encode, hash, seal, synced write),
p99_wait_ms_flood and p50/p99_wait_ms_paced (a reading's wait until durable), bytes_per_reading_disk,
rss_mb, raw_level_records_per_s and ratio_to_raw.`;

function makeReadings(n: number, sensors: number): ReadingInput[] {
  const signals = Array.from({ length: sensors }, (_, i) => new SimulatedSignal('co2', 1000 + i));
  const { metric, unit } = SIGNAL_UNITS.co2;
  const start = Date.now() - n * 10;
  const out: ReadingInput[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const s = i % sensors;
    const ts = start + Math.floor(i / sensors) * 1000;
    const value = signals[s]!.next(ts);
    out[i] = { sensor: `sim-${s + 1}`, metric, ts, value, unit, quality: { score: 1, flags: [] } };
  }
  return out;
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const st = statSync(join(dir, name));
    if (st.isFile()) total += st.size;
  }
  return total;
}

/** Feed like a source would: slices per tick, never waiting for the journal. */
async function feed(readings: ReadingInput[], push: (r: ReadingInput, i: number) => void, slice = 2000): Promise<void> {
  for (let i = 0; i < readings.length; i++) {
    push(readings[i]!, i);
    if (i % slice === slice - 1) await new Promise<void>((r) => setImmediate(r));
  }
}

async function runJournal(readings: ReadingInput[], batchRecords: number, withHistory: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'fieldproof-bench-'));
  try {
    const metrics = new Registry();
    const commitMs: number[] = [];
    const journal = await Journal.open({
      dir, device: 'bench-device', key: generateKey(), metrics, batch: { maxRecords: batchRecords, maxAgeMs: 60_000 }, commitMaxWaitMs: 2,
      onCommit: ({ ms }) => commitMs.push(ms),
    });
    const pipeline = new Pipeline(journal, silentLogger(), metrics, { maxQueued: Number.MAX_SAFE_INTEGER });
    // The history's clock is the newest reading's, so that every reading falls in its window.
    const lastTs = readings[readings.length - 1]!.ts;
    const history = withHistory ? new HistoryIndex({ config: DEFAULT_HISTORY, now: () => lastTs }) : null;
    let historyMs = 0;
    if (history) {
      journal.onCommitted((records) => {
        const at = performance.now();
        history.note(records);
        historyMs += performance.now() - at;
      });
    }
    // Every 50th reading goes in with a promise, to time its wait from emit to durable; the rest
    // take the pipeline's path. No commit listener: building record objects is the listeners' cost.
    const latencies: number[] = [];
    const sampled: Promise<void>[] = [];
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await feed(readings, (r, i) => {
      if (i % 50 === 0) {
        const at = performance.now();
        sampled.push(journal.append(r).then(() => void latencies.push(performance.now() - at)));
      } else pipeline.emit(r);
    });
    await journal.flush();
    await Promise.all(sampled);
    await journal.sealNow();
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const stats = journal.stats();
    await journal.close();
    latencies.sort((a, b) => a - b);
    return {
      readingsPerS: readings.length / seconds,
      // CPU of this process (all its threads, LevelDB's included) per reading: steadier than
      // wall time on a shared machine.
      cpuUsPerReading: (cpu.user + cpu.system) / readings.length,
      p99Wait: percentile(latencies, 99),
      meanGroup: readings.length / Math.max(1, commitMs.length),
      p99Commit: percentile(commitMs.sort((a, b) => a - b), 99),
      batches: stats.lastBatch,
      bytesOnDisk: dirBytes(dir),
      historySeries: history?.seriesCount ?? 0,
      historyUsPerReading: (historyMs * 1000) / readings.length,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Readings at a steady rate, as a busy site produces them: each one's wait from emit to durable. */
async function runPaced(readings: ReadingInput[], ratePerS: number): Promise<{ p50: number; p99: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'fieldproof-bench-paced-'));
  try {
    const journal = await Journal.open({ dir, device: 'bench-device', key: generateKey(), batch: { maxRecords: 500, maxAgeMs: 1000 } });
    const waits: Promise<number>[] = [];
    const t0 = performance.now();
    const tickMs = 10;
    const perTick = Math.max(1, Math.round((ratePerS * tickMs) / 1000));
    for (let i = 0; i < readings.length; i += perTick) {
      const due = t0 + (i / perTick) * tickMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      for (let j = i; j < Math.min(readings.length, i + perTick); j++) {
        const at = performance.now();
        waits.push(journal.append(readings[j]!).then(() => performance.now() - at));
      }
    }
    const sorted = (await Promise.all(waits)).sort((a, b) => a - b);
    await journal.close();
    return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runRawLevel(readings: ReadingInput[], groupSize: number) {
  const dir = mkdtempSync(join(tmpdir(), 'fieldproof-bench-raw-'));
  try {
    const db = new Level<string, string>(dir, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    await db.open();
    const t0 = performance.now();
    for (let i = 0; i < readings.length; i += groupSize) {
      const ops = [];
      for (let j = i; j < Math.min(readings.length, i + groupSize); j++) {
        const r = readings[j]!;
        const record = { v: 1, kind: 'reading', device: 'bench-device', seq: j + 1, sensor: r.sensor, metric: r.metric, ts: r.ts, value: r.value, unit: r.unit, quality: r.quality };
        ops.push({ type: 'put' as const, key: String(j + 1).padStart(16, '0'), value: JSON.stringify(record) });
      }
      await db.batch(ops, { sync: true });
    }
    const seconds = (performance.now() - t0) / 1000;
    await db.close();
    return readings.length / seconds;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { readings: { type: 'string' }, sensors: { type: 'string' }, batch: { type: 'string' }, rounds: { type: 'string' }, rate: { type: 'string' }, history: { type: 'boolean' }, json: { type: 'boolean' } });
  const n = positiveInt(values.readings, 'readings', 200_000);
  const sensors = positiveInt(values.sensors, 'sensors', 20);
  const batchRecords = positiveInt(values.batch, 'batch', 500);
  const rounds = positiveInt(values.rounds, 'rounds', 2);
  const readings = makeReadings(n, sensors);
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);

  let best: Awaited<ReturnType<typeof runJournal>> | null = null;
  let bestRaw = 0;
  for (let round = 1; round <= rounds; round++) {
    const ours = await runJournal(readings, batchRecords, values.history === true);
    if (!best || ours.readingsPerS > best.readingsPerS) best = ours;
    const raw = await runRawLevel(readings, Math.max(1, Math.round(ours.meanGroup)));
    bestRaw = Math.max(bestRaw, raw);
    if (!values.json) process.stderr.write(`round ${round}/${rounds}: journal ${Math.round(ours.readingsPerS)}/s, naive ${Math.round(raw)}/s\n`);
  }
  const rate = positiveInt(values.rate, 'rate', 20_000);
  const paced = await runPaced(readings.slice(0, Math.min(readings.length, rate * 3)), rate);
  clearInterval(sampler);
  const result = {
    bench: 'ingest',
    readings: n,
    sensors,
    batch_records: batchRecords,
    history: values.history === true,
    // the index's own share, apart from building the records a commit listener gets
    ...(values.history ? { history_series: best!.historySeries, history_us_per_reading: round2(best!.historyUsPerReading) } : {}),
    readings_per_s: Math.round(best!.readingsPerS),
    cpu_us_per_reading: round2(best!.cpuUsPerReading),
    p99_commit_ms: round2(best!.p99Commit),
    p99_wait_ms_flood: round2(best!.p99Wait),
    paced_rate_per_s: rate,
    p50_wait_ms_paced: round2(paced.p50),
    p99_wait_ms_paced: round2(paced.p99),
    mean_group_commit_records: Math.round(best!.meanGroup),
    batches_sealed: best!.batches,
    bytes_per_reading_disk: round2(best!.bytesOnDisk / n),
    rss_mb: Math.round(peakRss / 1024 / 1024),
    raw_level_records_per_s: Math.round(bestRaw),
    ratio_to_raw: round2(best!.readingsPerS / bestRaw),
    node: process.version,
  };
  if (values.json) printJson(result);
  else for (const [k, v] of Object.entries(result)) process.stdout.write(`${k.padEnd(28)}${v}\n`);
  return 0;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

// `fieldproof bench attack`: a device drains a backlog into a sink while another process sends
// hostile requests at full speed (gzip bombs, junk, slow and idle connections) from other
// loopback addresses; the same drain into a fresh sink without the attack is the baseline. It
// reports the device's readings per second in both (and their ratio), the sink's peak resident
// memory in both, and how long /healthz took to answer during the attack. Bounded in time.
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { percentile } from '../kernel/percentile.ts';
import { startSinkProcess, type SinkProcess } from '../cloud-sink/sink-process.ts';
import { copyBacklog, drainBacklog, fillBacklog, writeSinkConfig, type Backlog, type DrainResult } from './drain.ts';
import { parseFlags, positiveInt, printJson, UsageError } from '../kernel/command.ts';
import { peakRssMb } from '../kernel/proc-stats.ts';
import type { AttackerMessage, AttackOrder } from './attack-client.ts';
import type { ProbeMessage } from './health-probe.ts';

export const help = `usage: fieldproof bench attack [--readings N] [--batch R] [--encoding columnar|json] [--in-flight K]
                              [--attackers A] [--workers W] [--max-seconds S] [--json]

Fills a journal with N readings (default 100000) in batches of R records (default 1000) and drains
it into a fresh sink process twice: once alone (the baseline) and once while another process sends
hostile requests at full speed from A loopback addresses (default 4: 127.0.0.2 ...) with W
connections at a time (default 64): gzip bombs aimed at each point of the reading order, junk
bodies, headers and paths, slow and idle connections. The sink runs its default limits.
/healthz is asked every 20 ms during both drains. Prints readings_per_s and
readings_per_s_baseline with their ratio, the sink's peak RSS in both, the p50/p99 of /healthz,
and what the attacker's requests got back. The attack stops with the drain or after S seconds
(default 300), whichever comes first.`;

const ATTACKER = fileURLToPath(new URL('./attack-client.ts', import.meta.url));
const PROBE = fileURLToPath(new URL('./health-probe.ts', import.meta.url));

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
/** A percentile of the /healthz times, NaN (null in the JSON) when no probe ran. */
const healthPercentile = (sorted: number[], p: number) => (sorted.length === 0 ? NaN : percentile(sorted, p));


/** Ask /healthz every 20 ms from a process of its own, until stopped; the times it took, sorted (Infinity: failed). */
async function probeHealth(url: string): Promise<{ stop: () => Promise<number[]> }> {
  const child = fork(PROBE, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const times = new Promise<number[]>((resolve, reject) => {
    child.on('message', (m: ProbeMessage) => m.type === 'times' && resolve(m.ms.map((t) => (t < 0 ? Infinity : t)).sort((a, b) => a - b)));
    child.once('exit', (code) => reject(new Error(`the /healthz probe exited (${code})`)));
  });
  times.catch(() => undefined);
  await new Promise<void>((resolve, reject) => {
    child.on('message', (m: { type?: string }) => m.type === 'ready' && resolve());
    child.once('exit', (code) => reject(new Error(`the /healthz probe exited (${code}) before it started`)));
    child.send({ url });
  });
  return {
    stop: async () => {
      child.send({ type: 'stop' });
      return times;
    },
  };
}

interface Run {
  drain: DrainResult;
  peakRssMb: number;
  healthMs: number[];
}

async function drainOnce(dir: string, backlog: Backlog, opts: { encoding: 'columnar' | 'json'; inFlight: number }, during?: (sink: SinkProcess) => Promise<() => Promise<void>>): Promise<Run> {
  mkdirSync(dir, { recursive: true });
  const sink = await startSinkProcess(writeSinkConfig(dir, backlog, { kind: 'level' }));
  try {
    const stopDuring = during ? await during(sink) : async () => undefined;
    const probe = await probeHealth(sink.url);
    let drain: DrainResult;
    try {
      drain = await drainBacklog(backlog, sink, opts);
    } finally {
      await stopDuring();
    }
    return { drain, peakRssMb: peakRssMb(sink.child.pid!), healthMs: await probe.stop() };
  } finally {
    await sink.stop();
  }
}

/** Start the attacker against the sink; resolves once its bombs are built and it fires, with a function that stops it and returns its tally. */
async function startAttacker(sink: SinkProcess, order: Omit<AttackOrder, 'host' | 'port'>, onTally: (m: Extract<AttackerMessage, { type: 'tally' }>) => void): Promise<() => Promise<void>> {
  const { port } = new URL(sink.url);
  const child = fork(ATTACKER, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.on('message', (m: AttackerMessage) => {
    if (m.type === 'tally') onTally(m);
  });
  await new Promise<void>((resolve, reject) => {
    child.on('message', (m: AttackerMessage) => m.type === 'ready' && resolve());
    child.once('exit', (code) => reject(new Error(`the attacker exited (${code}) before it started`)));
    child.send({ ...order, host: '127.0.0.1', port: Number(port) } satisfies AttackOrder);
  });
  return async () => {
    if (child.exitCode === null) child.send({ type: 'stop' });
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  };
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    readings: { type: 'string' }, batch: { type: 'string' }, encoding: { type: 'string' }, 'in-flight': { type: 'string' },
    attackers: { type: 'string' }, workers: { type: 'string' }, 'max-seconds': { type: 'string' }, json: { type: 'boolean' },
  });
  const n = positiveInt(values.readings, 'readings', 100_000);
  const batch = positiveInt(values.batch, 'batch', 1000);
  const inFlight = positiveInt(values['in-flight'], 'in-flight', 6);
  const attackers = positiveInt(values.attackers, 'attackers', 4);
  const workers = positiveInt(values.workers, 'workers', 64);
  const maxSeconds = positiveInt(values['max-seconds'], 'max-seconds', 300);
  const encoding = values.encoding ?? 'columnar';
  if (encoding !== 'columnar' && encoding !== 'json') throw new UsageError('--encoding must be columnar or json');
  if (attackers > 200) throw new UsageError('--attackers must be at most 200 (addresses 127.0.0.2 to 127.0.0.201)');

  const dir = mkdtempSync(join(tmpdir(), 'fieldproof-attack-'));
  const progress = (msg: string) => values.json || process.stderr.write(msg + '\n');
  try {
    const backlog = await fillBacklog(join(dir, 'journal-baseline'), { readings: n, sensors: 20, batchRecords: batch, progress });
    const attacked = copyBacklog(backlog, join(dir, 'journal-attacked'));
    progress(`baseline: draining ${backlog.batches} batches into a sink alone`);
    const base = await drainOnce(join(dir, 'baseline'), backlog, { encoding, inFlight });

    progress(`attack: the same drain while ${workers} connections from ${attackers} addresses send hostile requests`);
    let attackerTally: Extract<AttackerMessage, { type: 'tally' }> | null = null;
    const hit = await drainOnce(join(dir, 'attacked'), attacked, { encoding, inFlight }, (sink) => startAttacker(sink, {
      addresses: Array.from({ length: attackers }, (_, i) => `127.0.0.${i + 2}`), workers, registered: backlog.device,
      // the sink's default deadlines: a slow client is held to them
      headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, bombBytes: 64 * 1024 * 1024, maxSeconds, seed: Date.now() % 2 ** 31,
    }, (m) => (attackerTally = m)));

    const outcomes: Record<string, number> = {};
    const tally = (attackerTally as Extract<AttackerMessage, { type: 'tally' }> | null);
    for (const byKind of Object.values(tally?.tally.byKind ?? {})) for (const [k, v] of Object.entries(byKind)) outcomes[k] = (outcomes[k] ?? 0) + v;
    const finite = (xs: number[]) => xs.filter(Number.isFinite);
    const result = {
      bench: 'attack', readings: n, batches: backlog.batches, batch_records: batch, encoding, in_flight: inFlight,
      readings_per_s: hit.drain.readingsPerS,
      readings_per_s_baseline: base.drain.readingsPerS,
      readings_ratio: round(hit.drain.readingsPerS / base.drain.readingsPerS, 3),
      sink_peak_rss_mb: hit.peakRssMb,
      sink_peak_rss_mb_baseline: base.peakRssMb,
      rss_ratio: round(hit.peakRssMb / base.peakRssMb, 3),
      healthz_p50_ms: round(healthPercentile(hit.healthMs, 50), 2),
      healthz_p99_ms: round(healthPercentile(hit.healthMs, 99), 2),
      healthz_max_ms: round(Math.max(...finite(hit.healthMs)), 2),
      healthz_failed: hit.healthMs.length - finite(hit.healthMs).length,
      healthz_probes: hit.healthMs.length,
      healthz_p99_ms_baseline: round(healthPercentile(base.healthMs, 99), 2),
      sink_cpu_s: round(hit.drain.sinkCpuS, 2),
      sink_cpu_s_baseline: round(base.drain.sinkCpuS, 2),
      seconds: round(hit.drain.seconds, 3),
      seconds_baseline: round(base.drain.seconds, 3),
      attack: {
        addresses: attackers, connections: workers, seconds: round(tally?.seconds ?? 0, 1), requests: tally?.tally.shots ?? 0,
        requests_per_s: round((tally?.tally.shots ?? 0) / (tally?.seconds || 1), 0),
        // what the hostile requests got back: a status, or 'closed' when the sink closed the connection unanswered
        outcomes, violations: tally?.tally.violations.length ?? 0,
      },
      targets: { readings_ratio: '>= 0.7', rss_ratio: '< 2', healthz_p99_ms: '< 50' },
    };
    if (values.json) printJson(result);
    else process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

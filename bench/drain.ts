// `fieldproof bench drain`: a backlog of N readings in a real journal, drained through the uplink
// to a sink running as its own process (`fieldproof sink`), as after a long outage. Filling the
// backlog is not timed; the drain is, from the first request to the last acknowledgement.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { generateKey } from '../protocol/signature.ts';
import type { ReadingInput } from '../protocol/records.ts';
import { parseFlags, positiveInt, printJson, UsageError } from '../kernel/command.ts';
import { Journal } from '../runtime/journal/journal.ts';
import { silentLogger } from '../kernel/log.ts';
import { Registry } from '../kernel/metrics.ts';
import { uplinkSchema } from '../runtime/uplink/config.ts';
import { Uplink } from '../runtime/uplink/uplink.ts';

export const help = `usage: fieldproof bench drain [--readings N] [--sensors S] [--batch R] [--encoding columnar|json]
                             [--in-flight K] [--store level|postgres --pg URL] [--json]

Fills a journal with N readings (default 200000) of S sensors (default 20) at 1 Hz, sealed in
batches of R records (default 1000), starts a sink process on a free port with a fresh store, and
times draining the backlog through the uplink. Prints readings_per_s, wire_bytes_per_reading,
sink_rss_mb (the sink process's peak resident memory), and the CPU seconds each side used.`;

const BIN = fileURLToPath(new URL('../bin/fieldproof.js', import.meta.url));

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

async function startSinkProcess(configFile: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [BIN, 'sink', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FIELDPROOF_LOG_LEVEL: 'info' } });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const url = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      try {
        const j = JSON.parse(line) as { msg?: string; url?: string };
        if (j.msg === 'sink listening' && j.url) resolve(j.url);
      } catch {
        /* not a log line */
      }
    });
    child.once('exit', (code) => reject(new Error(`the sink exited (${code}): ${stderr.trim().split('\n').pop() ?? ''}`)));
  });
  child.stdout!.resume();
  return { child, url };
}

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? /VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round((kb / 1024) * 10) / 10;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    readings: { type: 'string' }, sensors: { type: 'string' }, batch: { type: 'string' }, encoding: { type: 'string' },
    'in-flight': { type: 'string' }, store: { type: 'string' }, pg: { type: 'string' }, json: { type: 'boolean' },
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
  const key = generateKey();
  const device = `bench-${process.pid}-${Date.now().toString(36)}`;
  let child: ChildProcess | null = null;
  const progress = (msg: string) => values.json || process.stderr.write(msg + '\n');
  try {
    let journal = await Journal.open({ dir: join(dir, 'device'), device, key, batch: { maxRecords: batch, maxBytes: 64 * 1024 * 1024, maxAgeMs: 3_600_000 }, commitMaxRecords: batch });
    const start = Date.now() - Math.ceil(n / sensors) * 1000;
    const chunk = 50_000;
    for (let i = 0; i < n; i += chunk) {
      await journal.appendMany(readings(Math.min(chunk, n - i), sensors, start + Math.floor(i / sensors) * 1000));
      progress(`backlog: ${Math.min(n, i + chunk)} of ${n} readings journaled`);
    }
    await journal.close();
    journal = await Journal.open({ dir: join(dir, 'device'), device, key, batch: { maxRecords: batch, maxBytes: 64 * 1024 * 1024, maxAgeMs: 3_600_000 } });
    const batches = journal.stats().lastBatch;

    const storeYaml = store === 'postgres' ? `store:\n  kind: postgres\n  url: ${JSON.stringify(pg)}\n` : '';
    const configFile = join(dir, 'sink.yaml');
    writeFileSync(configFile, `listen: 127.0.0.1:0\ndataDir: ${JSON.stringify(join(dir, 'sink'))}\ndevices:\n  - id: ${device}\n    key: ${key.public}\n${storeYaml}`);
    const sink = await startSinkProcess(configFile);
    child = sink.child;
    progress(`sink ${sink.url} (${store}); draining ${batches} batches`);

    const metrics = new Registry();
    const uplink = new Uplink({
      journal, device, log: silentLogger(), metrics,
      config: uplinkSchema.parse({ url: sink.url, encoding, inFlight }),
    });
    const sinkCpu0 = cpuSeconds(child.pid!);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await uplink.start();
    const ok = await uplink.drained(600_000);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const sinkCpu = cpuSeconds(child.pid!) - sinkCpu0;
    await uplink.stop();
    const bytes = (await metrics.getSingleMetric('fieldproof_uplink_wire_bytes_total')!.get()).values[0]?.value ?? 0;
    const rss = peakRssMb(child.pid!);
    await journal.close();
    if (!ok) throw new Error('the backlog did not drain within 10 minutes');
    const result = {
      bench: 'drain', readings: n, batches, batch_records: batch, sensors, encoding, in_flight: inFlight, store,
      seconds: Math.round(seconds * 1000) / 1000,
      readings_per_s: Math.round(n / seconds),
      wire_bytes_per_reading: Math.round((bytes / n) * 100) / 100,
      sink_rss_mb: rss,
      // CPU time spent on each side: on a shared or loaded machine these say more than wall time
      uplink_cpu_s: Math.round(((cpu.user + cpu.system) / 1e6) * 100) / 100,
      sink_cpu_s: Math.round(sinkCpu * 100) / 100,
    };
    if (values.json) printJson(result);
    else process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return 0;
  } finally {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

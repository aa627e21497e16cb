// `fieldproof bench daemon`: what the daemon costs on the device. Runs `fieldproof run` as a child
// process (so the figures are the daemon's alone), with the dashboard's live feed connected as an
// open page would be, and reads the child's RSS and CPU time from /proc:
//   - cold start: from spawning the process to the first reading journaled (as /api/status says),
//     first with nothing in Node's compile cache (the first start after an install or an update),
//     then again with the cache the first start left (every later start: a restart, a reboot)
//   - idle: no readings, the dashboard open
//   - load: 100 readings/s (10 simulated sensors every 100 ms), the dashboard open
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { WebSocket } from 'ws';
import { CommandFailure, parseFlags, positiveInt, printJson } from '../kernel/command.ts';
import { freeTcpPort as freePort } from '../kernel/net.ts';

export const help = `usage: fieldproof bench daemon [--seconds N] [--json]

Starts the device daemon (fieldproof run) as a child process, on the Node that runs this
command, four times and measures it: cold start to the first reading journaled, with an empty
compile cache (firstStartToFirstReadingMs: after an install) and with the cache that start left
(coldStartToFirstReadingMs: every later start); RSS and CPU idle with the dashboard's live feed
connected; RSS and CPU at 100 readings/s with the feed connected. --seconds is the length of
each measuring window (default 10). Linux only (reads /proc).`;

const BIN = resolve(import.meta.dirname, '../bin/fieldproof.js');
const CLOCK_TICKS = 100; // USER_HZ on Linux

interface Sample {
  rssBytes: number;
  cpuTicks: number;
  at: number;
}

function sample(pid: number): Sample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  // Fields after the command name in parentheses: utime is the 14th field, stime the 15th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { rssBytes: rssKb * 1024, cpuTicks: Number(fields[11]) + Number(fields[12]), at: Date.now() };
}


function getJson(port: number, path: string): Promise<unknown> {
  return new Promise((res, rej) => {
    request({ host: '127.0.0.1', port, path }, (r) => {
      let body = '';
      r.on('data', (c: Buffer) => (body += c));
      r.on('end', () => (r.statusCode === 200 ? res(JSON.parse(body)) : rej(new Error(`${path}: ${r.statusCode}`))));
    })
      .on('error', rej)
      .end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class DaemonUnderTest {
  child: ChildProcess | null = null;
  spawnedAt = 0;
  private output = '';

  private readonly dir: string;
  private readonly port: number;
  private readonly drivers: unknown[];
  private readonly compileCache: string;

  constructor(dir: string, port: number, drivers: unknown[], compileCache: string) {
    this.dir = dir;
    this.port = port;
    this.drivers = drivers;
    this.compileCache = compileCache;
  }

  async start(): Promise<void> {
    const config = join(this.dir, 'device.yaml');
    writeFileSync(config, stringify({ device: 'bench-gw', dataDir: join(this.dir, 'data'), drivers: this.drivers, http: { listen: `127.0.0.1:${this.port}` } }));
    this.spawnedAt = performance.now();
    this.child = spawn(process.execPath, [BIN, 'run', '--config', config, '--progress-ms', '60000'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FIELDPROOF_LOG_LEVEL: 'warn', NODE_COMPILE_CACHE: this.compileCache } });
    this.child.stdout!.on('data', (d: Buffer) => (this.output = (this.output + d).slice(-2000)));
    this.child.stderr!.on('data', (d: Buffer) => (this.output = (this.output + d).slice(-2000)));
  }

  get pid(): number {
    return this.child!.pid!;
  }

  /** ms from spawn until the status page reports a journaled record (polled every 5 ms) */
  async untilFirstReading(timeoutMs = 30_000): Promise<number> {
    const until = performance.now() + timeoutMs;
    for (;;) {
      if (this.child!.exitCode !== null) throw new CommandFailure(`the daemon exited: ${this.output.trim().split('\n').pop()}`);
      const status = (await getJson(this.port, '/api/status').catch(() => null)) as { journal: { lastSeq: number } } | null;
      if (status && status.journal.lastSeq >= 1) return performance.now() - this.spawnedAt;
      if (performance.now() > until) throw new CommandFailure('no reading journaled within 30 s');
      await sleep(5);
    }
  }

  async untilUp(): Promise<void> {
    const until = Date.now() + 30_000;
    while (!(await getJson(this.port, '/healthz').catch(() => null))) {
      if (this.child!.exitCode !== null || Date.now() > until) throw new CommandFailure(`the daemon did not come up: ${this.output.trim().split('\n').pop()}`);
      await sleep(20);
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

/** What an open status page asks of the daemon: the live feed, counted. */
function openDashboard(port: number): Promise<{ ws: WebSocket; messages: () => number }> {
  return new Promise((res, rej) => {
    let n = 0;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/live`);
    ws.on('message', () => n++);
    ws.once('open', () => res({ ws, messages: () => n }));
    ws.once('error', rej);
  });
}

async function measure(d: DaemonUnderTest, port: number, seconds: number) {
  const page = await openDashboard(port);
  await sleep(2000); // let start-up work (JIT, first commits) settle
  const seq0 = ((await getJson(port, '/api/status')) as { journal: { lastSeq: number } }).journal.lastSeq;
  const m0 = page.messages();
  const a = sample(d.pid);
  let peakRss = a.rssBytes;
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    await sleep(250);
    peakRss = Math.max(peakRss, sample(d.pid).rssBytes);
  }
  const b = sample(d.pid);
  const seq1 = ((await getJson(port, '/api/status')) as { journal: { lastSeq: number } }).journal.lastSeq;
  const wall = (b.at - a.at) / 1000;
  page.ws.close();
  return {
    seconds: Math.round(wall * 10) / 10,
    readingsPerSecond: Math.round(((seq1 - seq0) / wall) * 10) / 10,
    rssMiB: Math.round((b.rssBytes / 1048576) * 10) / 10,
    peakRssMiB: Math.round((peakRss / 1048576) * 10) / 10,
    cpuPercent: Math.round(((b.cpuTicks - a.cpuTicks) / CLOCK_TICKS / wall) * 1000) / 10,
    liveMessagesPerSecond: Math.round(((page.messages() - m0) / wall) * 10) / 10,
  };
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { seconds: { type: 'string' }, json: { type: 'boolean' } });
  const seconds = positiveInt(values.seconds, 'seconds', 10);
  if (process.platform !== 'linux') throw new CommandFailure('bench daemon reads /proc and runs on Linux only');
  const say = (s: string) => {
    if (!values.json) process.stderr.write(s + '\n');
  };
  const dir = await mkdtemp(join(tmpdir(), 'fieldproof-bench-daemon-'));
  const running: DaemonUnderTest[] = [];
  // the bench's own compile cache: empty for the first start, whatever ran on this machine before
  const cache = join(dir, 'compile-cache');
  const coldStart = async (name: string): Promise<number> => {
    const d = new DaemonUnderTest(await mkdtemp(join(dir, name)), await freePort(), [{ kind: 'simulated', id: 'sim', sensors: 1, intervalMs: 10 }], cache);
    running.push(d);
    await d.start();
    const ms = Math.round(await d.untilFirstReading());
    await d.stop();
    return ms;
  };
  try {
    say('cold start, nothing compiled yet ...');
    const firstStartMs = await coldStart('first-');
    say('cold start, compile cache kept ...');
    const coldStartMs = await coldStart('cold-');

    say(`idle, dashboard open, ${seconds} s ...`);
    let port = await freePort();
    const idleDir = await mkdtemp(join(dir, 'idle-'));
    const idle = new DaemonUnderTest(idleDir, port, [], cache);
    running.push(idle);
    await idle.start();
    await idle.untilUp();
    const idleFigures = await measure(idle, port, seconds);
    await idle.stop();

    say(`100 readings/s, dashboard open, ${seconds} s ...`);
    port = await freePort();
    const loadDir = await mkdtemp(join(dir, 'load-'));
    const load = new DaemonUnderTest(loadDir, port, [{ kind: 'simulated', id: 'sim', sensors: 10, intervalMs: 100 }], cache);
    running.push(load);
    await load.start();
    await load.untilFirstReading();
    const loadFigures = await measure(load, port, seconds);
    await load.stop();

    const result = {
      bench: 'daemon',
      node: process.version,
      firstStartToFirstReadingMs: firstStartMs,
      coldStartToFirstReadingMs: coldStartMs,
      idle: idleFigures,
      at100PerSecond: loadFigures,
      dashboard: 'live feed connected over WebSocket, as an open page',
    };
    if (values.json) printJson(result);
    else process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return 0;
  } finally {
    for (const d of running) await d.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

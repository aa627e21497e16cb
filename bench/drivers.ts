// `fieldproof bench drivers`: polls per second and CPU of the real drivers against simulated devices
// on real wires: ION7550 meters over Modbus TCP, then MH-Z19 sensors on socat pty pairs. The devices
// run in a child process, so the CPU figures are the drivers' own (the simulators' are reported apart).
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseFlags, positiveInt, printJson } from '../kernel/command.ts';
import { silentLogger } from '../kernel/log.ts';
import { Registry } from '../kernel/metrics.ts';
import type { SimulatorReply, SimulatorRequest } from './drivers-simulators.ts';
import { ion7550DriverSchema } from '../drivers/ion7550/config.ts';
import { Ion7550Driver } from '../drivers/ion7550/ion7550.ts';
import { mhz19DriverSchema } from '../drivers/mhz19/config.ts';
import { Mhz19Driver } from '../drivers/mhz19/mhz19.ts';
import type { Driver, DriverContext } from '../kernel/source.ts';

export const help = `usage: fieldproof bench drivers [--meters N] [--sensors N] [--interval-ms N] [--duration-ms N] [--json]

Runs N ION7550 drivers (default 50) against simulated meters over Modbus TCP, then N MH-Z19
drivers (default 8) against simulated sensors on socat pty pairs, all polling every --interval-ms
(default 1000) for --duration-ms (default 10000) after a warm-up of two intervals. Prints polls per
second, readings per second, failed polls, mean poll time, the drivers' CPU (percent of one core),
event-loop utilisation and delay, and the simulators' CPU. Progress goes to stderr.`;

interface PhaseResult {
  devices: number;
  intervalMs: number;
  durationMs: number;
  polls: number;
  pollsPerSecond: number;
  expectedPollsPerSecond: number;
  readingsPerSecond: number;
  failedPolls: number;
  meanPollMs: number;
  cpuPercent: number;
  cpuMsPerPoll: number;
  eventLoopUtilization: number;
  eventLoopDelayP99Ms: number;
  heapUsedMb: number;
  rssMb: number;
  simulatorCpuPercent: number;
}

function request(child: ChildProcess, msg: SimulatorRequest): Promise<SimulatorReply> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`simulator process exited with code ${code}`));
    child.once('exit', onExit);
    child.once('message', (reply: SimulatorReply) => {
      child.off('exit', onExit);
      resolve(reply);
    });
    child.send(msg);
  });
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

async function phase(kind: 'ion7550' | 'mhz19', devices: number, intervalMs: number, durationMs: number): Promise<PhaseResult> {
  const child = fork(fileURLToPath(new URL('./drivers-simulators.ts', import.meta.url)), [], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  try {
    const ready = await request(child, { start: { meters: kind === 'ion7550' ? devices : 0, sensors: kind === 'mhz19' ? devices : 0 } });
    if (!('ready' in ready)) throw new Error('simulator process did not start');

    // Polls are counted by their start time within a window of whole intervals, so that every
    // driver contributes exactly one poll per interval when it keeps up.
    let readings = 0;
    let polls = 0;
    let failed = 0;
    let windowFrom = Infinity;
    let windowTo = Infinity;
    const pollMetric = kind === 'ion7550' ? 'power_kw' : 'co2_ppm';
    const metrics = new Registry();
    const ctx: DriverContext = {
      emit(r) {
        if (r.ts < windowFrom || r.ts >= windowTo) return;
        readings++;
        if (r.metric === pollMetric) {
          polls++;
          if (r.value === null) failed++;
        }
      },
      log: silentLogger(),
      metrics,
    };
    const timing = { intervalMs, timeoutMs: Math.min(1000, intervalMs), retries: 2, retryBackoffMs: 50 };
    const drivers: Driver[] =
      kind === 'ion7550'
        ? ready.ready.tcpPorts.map((port, i) => new Ion7550Driver(ion7550DriverSchema.parse({ kind: 'ion7550', id: `meter-${i + 1}`, tcp: { host: '127.0.0.1', port }, unit: 100, ...timing }), ctx))
        : ready.ready.serialPaths.map((port, i) => new Mhz19Driver(mhz19DriverSchema.parse({ kind: 'mhz19', id: `co2-${i + 1}`, port, warmupMs: 0, ...timing }), ctx));
    // started spread over one interval, as a daemon's drivers drift apart: polls do not all land in
    // the same millisecond, and none sits on the edge of the counting window
    for (const d of drivers) {
      await d.start();
      await new Promise((r) => setTimeout(r, intervalMs / drivers.length));
    }

    // warm-up: connections made, JIT warm
    await new Promise((r) => setTimeout(r, 2 * intervalMs));
    const windowMs = Math.ceil(durationMs / intervalMs) * intervalMs;
    windowFrom = Date.now();
    windowTo = windowFrom + windowMs;
    const start = { cpu: process.cpuUsage(), elu: performance.eventLoopUtilization(), at: performance.now() };
    const hist = (await metrics.getSingleMetric('fieldproof_driver_poll_seconds')?.get())?.values ?? [];
    const sumBefore = hist.filter((v) => (v as { metricName?: string }).metricName?.endsWith('_sum')).reduce((s, v) => s + v.value, 0);
    const countBefore = hist.filter((v) => (v as { metricName?: string }).metricName?.endsWith('_count')).reduce((s, v) => s + v.value, 0);
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const cpuChildBefore = Date.now();
    let lastReport = 0;
    while (performance.now() - start.at < windowMs) {
      await new Promise((r) => setTimeout(r, 250));
      const s = Math.floor((performance.now() - start.at) / 1000);
      if (s !== lastReport) {
        lastReport = s;
        process.stderr.write(`\rbench drivers: ${kind} x${devices}: ${s}/${Math.round(windowMs / 1000)} s, ${polls} polls`);
      }
    }
    const wallMs = performance.now() - start.at;
    const cpu = process.cpuUsage(start.cpu);
    const elu = performance.eventLoopUtilization(start.elu);
    delay.disable();
    // the window's last polls may still be in flight
    await new Promise((r) => setTimeout(r, Math.min(1000, intervalMs)));
    const n = polls;
    const after = (await metrics.getSingleMetric('fieldproof_driver_poll_seconds')?.get())?.values ?? [];
    const sum = after.filter((v) => (v as { metricName?: string }).metricName?.endsWith('_sum')).reduce((s, v) => s + v.value, 0) - sumBefore;
    const count = after.filter((v) => (v as { metricName?: string }).metricName?.endsWith('_count')).reduce((s, v) => s + v.value, 0) - countBefore;
    const mem = process.memoryUsage();
    await Promise.all(drivers.map((d) => d.stop()));
    const stopped = await request(child, { stop: true });
    process.stderr.write('\n');
    const sim = 'stopped' in stopped ? stopped.stopped : { cpuUserMs: 0, cpuSystemMs: 0, wallMs: Date.now() - cpuChildBefore };
    const cpuMs = (cpu.user + cpu.system) / 1000;
    return {
      devices,
      intervalMs,
      durationMs: Math.round(wallMs),
      polls: n,
      pollsPerSecond: round(n / (windowMs / 1000)),
      expectedPollsPerSecond: round((devices * 1000) / intervalMs),
      readingsPerSecond: round(readings / (windowMs / 1000)),
      failedPolls: failed,
      meanPollMs: count > 0 ? round((sum / count) * 1000, 3) : 0,
      cpuPercent: round((cpuMs / wallMs) * 100),
      cpuMsPerPoll: n > 0 ? round(cpuMs / n, 4) : 0,
      eventLoopUtilization: round(elu.utilization, 4),
      eventLoopDelayP99Ms: round(delay.percentile(99) / 1e6, 2),
      heapUsedMb: round(mem.heapUsed / 1048576, 1),
      rssMb: round(mem.rss / 1048576, 1),
      simulatorCpuPercent: round(((sim.cpuUserMs + sim.cpuSystemMs) / sim.wallMs) * 100, 2),
    };
  } finally {
    if (child.exitCode === null) child.kill();
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    meters: { type: 'string' },
    sensors: { type: 'string' },
    'interval-ms': { type: 'string' },
    'duration-ms': { type: 'string' },
    json: { type: 'boolean' },
  });
  const meters = positiveInt(values.meters, 'meters', 50);
  const sensors = positiveInt(values.sensors, 'sensors', 8);
  const intervalMs = positiveInt(values['interval-ms'], 'interval-ms', 1000);
  const durationMs = positiveInt(values['duration-ms'], 'duration-ms', 10_000);
  const ion7550 = await phase('ion7550', meters, intervalMs, durationMs);
  const mhz19 = await phase('mhz19', sensors, intervalMs, durationMs);
  const result = { bench: 'drivers', node: process.version, cpus: (await import('node:os')).cpus().length, ion7550: { transport: 'modbus-tcp', ...ion7550 }, mhz19: { transport: 'pty', ...mhz19 } };
  if (values.json) printJson(result);
  else {
    for (const [name, r] of [['ION7550 over Modbus TCP', ion7550], ['MH-Z19 on pty pairs', mhz19]] as const) {
      process.stdout.write(
        `${name}: ${r.devices} devices at ${r.intervalMs} ms: ${r.pollsPerSecond} polls/s (of ${r.expectedPollsPerSecond}), ${r.readingsPerSecond} readings/s, ` +
          `${r.failedPolls} failed, mean poll ${r.meanPollMs} ms, CPU ${r.cpuPercent} % of a core (${r.cpuMsPerPoll} ms/poll), simulators ${r.simulatorCpuPercent} %\n`,
      );
    }
  }
  return 0;
}

// `fieldproof demo`: the whole system on one machine, for a first look. Every device is simulated,
// but every wire is real: the MH-Z19 answers on a socat pty pair, the ION7550 over Modbus TCP, the
// LoRa node through the Semtech UDP gateway, and the device syncs to an embedded sink over HTTP.
// Anchoring is off (there is no chain here). The dashboard URL is the first thing printed.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino, type Logger } from 'pino';
import { Sink } from '../../../cloud-sink/sink.ts';
import { sinkConfig } from '../../../cloud-sink/config.ts';
import { driverSchema } from '../../../drivers/config.ts';
import { Mhz19Simulator } from '../../../drivers/mhz19/simulator.ts';
import { PtyPair } from '../../../drivers/serial/pty-pair.ts';
import type { JournalRecord } from '../../../protocol/records.ts';
import { deviceConfigSchema, resolveDeviceConfig, type DeviceConfigInput } from '../../config/device-config.ts';
import { Daemon } from '../../daemon.ts';
import { loadOrCreateKey } from '../../device-key.ts';
import { CommandFailure, parseFlags, positiveInt, UsageError, type Command } from '../command.ts';

const DEVICE = 'demo-gw1';

/** A simulated peer the demo runs beside the daemon, and what it adds to the device config. */
interface DemoPeer {
  /** what the progress lines call it */
  label: string;
  /** the series whose newest value the progress lines show */
  sensor: string;
  metric: string;
  start(): Promise<void>;
  /** adds this peer's driver (or section) to the device config; called after start() */
  configure(config: DeviceConfigInput): void;
  stop(): Promise<void>;
}

function driverKindAvailable(kind: string): boolean {
  const r = driverSchema.safeParse({ kind });
  return r.success || !r.error.issues.some((i) => i.code === 'invalid_union' && i.path[0] === 'kind');
}

/** An MH-Z19B on the far end of a pty pair; the room's CO2 rises and falls over ten minutes. */
class Mhz19Peer implements DemoPeer {
  readonly label = 'MH-Z19 (serial pty)';
  readonly sensor = 'co2-room';
  readonly metric = 'co2_ppm';
  private pty: PtyPair | null = null;
  private sim: Mhz19Simulator | null = null;

  async start(): Promise<void> {
    this.pty = await PtyPair.open();
    const t0 = Date.now();
    this.sim = new Mhz19Simulator({ path: this.pty.peerPath, co2Ppm: (now) => 650 + 250 * Math.sin(((now - t0) / 600_000) * 2 * Math.PI) + 15 * Math.sin(now / 7000), warmupMs: 0 });
    await this.sim.start();
  }

  configure(config: DeviceConfigInput): void {
    config.drivers!.push({ kind: 'mhz19', id: this.sensor, port: this.pty!.devicePath, intervalMs: 2000, warmupMs: 0 } as never);
  }

  async stop(): Promise<void> {
    await this.sim?.stop();
    await this.pty?.dispose();
  }
}

/** Sensors that exist only in software, always there: the pipeline runs even before any peer. */
class SimulatedPeer implements DemoPeer {
  readonly label = 'simulated PV strings';
  readonly sensor = 'pv-1';
  readonly metric = 'power_kw';
  async start(): Promise<void> {}
  configure(config: DeviceConfigInput): void {
    config.drivers!.push({ kind: 'simulated', id: 'pv', sensors: 4, intervalMs: 1000, signal: 'power', faults: [{ kind: 'spike', rate: 0.002, magnitude: 80 }] });
  }
  async stop(): Promise<void> {}
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolvePort(port));
    });
  });
}

function fileLogger(file: string): Logger {
  // The daemon's pino JSON goes to a file: the terminal is for the progress lines.
  return pino({ name: 'fieldproof', level: process.env.FIELDPROOF_LOG_LEVEL ?? 'info' }, pino.destination({ dest: file, mkdir: true, sync: false }));
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

export const command: Command = {
  summary: 'everything on one machine with simulated devices',
  help: `usage: fieldproof demo [--port N] [--dir DIR] [--seconds N]

Runs a device with simulated sensors on real wires and opens its status page:
  - an MH-Z19 CO2 sensor answering on a socat pty pair (needs socat)
  - simulated PV power sensors
  - an embedded sink the device syncs to (LevelDB, anchoring off)
The first line printed is the dashboard URL (http://127.0.0.1:PORT/). Progress lines follow
every few seconds. Ctrl-C (or SIGTERM) stops everything cleanly: the sources stop, queued
readings are committed and the last batch is sealed.

  --port N      dashboard port (default: a free one)
  --dir DIR     keep the device's data here (default: a temp folder, removed on exit)
  --seconds N   stop by itself after N seconds`,
  async run(argv) {
    const { values } = parseFlags(argv, { port: { type: 'string' }, dir: { type: 'string' }, seconds: { type: 'string' } });
    const port = values.port === undefined ? await freePort() : Number(values.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--port must be a port number (1-65535), got ${JSON.stringify(values.port)}`);
    const seconds = values.seconds === undefined ? null : positiveInt(values.seconds, 'seconds', 1);
    const out = (line: string) => process.stdout.write(line + '\n');

    out(`fieldproof demo: dashboard at http://127.0.0.1:${port}/`);

    const ownDir = values.dir === undefined;
    const work = ownDir ? await mkdtemp(join(tmpdir(), 'fieldproof-demo-')) : resolve(values.dir!);
    await mkdir(work, { recursive: true });
    const dataDir = join(work, 'device');
    const logFile = join(work, 'device.log');
    out(`data in ${work}${ownDir ? ' (removed on exit)' : ''}; daemon log in ${logFile}`);

    const peers: DemoPeer[] = [new SimulatedPeer()];
    if (driverKindAvailable('mhz19')) peers.push(new Mhz19Peer());
    else out('MH-Z19: this build has no mhz19 driver; skipped');

    const started: DemoPeer[] = [];
    let sink: Sink | null = null;
    let daemon: Daemon | null = null;
    let progress: NodeJS.Timeout | null = null;
    let stopping: Promise<void> | null = null;
    const log = fileLogger(logFile);

    const stopAll = async (): Promise<void> => {
      if (progress) clearInterval(progress);
      out('stopping: sources, then the journal (queued readings are committed, the last batch sealed) ...');
      if (daemon) await daemon.stop();
      if (sink) await sink.stop();
      for (const p of started.reverse()) await p.stop().catch((err) => out(`  ${p.label}: stop failed: ${(err as Error).message}`));
      const s = daemon?.stats();
      if (s) out(`stopped: ${fmt(s.lastSeq)} records journaled in ${fmt(s.lastBatch)} signed batches, ${fmt(s.ackedBatch)} batches held by the sink, ${fmt(s.unsentRecords)} records not yet synced`);
      log.flush();
      if (ownDir) await rm(work, { recursive: true, force: true });
    };

    try {
      const { key } = loadOrCreateKey(dataDir);
      // The sink the device syncs to, on this machine, with the device's key registered; no anchoring.
      sink = new Sink(sinkConfig({ listen: '127.0.0.1:0', dataDir: join(work, 'sink'), devices: [{ id: DEVICE, key: key.public }], anchor: { mode: 'none' } }), { log: log.child({ part: 'sink' }) });
      await sink.start();
      for (const p of peers) {
        await p.start();
        started.push(p);
      }
      const config: DeviceConfigInput = {
        device: DEVICE,
        dataDir,
        drivers: [],
        batch: { maxRecords: 200, maxAgeMs: 5000 },
        http: { listen: `127.0.0.1:${port}`, liveIntervalMs: 500 },
      };
      config.uplink = { url: sink.url };
      for (const p of peers) p.configure(config);
      const parsed = deviceConfigSchema.safeParse(config);
      if (!parsed.success) throw new CommandFailure(`demo config refused: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`);
      daemon = new Daemon(resolveDeviceConfig(parsed.data, work), log, { progressMs: 10_000 });
      await daemon.start();

      out(`device ${DEVICE}, key ${key.public}`);
      out(`sink at ${sink.url} (LevelDB in ${join(work, 'sink')}, anchoring off)`);
      out(`running: ${peers.map((p) => p.label).join(', ')}; Ctrl-C stops`);

      const latest = new Map<string, { value: number | null; unit: string }>();
      daemon.context.onCommitted((records: readonly JournalRecord[]) => {
        for (const r of records) if (r.kind === 'reading') latest.set(`${r.sensor}/${r.metric}`, { value: r.value, unit: r.unit });
      });
      const t0 = Date.now();
      const d = daemon;
      progress = setInterval(() => {
        const s = d.stats();
        if (!s) return;
        const shown = peers
          .map((p) => {
            const v = latest.get(`${p.sensor}/${p.metric}`);
            return `${p.sensor} ${v ? (v.value === null ? 'no value' : `${Math.round(v.value * 10) / 10} ${v.unit}`) : '…'}`;
          })
          .join(' · ');
        out(`[${String(Math.round((Date.now() - t0) / 1000)).padStart(4)} s] journaled ${fmt(s.lastSeq)} · batches ${fmt(s.lastBatch)} · synced ${fmt(s.ackedBatch)} · unsent ${fmt(s.unsentRecords)} | ${shown}`);
      }, 2000);
    } catch (err) {
      stopping = stopAll();
      await stopping;
      throw err;
    }

    return new Promise<number>((resolveRun) => {
      const stop = (why: string) => {
        if (stopping) {
          // A second Ctrl-C: the user does not want to wait for the clean stop.
          if (why === 'SIGINT') process.exit(130);
          return;
        }
        out(`${why}: stopping`);
        stopping = stopAll().then(
          () => resolveRun(0),
          (err) => {
            out(`stop failed: ${(err as Error).message}`);
            resolveRun(1);
          },
        );
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
      if (seconds !== null) setTimeout(() => stop(`${seconds} s elapsed`), seconds * 1000);
    });
  },
};

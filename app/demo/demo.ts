// `fieldproof demo`: the whole system on one machine, for a first look. Every device is simulated,
// but every wire is real: the MH-Z19 answers on a socat pty pair, the ION7550 over Modbus TCP, the
// LoRa node through the Semtech UDP gateway, and the device syncs to an embedded sink over HTTP.
// Anchoring is off (there is no chain here). The dashboard URL is the first thing printed.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { request } from 'undici';
import { Sink } from '../../cloud-sink/sink.ts';
import { sinkConfig } from '../../cloud-sink/config.ts';
import { verifyRecordProof, type RecordProof } from '../../protocol/proof.ts';
import type { JournalRecord } from '../../protocol/records.ts';
import { deviceConfigSchema, resolveDeviceConfig, type DeviceConfigInput } from '../config/device-config.ts';
import { Daemon } from '../daemon.ts';
import { loadOrCreateKey } from '../../runtime/device-key.ts';
import { CommandFailure, parseFlags, positiveInt, UsageError, type Command } from '../../kernel/command.ts';
import { createLogger, type Logger } from '../../kernel/log.ts';
import { Ion7550Peer, LoraPeer, Mhz19Peer, SimulatedPeer, type DemoPeer } from './demo-peers.ts';
import { SPARKPLUG_ENV, sparkplugTarget, type SparkplugTarget } from './demo-broker.ts';
import { freeTcpPort as freePort } from '../../kernel/net.ts';

const DEVICE = 'demo-gw1';
/** how long the stop waits for the last batch to reach the sink before it takes a proof */
const FINAL_SYNC_MS = 5000;


function fileLogger(file: string): Logger {
  // The daemon's pino JSON goes to a file: the terminal is for the progress lines.
  return createLogger('fieldproof', process.env.FIELDPROOF_LOG_LEVEL ?? 'info', pino.destination({ dest: file, mkdir: true, sync: false }));
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

function shownValue(v: { value: number | null; unit: string } | undefined): string {
  if (!v) return '…';
  return v.value === null ? 'no value' : `${Math.round(v.value * 10) / 10} ${v.unit}`;
}

/** The newest seqs of one series, so that the stop can pick a record the sink already holds. */
const RECENT_SEQS = 64;

async function getJson(url: string): Promise<{ status: number; body: unknown; text: string }> {
  const res = await request(url, { headersTimeout: 5000, bodyTimeout: 5000 });
  const text = await res.body.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // left null: the caller reports the status
  }
  return { status: res.statusCode, body, text };
}

/** Seal what is journaled and wait (bounded) until the sink acknowledged it, so the proof is of a fresh reading. */
async function syncTail(daemon: Daemon, timeoutMs: number): Promise<boolean> {
  const sealed = await daemon.context.journal.sealNow();
  const target = sealed?.batch ?? daemon.stats()!.lastBatch;
  const until = Date.now() + timeoutMs;
  while (daemon.stats()!.ackedBatch < target) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/**
 * Ask the sink for the proof of one reading it holds (the newest one of the first peer that has
 * one, else the newest record of all), check it as `fieldproof verify` does, and write it to `file`
 * exactly as the sink sent it. Returns what the proof is of.
 */
async function saveProof(sinkUrl: string, preferred: number[][], file: string): Promise<string> {
  const head = await getJson(`${sinkUrl}/v1/devices/${DEVICE}/head`);
  const last = (head.body as { last?: number } | null)?.last ?? 0;
  if (head.status !== 200 || last < 1) throw new Error(`the sink holds no record of ${DEVICE} yet (HTTP ${head.status})`);
  let seq = last;
  for (const seqs of preferred) {
    const held = seqs.filter((s) => s <= last);
    if (held.length > 0) {
      seq = held[held.length - 1]!;
      break;
    }
  }
  const res = await getJson(`${sinkUrl}/v1/proofs/${DEVICE}/${seq}`);
  if (res.status !== 200) throw new Error(`GET /v1/proofs/${DEVICE}/${seq}: HTTP ${res.status} ${(res.body as { error?: string } | null)?.error ?? res.text.slice(0, 200)}`);
  const check = verifyRecordProof(res.body);
  if (!check.ok) throw new Error(`the sink's proof of seq ${seq} does not hold: ${check.steps.filter((s) => !s.ok).map((s) => `${s.step}: ${s.detail}`).join('; ')}`);
  await writeFile(file, res.text.endsWith('\n') ? res.text : res.text + '\n');
  const p = res.body as RecordProof;
  const r = p.record;
  const what = r.kind === 'reading' ? `${r.sensor} ${r.metric} = ${r.value === null ? 'no value' : `${r.value} ${r.unit}`}` : `a ${r.kind} record`;
  return `record ${seq} (${what}) in signed batch ${p.header.batch}, ${p.path.length} hashes to its root, not anchored (anchoring is off)`;
}

export const command: Command = {
  summary: 'everything on one machine with simulated devices',
  help: `usage: fieldproof demo [--port N] [--dir DIR] [--seconds N] [--sparkplug MQTT-URL|off]

Runs a device with simulated devices on real wires and opens its status page:
  - an MH-Z19 CO2 sensor answering on a socat pty pair (needs socat)
  - an ION7550 power meter answering Modbus TCP on a local port
  - a LoRaWAN node (OTAA, Cayenne LPP) heard through the Semtech UDP gateway on a local port
  - simulated PV power sensors
  - an embedded sink the device syncs to (LevelDB, anchoring off), with its pages: the fleet,
    the device, and a proof page that checks a proof in the browser
The first line printed is the dashboard URL (http://127.0.0.1:PORT/); the sink's pages follow.
Progress lines follow every few seconds. Ctrl-C (or SIGTERM) stops everything cleanly: the last
readings are sealed and synced, the sink's proof of one of them is written to DIR/proof.json
(with the command that checks it), then the sources stop, queued readings are committed and the
last batch is sealed.

  --port N      dashboard port (default: a free one)
  --dir DIR     keep the device's and the sink's data here (default: a temp folder, removed on
                exit except for proof.json)
  --seconds N   stop by itself after N seconds
  --sparkplug MQTT-URL | off
                publish the readings as Sparkplug B to this broker (group fieldproof-demo, edge
                node ${DEVICE}), for a SCADA system or historian to read (also ${SPARKPLUG_ENV}).
                Without one, the demo starts its own mosquitto on a free loopback port when
                mosquitto is installed, and says where on start; \`off\`: no Sparkplug`,
  async run(argv) {
    const { values } = parseFlags(argv, { port: { type: 'string' }, dir: { type: 'string' }, seconds: { type: 'string' }, sparkplug: { type: 'string' } });
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
    const proofFile = join(work, 'proof.json');
    out(`data in ${work}${ownDir ? ' (removed on exit, except for proof.json)' : ''}; daemon log in ${logFile}`);

    // In the order the stop prefers a record to prove: the meter's reading is the one an MRV report rests on.
    const peers: DemoPeer[] = [new Ion7550Peer(), new LoraPeer(), new Mhz19Peer(), new SimulatedPeer()];
    const started: DemoPeer[] = [];
    let sink: Sink | null = null;
    let sparkplug: SparkplugTarget | null = null;
    let daemon: Daemon | null = null;
    let running = false;
    let progress: NodeJS.Timeout | null = null;
    let stopping: Promise<void> | null = null;
    /** the device's public key: the trust root the printed verify command names */
    let deviceKey = '';
    const log = fileLogger(logFile);
    const recent = new Map<string, number[]>(peers.map((p) => [`${p.sensor}/${p.metric}`, []]));

    const stopAll = async (): Promise<void> => {
      if (progress) clearInterval(progress);
      let proved: string | null = null;
      if (running && daemon && sink) {
        out('syncing the last readings to the sink and asking it for a proof ...');
        try {
          if (!(await syncTail(daemon, FINAL_SYNC_MS))) out(`  the last batch was not acknowledged within ${FINAL_SYNC_MS / 1000} s; proving an older record`);
          proved = await saveProof(sink.url, peers.map((p) => recent.get(`${p.sensor}/${p.metric}`)!), proofFile);
        } catch (err) {
          out(`  no proof: ${(err as Error).message}`);
        }
      }
      out('stopping: sources, then the journal (queued readings are committed, the last batch sealed) ...');
      if (daemon) await daemon.stop();
      await sparkplug?.stop().catch((err) => out(`  the demo's mosquitto: stop failed: ${(err as Error).message}`));
      if (sink) await sink.stop();
      for (const p of started.reverse()) await p.stop().catch((err) => out(`  ${p.label}: stop failed: ${(err as Error).message}`));
      const s = daemon?.stats();
      if (s) out(`stopped: ${fmt(s.lastSeq)} records journaled in ${fmt(s.lastBatch)} signed batches, ${fmt(s.ackedBatch)} batches held by the sink, ${fmt(s.unsentRecords)} records not yet synced`);
      log.flush();
      if (ownDir) {
        // Everything goes but the proof: it is small, and the command below is there to be run.
        for (const entry of await readdir(work)) if (!(proved && entry === 'proof.json')) await rm(join(work, entry), { recursive: true, force: true });
        if (!proved) await rm(work, { recursive: true, force: true });
      }
      if (proved) {
        out(`proof of ${proved} written to ${proofFile}`);
        // The key comes from the device's own data dir here; an auditor gets it from the device's owner.
        out(`check it with: npx fieldproof verify ${proofFile} --device-key ${deviceKey}`);
      }
    };

    try {
      const { key } = loadOrCreateKey(dataDir);
      deviceKey = key.public;
      // The sink the device syncs to, on this machine, with the device's key registered; no anchoring.
      sink = new Sink(sinkConfig({ listen: '127.0.0.1:0', dataDir: join(work, 'sink'), devices: [{ id: DEVICE, key: key.public }], anchor: { mode: 'none' } }), { log: log.child({ part: 'sink' }) });
      await sink.start();
      out(`sink pages at ${sink.pagesUrl}: the fleet, ${DEVICE} at ${sink.url}/devices/${DEVICE}, a proof checked in the browser at ${sink.url}/proof`);
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
        // the page's alert history; alerts go nowhere else in the demo
        alerts: {},
      };
      config.uplink = { url: sink.url };
      sparkplug = await sparkplugTarget(values.sparkplug, 'fieldproof-demo', DEVICE);
      if (sparkplug.url) config.sparkplug = { url: sparkplug.url, group: 'fieldproof-demo' };
      for (const p of peers) p.configure(config);
      const parsed = deviceConfigSchema.safeParse(config);
      if (!parsed.success) throw new CommandFailure(`demo config refused: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`);
      daemon = new Daemon(resolveDeviceConfig(parsed.data, work), log, { progressMs: 10_000 });

      const latest = new Map<string, { value: number | null; unit: string }>();
      await daemon.start();
      daemon.context.onCommitted((records: readonly JournalRecord[]) => {
        for (const r of records) {
          if (r.kind !== 'reading') continue;
          const series = `${r.sensor}/${r.metric}`;
          latest.set(series, { value: r.value, unit: r.unit });
          const seqs = recent.get(series);
          if (seqs) {
            seqs.push(r.seq);
            if (seqs.length > RECENT_SEQS) seqs.shift();
          }
        }
      });
      for (const p of peers) await p.connect?.(daemon.context);
      running = true;

      const gateway = daemon.board.get('gateway') as { address: string; port: number };
      out(`device ${DEVICE}, key ${key.public}`);
      out(`sink at ${sink.url} (LevelDB in ${join(work, 'sink')}, anchoring off); LoRaWAN gateway on udp://${gateway.address}:${gateway.port}`);
      out(sparkplug.note);
      out(`running: ${peers.map((p) => p.label).join(', ')}; Ctrl-C stops`);

      const t0 = Date.now();
      const d = daemon;
      progress = setInterval(() => {
        const s = d.stats();
        if (!s) return;
        const shown = peers.map((p) => `${p.sensor} ${shownValue(latest.get(`${p.sensor}/${p.metric}`))}`).join(' · ');
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

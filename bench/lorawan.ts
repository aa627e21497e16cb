// `fieldproof bench lorawan`: LoRaWAN uplinks from UDP datagram to journaled record, through the
// real listener, network server, codec, pipeline and journal, with the packet forwarder on its own
// thread (a worker) so that it does not share the event loop it is measuring.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { ReadingInput } from '../protocol/records.ts';
import { generateKey } from '../protocol/signature.ts';
import { parseFlags, positiveInt, printJson, UsageError } from '../kernel/command.ts';
import { percentile } from '../kernel/percentile.ts';
import { Journal } from '../runtime/journal/journal.ts';
import { silentLogger } from '../kernel/log.ts';
import { Registry } from '../kernel/metrics.ts';
import { Pipeline } from '../runtime/pipeline.ts';
import { CayenneLppCodec } from '../gateway/codecs/cayenne-lpp.ts';
import { GatewayComponent } from '../gateway/component.ts';
import { gatewaySchema } from '../gateway/config.ts';
import { sessionCrypto, UP } from '../gateway/lorawan/crypto.ts';
import { buildDataFrame } from '../gateway/lorawan/frame.ts';
import { encodeGatewayDatagram, PUSH_DATA } from '../gateway/semtech/packets.ts';
import { rxpkFor } from '../gateway/simulator.ts';

export const help = `usage: fieldproof bench lorawan [--uplinks N] [--devices D] [--window W] [--ack-rate R] [--ack-seconds S] [--socket-nice=N] [--emit-only] [--json]

Sends LoRaWAN uplinks from D ABP devices (default 1000), one per PUSH_DATA datagram, from a packet
forwarder on a worker thread to the gateway listener on 127.0.0.1. Each frame is a real LoRaWAN 1.0
frame (MIC, encrypted Cayenne LPP temperature) that the gateway checks, decrypts, decodes and
journals through the pipeline into a fresh journal (synced group commits, sealed, signed batches).

First N uplinks (default 200000) as fast as acks come back, at most W awaiting theirs (default 256):
uplinks_per_s is first datagram sent to last record durable in the journal (p50/p99_ack_ms_flood
are the acks under that flood, mostly queueing). Then R uplinks/s (default 2000) for S seconds
(default 10, so that the p99 rests on 20,000 acks): p50/p99/max_ack_ms, datagram sent to its PUSH_ACK received. cpu_us_per_uplink is the
CPU of the whole process (sender thread and LevelDB's threads included); main_thread_busy_us_per_uplink
is the gateway thread's busy time, the figure that bounds throughput on a machine shared with other work.
The gateway refuses (leaves unacknowledged) PUSH_DATA while its decode queue is full: under the
flood on a busy machine some are, and refused_overload counts them; lost_datagrams counts the
others that got no ack within a second. socket_thread_nice is the priority the socket thread got:
null by default (the daemon's priority, as under the snap), or --socket-nice=N (with the =, for a
negative N) where it was allowed.
--emit-only measures to the pipeline boundary instead of the journal.`;

/**
 * The forwarder: plain JavaScript, run as a worker from source so that it needs no loader. Each run
 * sends datagrams [start, end) either as fast as acks come back (at most `window` awaiting theirs)
 * or at a steady `rate` per second, and reports every ack's round trip.
 */
const SENDER = `
const { parentPort, workerData } = require('node:worker_threads');
const dgram = require('node:dgram');
const { data, offsets, port } = workerData;
const socket = dgram.createSocket('udp4');
const slot = new Int32Array(65536).fill(-1);
let run = null;
function send(i) {
  slot[i & 0xffff] = i;
  run.sentAt[i - run.start] = performance.now();
  run.inflight++;
  socket.send(data.subarray(offsets[i], offsets[i + 1]));
}
function pump() {
  if (!run) return;
  if (run.rate) {
    const due = run.start + Math.min(run.end - run.start, Math.floor(((performance.now() - run.t0) / 1000) * run.rate));
    while (run.next < due) send(run.next++);
    // A timer, not setImmediate: spinning would take a whole core from the gateway being measured.
    if (run.next < run.end) setTimeout(pump, 1);
  } else {
    while (run.inflight < run.window && run.next < run.end) send(run.next++);
  }
}
socket.on('message', (m) => {
  if (!run || m.length !== 4 || m[3] !== 1) return;
  const i = slot[m.readUInt16BE(1)];
  if (i < run.start || i >= run.end || run.state[i - run.start]) return;
  run.state[i - run.start] = 1;
  run.ackMs[i - run.start] = performance.now() - run.sentAt[i - run.start];
  run.inflight--;
  run.done++;
  if (run.done + run.lost === run.end - run.start) finish(); else if (!run.rate) pump();
});
// A datagram the kernel dropped never gets its ack: after a second it is counted lost and its slot freed.
setInterval(() => {
  if (!run) return;
  const now = performance.now();
  for (let k = 0; k < run.next - run.start; k++) {
    if (!run.state[k] && now - run.sentAt[k] > 1000) { run.state[k] = 2; run.lost++; run.inflight--; }
  }
  if (run.done + run.lost === run.end - run.start) finish(); else pump();
}, 250).unref();
function finish() {
  const r = run;
  run = null;
  const ok = [];
  for (let k = 0; k < r.end - r.start; k++) if (r.state[k] === 1) ok.push(r.ackMs[k]);
  parentPort.postMessage({ acks: Float64Array.from(ok), lost: r.lost, sendSeconds: (performance.now() - r.t0) / 1000 });
}
parentPort.on('message', (m) => {
  if (m === 'close') { socket.close(); return; }
  const n = m.end - m.start;
  run = { ...m, next: m.start, inflight: 0, done: 0, lost: 0, t0: performance.now(),
    sentAt: new Float64Array(n), ackMs: new Float64Array(n), state: new Uint8Array(n) };
  pump();
});
socket.on('error', (e) => parentPort.postMessage({ error: e.message }));
socket.connect(port, '127.0.0.1', () => {
  try { socket.setRecvBufferSize(4 * 1024 * 1024); socket.setSendBufferSize(4 * 1024 * 1024); } catch {}
  parentPort.postMessage({ ready: true });
});
`;

interface SenderResult {
  acks: Float64Array;
  lost: number;
  sendSeconds: number;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** N datagrams, each a PUSH_DATA with one real frame, packed into one buffer for the worker. */
function buildDatagrams(n: number, devices: { devAddr: number; keys: ReturnType<typeof sessionCrypto> }[]): { data: Buffer; offsets: Uint32Array } {
  const parts: Buffer[] = [];
  const offsets = new Uint32Array(n + 1);
  let at = 0;
  const fcnt = new Uint32Array(devices.length);
  const payload = Buffer.from('03670000', 'hex');
  for (let i = 0; i < n; i++) {
    const d = i % devices.length;
    const dev = devices[d]!;
    payload.writeInt16BE(150 + (i % 200), 2); // 15.0 .. 34.9 degC
    const phy = buildDataFrame(UP, { devAddr: dev.devAddr, fCnt32: fcnt[d]!++, fPort: 1, payload }, dev.keys);
    const dg = encodeGatewayDatagram(PUSH_DATA, i & 0xffff, 'b827ebfffe000001', { rxpk: [rxpkFor(phy, { tmst: (i * 1000) >>> 0, time: undefined })] });
    parts.push(dg);
    offsets[i] = at;
    at += dg.length;
  }
  offsets[n] = at;
  return { data: Buffer.concat(parts), offsets };
}

/** Send datagrams [start, end) through the worker and wait for its report. */
function sendRun(worker: Worker, start: number, end: number, opts: { window?: number; rate?: number }): Promise<SenderResult> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: SenderResult & { error?: string }) => {
      worker.off('error', onError);
      if (m.error) reject(new Error(m.error));
      else resolve(m);
    };
    const onError = (err: Error) => {
      worker.off('message', onMessage);
      reject(err);
    };
    worker.once('message', onMessage);
    worker.once('error', onError);
    worker.postMessage({ start, end, window: opts.window ?? 0, rate: opts.rate ?? 0 });
  });
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    uplinks: { type: 'string' }, devices: { type: 'string' }, window: { type: 'string' }, 'ack-rate': { type: 'string' }, 'ack-seconds': { type: 'string' },
    'socket-nice': { type: 'string' }, 'emit-only': { type: 'boolean' }, json: { type: 'boolean' },
  });
  const n = positiveInt(values.uplinks, 'uplinks', 200_000);
  const deviceCount = positiveInt(values.devices, 'devices', 1000);
  const window = positiveInt(values.window, 'window', 256);
  const ackRate = positiveInt(values['ack-rate'], 'ack-rate', 2000);
  const ackSeconds = positiveInt(values['ack-seconds'], 'ack-seconds', 10);
  const paced = ackRate * ackSeconds;
  const socketNice = values['socket-nice'] === undefined ? undefined : Number(values['socket-nice']);
  if (socketNice !== undefined && !(Number.isInteger(socketNice) && socketNice >= -20 && socketNice <= 19)) throw new UsageError('--socket-nice: an integer from -20 to 19');
  const toJournal = !values['emit-only'];
  const say = (s: string) => {
    if (!values.json) process.stderr.write(s + '\n');
  };

  const dir = mkdtempSync(join(tmpdir(), 'fieldproof-bench-lorawan-'));
  const metrics = new Registry();
  const log = silentLogger();
  const devices = Array.from({ length: deviceCount }, (_, i) => {
    const devAddr = 0x01000000 + i;
    const nwkSKey = Buffer.alloc(16, (i * 7) & 0xff);
    nwkSKey.writeUInt32BE(i, 0);
    const appSKey = Buffer.alloc(16, (i * 13 + 1) & 0xff);
    appSKey.writeUInt32BE(i, 12);
    return { id: `node-${i + 1}`, devAddr, nwkSKey, appSKey, keys: sessionCrypto(nwkSKey, appSKey) };
  });
  const config = gatewaySchema.parse({
    listen: '127.0.0.1:0',
    recvBufferBytes: 16 * 1024 * 1024,
    ...(socketNice !== undefined ? { socketThreadNice: socketNice } : {}),
    devices: devices.map((d) => ({
      id: d.id, activation: 'abp', devAddr: d.devAddr.toString(16).padStart(8, '0'), nwkSKey: d.nwkSKey.toString('hex'), appSKey: d.appSKey.toString('hex'), codec: 'cayenne-lpp',
    })),
  });
  say(`building ${n + paced} frames for ${deviceCount} devices`);
  const { data, offsets } = buildDatagrams(n + paced, devices);

  let journal: Journal | null = null;
  let gateway: GatewayComponent | null = null;
  let worker: Worker | null = null;
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  try {
    let records = 0;
    let lastRecordAt = 0;
    let emit: (r: ReadingInput) => void;
    if (toJournal) {
      journal = await Journal.open({ dir, device: 'bench-gateway', key: generateKey(), log, metrics, batch: { maxRecords: 500, maxAgeMs: 1000 } });
      const pipeline = new Pipeline(journal, log, metrics, { maxQueued: Number.MAX_SAFE_INTEGER });
      journal.onCommitted((recs) => {
        records += recs.length;
        lastRecordAt = performance.now();
      });
      emit = (r) => pipeline.emit(r);
    } else {
      emit = () => {
        records++;
        lastRecordAt = performance.now();
      };
    }
    const codec = new CayenneLppCodec();
    gateway = new GatewayComponent({ config, codecs: new Map(devices.map((d) => [d.id, codec])), dataDir: dir, emit, log, metrics });
    await gateway.start();

    const w = new Worker(SENDER, { eval: true, workerData: { data, offsets, port: gateway.address().port } });
    worker = w;
    await new Promise<void>((resolve, reject) => {
      w.once('message', (m: { ready?: boolean; error?: string }) => (m.ready ? resolve() : reject(new Error(m.error))));
      w.once('error', reject);
    });

    // 1. Throughput: as fast as the acks allow, until every uplink is in the journal.
    say(`throughput: ${n} uplinks, window ${window}`);
    const progress = setInterval(() => say(`${records} of ${n} uplinks ${toJournal ? 'journaled' : 'decoded'}`), 1000);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const flood = await sendRun(w, 0, n, { window });
    const expected = n - flood.lost;
    let last = -1;
    let stillSince = performance.now();
    while (records < expected) {
      await new Promise((r) => setTimeout(r, 10));
      if (records !== last) {
        last = records;
        stillSince = performance.now();
      } else if (performance.now() - stillSince > 3000) break;
    }
    clearInterval(progress);
    const cpu = process.cpuUsage(cpu0);
    // time the gateway's thread was busy (not waiting in the event loop): listener, LoRaWAN,
    // codecs, pipeline and the journal's encoding, hashing and signing
    const busyMs = performance.eventLoopUtilization(elu0).active;
    const seconds = (lastRecordAt - t0) / 1000;
    const floodRecords = records;

    // 2. Ack latency at a steady rate, the way a site's forwarders send: datagram out to PUSH_ACK back.
    say(`ack latency: ${ackRate} uplinks/s for ${ackSeconds} s`);
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    const steady = await sendRun(w, n, n + paced, { rate: ackRate });
    loopDelay.disable();
    while (records < floodRecords + paced - steady.lost && performance.now() - lastRecordAt < 3000) await new Promise((r) => setTimeout(r, 10));

    const acks = steady.acks.sort();
    // PUSH_DATA the gateway refused unacknowledged because its decode queue was full (back-pressure
    // under the flood), as against datagrams lost on the way
    const dropped = (await metrics.getSingleMetric('fieldproof_gateway_queue_dropped_total')?.get())?.values ?? [];
    const refused = dropped.filter((v) => v.labels.type === 'push_data').reduce((a, v) => a + v.value, 0);
    const floodAcks = flood.acks.sort();
    printJson({
      bench: 'lorawan',
      uplinks: n,
      devices: deviceCount,
      to: toJournal ? 'journal' : 'emit',
      uplinks_per_s: Math.round(floodRecords / seconds),
      p99_ack_ms: round2(percentile(acks, 99)),
      p50_ack_ms: round2(percentile(acks, 50)),
      max_ack_ms: round2(acks.length ? acks[acks.length - 1]! : 0),
      ack_rate_per_s: ackRate,
      window,
      // how long the gateway's event loop was held at worst while those acks were measured: a
      // p99_ack_ms far above it points at the machine (other processes, the sender's thread), not the loop
      // the nice value the socket thread got (null: not asked for, or refused)
      socket_thread_nice: gateway.socketThread()?.nice ?? null,
      event_loop_delay_p99_ms: round2(loopDelay.percentile(99) / 1e6),
      event_loop_delay_max_ms: round2(loopDelay.max / 1e6),
      p50_ack_ms_flood: round2(percentile(floodAcks, 50)),
      p99_ack_ms_flood: round2(percentile(floodAcks, 99)),
      refused_overload: refused,
      lost_datagrams: flood.lost + steady.lost - refused,
      records,
      seconds: round2(seconds),
      cpu_us_per_uplink: round2((cpu.user + cpu.system) / Math.max(1, floodRecords)),
      main_thread_busy_us_per_uplink: round2((busyMs * 1000) / Math.max(1, floodRecords)),
      rss_mb: Math.round(peakRss / 1024 / 1024),
      cpus: cpus().length,
      node: process.version,
    });
    return records === n + paced - refused ? 0 : 1;
  } finally {
    clearInterval(sampler);
    worker?.postMessage('close');
    await worker?.terminate();
    await gateway?.stop();
    await journal?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

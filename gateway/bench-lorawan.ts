// `fieldproof bench lorawan`: LoRaWAN uplinks from UDP datagram to journaled record, through the
// real listener, network server, codec, pipeline and journal, with the packet forwarder on its own
// thread (a worker) so that it does not share the event loop it is measuring.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ReadingInput } from '../protocol/records.ts';
import { generateKey } from '../protocol/signature.ts';
import { parseFlags, positiveInt, printJson } from '../runtime/cli/command.ts';
import { Journal } from '../runtime/journal/journal.ts';
import { silentLogger } from '../runtime/log.ts';
import { Registry } from '../runtime/metrics.ts';
import { Pipeline } from '../runtime/pipeline.ts';
import { CayenneLppCodec } from './codecs/codec.ts';
import { GatewayComponent } from './component.ts';
import { gatewaySchema } from './config.ts';
import { sessionCrypto, UP } from './lorawan/crypto.ts';
import { buildDataFrame } from './lorawan/frame.ts';
import { encodeGatewayDatagram, PUSH_DATA } from './semtech/packets.ts';
import { rxpkFor } from './simulator.ts';

export const help = `usage: fieldproof bench lorawan [--uplinks N] [--devices D] [--window W] [--emit-only] [--json]

Sends N LoRaWAN uplinks (default 200000) from D ABP devices (default 1000), one per PUSH_DATA
datagram, from a packet forwarder on a worker thread to the gateway listener on 127.0.0.1, with at
most W datagrams awaiting their PUSH_ACK (default 256). Each frame is a real LoRaWAN 1.0 frame
(MIC, encrypted Cayenne LPP temperature) that the gateway checks, decrypts, decodes and journals
through the pipeline into a fresh journal (synced group commits, sealed and signed batches).

Prints uplinks_per_s (first datagram sent to last record durable in the journal), p50/p99/max_ack_ms
(datagram sent to its PUSH_ACK received, under that full load), lost datagrams and records journaled.
--emit-only measures to the pipeline boundary instead of the journal.`;

/** The forwarder: plain JavaScript, run as a worker from source so that it needs no loader. */
const SENDER = `
const { parentPort, workerData } = require('node:worker_threads');
const dgram = require('node:dgram');
const { data, offsets, port, window } = workerData;
const n = offsets.length - 1;
const sentAt = new Float64Array(n);
const ackMs = new Float64Array(n);
const acked = new Uint8Array(n);
const socket = dgram.createSocket('udp4');
let next = 0, inflight = 0, done = 0, lost = 0;
const slot = new Int32Array(65536).fill(-1);
const started = performance.now();
function pump() {
  while (inflight < window && next < n) {
    const i = next++;
    const token = i & 0xffff;
    slot[token] = i;
    sentAt[i] = performance.now();
    inflight++;
    socket.send(data.subarray(offsets[i], offsets[i + 1]));
  }
}
socket.on('message', (m) => {
  if (m.length !== 4 || m[3] !== 1) return;
  const i = slot[m.readUInt16BE(1)];
  if (i < 0 || acked[i]) return;
  acked[i] = 1;
  ackMs[i] = performance.now() - sentAt[i];
  inflight--;
  done++;
  if (done + lost === n) finish(); else pump();
});
// A datagram the kernel dropped never gets its ack: after a second it is counted lost and its slot freed.
const reaper = setInterval(() => {
  const now = performance.now();
  for (let t = 0; t < 65536; t++) {
    const i = slot[t];
    if (i >= 0 && !acked[i] && now - sentAt[i] > 1000) { acked[i] = 2; slot[t] = -1; lost++; inflight--; }
  }
  if (done + lost === n) finish(); else pump();
}, 250);
function finish() {
  clearInterval(reaper);
  socket.close();
  const ok = [];
  for (let i = 0; i < n; i++) if (acked[i] === 1) ok.push(ackMs[i]);
  parentPort.postMessage({ acks: Float64Array.from(ok), lost, sendSeconds: (performance.now() - started) / 1000 });
}
socket.on('error', (e) => parentPort.postMessage({ error: e.message }));
socket.connect(port, '127.0.0.1', () => {
  try { socket.setRecvBufferSize(4 * 1024 * 1024); socket.setSendBufferSize(4 * 1024 * 1024); } catch {}
  parentPort.postMessage({ ready: true });
  parentPort.once('message', () => pump());
});
`;

interface SenderResult {
  acks: Float64Array;
  lost: number;
  sendSeconds: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
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

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    uplinks: { type: 'string' }, devices: { type: 'string' }, window: { type: 'string' }, 'emit-only': { type: 'boolean' }, json: { type: 'boolean' },
  });
  const n = positiveInt(values.uplinks, 'uplinks', 200_000);
  const deviceCount = positiveInt(values.devices, 'devices', 1000);
  const window = positiveInt(values.window, 'window', 256);
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
    devices: devices.map((d) => ({
      id: d.id, activation: 'abp', devAddr: d.devAddr.toString(16).padStart(8, '0'), nwkSKey: d.nwkSKey.toString('hex'), appSKey: d.appSKey.toString('hex'), codec: 'cayenne-lpp',
    })),
  });
  say(`building ${n} frames for ${deviceCount} devices`);
  const { data, offsets } = buildDatagrams(n, devices);

  let journal: Journal | null = null;
  let gateway: GatewayComponent | null = null;
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

    const worker = new Worker(SENDER, { eval: true, workerData: { data, offsets, port: gateway.address().port, window } });
    await new Promise<void>((resolve, reject) => {
      worker.once('message', (m: { ready?: boolean; error?: string }) => (m.ready ? resolve() : reject(new Error(m.error))));
      worker.once('error', reject);
    });
    const progress = setInterval(() => say(`${records} of ${n} uplinks journaled`), 1000);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const result = await new Promise<SenderResult>((resolve, reject) => {
      worker.on('message', (m: SenderResult & { error?: string }) => (m.error ? reject(new Error(m.error)) : resolve(m)));
      worker.once('error', reject);
      worker.postMessage('go');
    });
    await worker.terminate();
    // Wait for the tail: every acknowledged uplink must reach the journal (or stop moving).
    const expected = n - result.lost;
    let last = -1;
    let stillSince = performance.now();
    while (records < expected) {
      await new Promise((r) => setTimeout(r, 20));
      if (records !== last) {
        last = records;
        stillSince = performance.now();
      } else if (performance.now() - stillSince > 3000) break;
    }
    clearInterval(progress);
    const cpu = process.cpuUsage(cpu0);
    const seconds = (lastRecordAt - t0) / 1000;
    const acks = result.acks.sort();
    printJson({
      bench: 'lorawan',
      uplinks: n,
      devices: deviceCount,
      window,
      to: toJournal ? 'journal' : 'emit',
      uplinks_per_s: Math.round(records / seconds),
      p50_ack_ms: round2(percentile(acks, 50)),
      p99_ack_ms: round2(percentile(acks, 99)),
      max_ack_ms: round2(acks.length ? acks[acks.length - 1]! : 0),
      lost_datagrams: result.lost,
      records,
      seconds: round2(seconds),
      cpu_us_per_uplink: round2((cpu.user + cpu.system) / Math.max(1, records)),
      rss_mb: Math.round(peakRss / 1024 / 1024),
      cpus: cpus().length,
      node: process.version,
    });
    return records === n ? 0 : 1;
  } finally {
    clearInterval(sampler);
    await gateway?.stop();
    await journal?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

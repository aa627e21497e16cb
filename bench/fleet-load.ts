// The load generator of `fieldproof bench fleet`, a process of its own so that it does not share an
// event loop (or a core's worth of time slices) with the sinks it measures. Told the devices, it
// builds their signed chains; told the sinks, it posts every device's batches, each device one
// batch at a time (the next once the previous one's receipt holds), many devices at once over
// keep-alive connections from several loopback addresses, and reports what was accepted and how
// long each batch took from its first post to a valid receipt.
import { Pool } from 'undici';
import { COLUMNAR_CONTENT_TYPE } from '../protocol/columnar/encoder.ts';
import { receiptProblem, verifyReceiptSignature, type Receipt } from '../protocol/receipt.ts';
import { buildBodies, type ChainShape, type DeviceBodies, type FleetDevice } from './fleet-bodies.ts';

export type LoadOrder =
  | { type: 'prepare'; devices: FleetDevice[]; shape: ChainShape }
  | {
    type: 'run';
    /** the sinks' URLs */
    targets: string[];
    /** device: each device always posts to one sink (i mod n); batch: a device's batches go to the sinks in turn */
    route: 'device' | 'batch';
    /** requests in flight in all */
    concurrency: number;
    /** local addresses the requests come from, spread evenly */
    addresses: string[];
    /** the receipt key every receipt must carry */
    sinkKey: string;
    /** stop taking new batches after this long */
    seconds: number;
  }
  | { type: 'exit' };

export interface LoadResult {
  seconds: number;
  batches: number;
  readings: number;
  /** time from a batch's first post to its valid receipt, ms */
  latencyMs: { p50: number; p99: number; max: number };
  /** the sum of those times, s: what the sinks' time in the store is a share of */
  latencySumS: number;
  /** answers other than an acceptance, by status and code; each was retried */
  refused: Record<string, number>;
  /** devices given up on (an answer that retrying does not mend) */
  failedDevices: number;
  cpuS: number;
}

export type LoadMessage =
  | { type: 'prepared'; devices: number; readings: number; seconds: number }
  | { type: 'progress'; readings: number; seconds: number }
  | { type: 'result'; result: LoadResult }
  | { type: 'error'; error: string };

const send = (m: LoadMessage) => process.send!(m);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! * 100) / 100;
}

let devices: DeviceBodies[] = [];
let readingsPerBatch = 0;

async function prepare(order: Extract<LoadOrder, { type: 'prepare' }>): Promise<void> {
  const t0 = performance.now();
  let last = 0;
  devices = await buildBodies(order.devices, order.shape, (n) => {
    if (performance.now() - last < 2000) return;
    last = performance.now();
    send({ type: 'progress', readings: n * order.shape.batches * order.shape.records, seconds: (performance.now() - t0) / 1000 });
  });
  readingsPerBatch = order.shape.records;
  send({ type: 'prepared', devices: devices.length, readings: devices.length * order.shape.batches * order.shape.records, seconds: (performance.now() - t0) / 1000 });
}

/** What one answer means for the batch: accepted, or try again after `retryMs`, or give the device up. */
function judge(status: number, body: Record<string, unknown>, expect: { device: string; hash: string; sinkKey: string }): { accepted: true } | { accepted: false; key: string; retryMs: number | null } {
  if (status === 200) {
    const r = body.receipt as Receipt;
    if (!receiptProblem(r) && r.sink === expect.sinkKey && r.device === expect.device && r.header === expect.hash && verifyReceiptSignature(r)) return { accepted: true };
    return { accepted: false, key: '200_without_valid_receipt', retryMs: null };
  }
  const key = `${status}_${String(body.code ?? 'unknown')}`;
  if (status === 429 || status >= 500) return { accepted: false, key, retryMs: 100 };
  // a chain race that a wait at the sink did not resolve: send it again, as the uplink does
  if (status === 409 && body.code === 'out_of_order') return { accepted: false, key, retryMs: 20 };
  return { accepted: false, key, retryMs: null };
}

async function run(order: Extract<LoadOrder, { type: 'run' }>): Promise<LoadResult> {
  const cpu0 = process.cpuUsage();
  const perAddress = Math.ceil(order.concurrency / order.addresses.length);
  // one pool per sink and source address: a sink limits each client address on its own
  const pools = order.targets.map((url) => order.addresses.map((localAddress) => new Pool(url, { connections: perAddress, pipelining: 1, localAddress })));
  const next = new Int32Array(devices.length); // the next batch index of each device
  const ready: number[] = devices.map((_, i) => i);
  let readyAt = 0;
  const latencies = new Float64Array(devices.reduce((n, d) => n + d.bodies.length, 0));
  let accepted = 0;
  let failedDevices = 0;
  const refused: Record<string, number> = {};
  let inFlight = 0;
  /** workers with no device ready, woken when a batch finishes (its device may be ready again) */
  const idle: (() => void)[] = [];
  const t0 = performance.now();
  const deadline = t0 + order.seconds * 1000;

  const progress = setInterval(() => send({ type: 'progress', readings: accepted * readingsPerBatch, seconds: (performance.now() - t0) / 1000 }), 2000);

  async function postOne(worker: number, d: number): Promise<void> {
    const dev = devices[d]!;
    const b = next[d]!;
    const target = order.route === 'device' ? d % order.targets.length : (d + b) % order.targets.length;
    const pool = pools[target]![worker % order.addresses.length]!;
    const started = performance.now();
    for (let attempt = 0; ; attempt++) {
      let status = 0;
      let body: Record<string, unknown> = {};
      try {
        const res = await pool.request({
          path: '/v1/batches', method: 'POST', body: dev.bodies[b]!,
          headers: { 'content-type': COLUMNAR_CONTENT_TYPE, 'content-encoding': 'gzip' },
        });
        status = res.statusCode;
        const text = await res.body.text();
        body = text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch (err) {
        body = { code: (err as { code?: string }).code ?? 'network' };
      }
      const verdict = status === 0 ? { accepted: false as const, key: `network_${String(body.code)}`, retryMs: 100 } : judge(status, body, { device: dev.id, hash: dev.hashes[b]!, sinkKey: order.sinkKey });
      if (verdict.accepted) {
        latencies[accepted++] = performance.now() - started;
        next[d] = b + 1;
        if (b + 1 < dev.bodies.length) ready.push(d);
        return;
      }
      refused[verdict.key] = (refused[verdict.key] ?? 0) + 1;
      if (verdict.retryMs === null || attempt >= 50 || performance.now() > deadline) {
        failedDevices++;
        return;
      }
      await sleep(verdict.retryMs);
    }
  }

  async function worker(w: number): Promise<void> {
    for (;;) {
      if (performance.now() > deadline) return;
      if (readyAt >= ready.length) {
        if (inFlight === 0) return;
        await new Promise<void>((r) => idle.push(r));
        continue;
      }
      const d = ready[readyAt++]!;
      // the queue only grows: drop what was taken now and then so that it does not hold every batch
      if (readyAt > 4096) {
        ready.splice(0, readyAt);
        readyAt = 0;
      }
      inFlight++;
      await postOne(w, d);
      inFlight--;
      for (const wake of idle.splice(0)) wake();
    }
  }

  await Promise.all(Array.from({ length: order.concurrency }, (_, w) => worker(w)));
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(progress);
  await Promise.all(pools.flat().map((p) => p.close()));
  const sorted = latencies.slice(0, accepted).sort();
  const cpu = process.cpuUsage(cpu0);
  return {
    seconds, batches: accepted, readings: accepted * readingsPerBatch,
    latencyMs: { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: percentile(sorted, 1) },
    latencySumS: sorted.reduce((a, b) => a + b, 0) / 1000,
    refused, failedDevices, cpuS: (cpu.user + cpu.system) / 1e6,
  };
}

process.on('message', (order: LoadOrder) => {
  const work = order.type === 'prepare' ? prepare(order) : order.type === 'run' ? run(order).then((result) => send({ type: 'result', result })) : Promise.resolve(process.exit(0));
  work.catch((err: Error) => send({ type: 'error', error: err.message }));
});

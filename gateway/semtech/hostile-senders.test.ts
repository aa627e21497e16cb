// The listener against senders that are not the gateways they claim to be, or that send more than
// it can decode: over real UDP, with 127.0.0.2 standing for another host on the network.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { Worker } from 'node:worker_threads';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { silentLogger } from '../../kernel/log.ts';
import { Registry } from '../../kernel/metrics.ts';
import { rxpkFor, SimulatedForwarder } from '../simulator.ts';
import { metricValue, waitFor } from '../testdata/wait.ts';
import { encodeGatewayDatagram, PUSH_DATA, TX_ACK } from './packets.ts';
import { SemtechUdpServer, type ReceivedRx } from './udp-server.ts';

const GW = 'aa555a0000000201';
const FRAME = Buffer.from('40f17dbe4900020001954378762b11ff0d', 'hex');
const TXPK = { imme: true, freq: 869.525, rfch: 0, powe: 14, modu: 'LORA' as const, datr: 'SF12BW125', codr: '4/5', ipol: true, size: 4, data: 'dGVzdA==' };

function capture(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level }, { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  return { log, lines };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('downlink path pinning', () => {
  it('ignores a PULL_DATA from another address while the gateway keeps its path alive, and moves only after the path fell silent', async () => {
    const { log, lines } = capture();
    const metrics = new Registry();
    const txAcks: number[] = [];
    const server = new SemtechUdpServer({
      host: '127.0.0.1', port: 0, log, metrics, downlinkPinMs: 600,
      handlers: { onUplinks: () => undefined, onTxAck: (_g, token) => txAcks.push(token) },
    });
    await server.start();
    const real = new SimulatedForwarder({ server: server.address(), eui: GW, pullIntervalMs: 0 });
    const spoofer = new SimulatedForwarder({ server: server.address(), eui: GW, pullIntervalMs: 0, ackTimeoutMs: 300, localAddress: '127.0.0.2' });
    try {
      await real.start();
      // The spoofed PULL_DATA gets no PULL_ACK and takes nothing.
      await assert.rejects(spoofer.start(), /no PULL_ACK/);
      assert.equal(await metricValue(metrics, 'fieldproof_gateway_datagrams_rejected_total', { reason: 'pull_from_other_address' }), 1);
      assert.equal(server.gateways().find((g) => g.eui === GW)!.pull!.address, '127.0.0.1');
      const refusedLine = lines.find((l) => l.reason === 'pull_from_other_address');
      assert.ok(refusedLine, 'the refusal is logged');
      assert.match(String(refusedLine.from), /^127\.0\.0\.2:\d+$/);

      // Downlinks still reach the real gateway, and a TX_ACK from the spoofer is not believed.
      const token = server.sendDownlink(GW, TXPK);
      assert.equal((await real.nextDownlink(2000)).token, token);
      await waitFor('the real TX_ACK', () => txAcks.length === 1);
      spoofer.sendRaw(encodeGatewayDatagram(TX_ACK, token!, GW, { txpk_ack: { error: 'TOO_LATE' } }));
      await waitFor('the spoofed TX_ACK to be counted', async () => (await metricValue(metrics, 'fieldproof_gateway_datagrams_rejected_total', { reason: 'tx_ack_from_other_address' })) === 1);
      assert.deepEqual(txAcks, [token]);
      assert.equal(spoofer.pendingDownlinks(), 0);

      // The real gateway's keepalives hold the path longer than the pin time on its own.
      for (let i = 0; i < 5; i++) {
        await sleep(200);
        await real.pull();
      }
      await assert.rejects(spoofer.pull(), /no PULL_ACK/);
      assert.equal(await metricValue(metrics, 'fieldproof_gateway_datagrams_rejected_total', { reason: 'pull_from_other_address' }), 2);

      // Silent for longer than the pin time: whoever sends the next PULL_DATA has the path (the
      // protocol cannot tell a gateway that moved from one that is impersonated).
      await sleep(700);
      assert.ok((await spoofer.pull()) >= 0);
      assert.equal(server.gateways().find((g) => g.eui === GW)!.pull!.address, '127.0.0.2');
      assert.ok(lines.some((l) => l.msg === 'gateway downlink path' && l.moved === true && l.address === '127.0.0.2'));
    } finally {
      await real.stop();
      await spoofer.stop();
      await server.stop();
    }
  });
});

/**
 * A forwarder on its own thread, so that it can keep sending while the listener's thread is held:
 * it sends one PUSH_DATA that the test holds the main thread on, waits until the main thread is
 * held, sends the burst, waits until the acks stop coming, and lets the main thread go.
 */
const BURST_SENDER = `
const { parentPort, workerData } = require('node:worker_threads');
const dgram = require('node:dgram');
const { port, trigger, burst, flags } = workerData;
const flag = new Int32Array(flags);
const socket = dgram.createSocket('udp4');
const acked = new Set();
let lastAckAt = 0;
socket.on('message', (m) => { if (m.length === 4 && m[3] === 1) { acked.add(m.readUInt16BE(1)); lastAckAt = Date.now(); } });
socket.bind(0, '127.0.0.1', () => socket.send(trigger, port, '127.0.0.1', async () => {
  Atomics.wait(flag, 0, 0, 20000);            // the main thread is held in its uplink handler
  for (const d of burst) socket.send(d, port, '127.0.0.1');
  const started = Date.now();
  while (Date.now() - Math.max(lastAckAt, started) < 500) await new Promise((r) => setTimeout(r, 20));
  Atomics.store(flag, 1, 1);
  Atomics.notify(flag, 1);
  setTimeout(() => { parentPort.postMessage({ acked: [...acked] }); socket.close(); }, 200);
}));
`;

describe('the queue between the socket thread and decoding', () => {
  it('is bounded in bytes: what does not fit is dropped unacknowledged and counted, what was acknowledged is all decoded', async () => {
    const metrics = new Registry();
    const received: ReceivedRx[] = [];
    const flags = new Int32Array(new SharedArrayBuffer(8));
    let held = false;
    const maxQueueBytes = 16 * 1024;
    const server = new SemtechUdpServer({
      host: '127.0.0.1', port: 0, log: silentLogger(), metrics, maxQueueBytes, recvBufferBytes: 1024 * 1024,
      handlers: {
        onUplinks: (batch) => {
          received.push(...batch);
          if (held) return;
          held = true;
          // Hold this thread, as a long journal commit or a slow codec would, until the burst is over.
          Atomics.store(flags, 0, 1);
          Atomics.notify(flags, 0);
          Atomics.wait(flags, 1, 0, 20_000);
        },
      },
    });
    await server.start();
    try {
      // 120 PUSH_DATA of about 600 bytes each: some 70 kB against a 16 kB bound
      const padding = 'x'.repeat(500);
      const burst = Array.from({ length: 120 }, (_, i) => encodeGatewayDatagram(PUSH_DATA, 1000 + i, GW, { rxpk: [rxpkFor(FRAME)], pad: padding }));
      const trigger = encodeGatewayDatagram(PUSH_DATA, 1, GW, { rxpk: [rxpkFor(FRAME)] });
      const sender = new Worker(BURST_SENDER, { eval: true, workerData: { port: server.address().port, trigger, burst, flags: flags.buffer } });
      const { acked } = await new Promise<{ acked: number[] }>((resolve, reject) => {
        sender.once('message', resolve);
        sender.once('error', reject);
      });
      await sender.terminate();
      const ackedBurst = acked.filter((t) => t >= 1000).length;
      await waitFor('every acknowledged PUSH_DATA decoded', () => received.length === 1 + ackedBurst);

      const dropped = await metricValue(metrics, 'fieldproof_gateway_queue_dropped_total', { type: 'push_data' });
      assert.ok(ackedBurst > 0 && dropped > 0, `acked ${ackedBurst}, dropped ${dropped}`);
      assert.equal(ackedBurst + dropped, burst.length, 'each PUSH_DATA was acknowledged or counted as dropped');
      assert.ok(ackedBurst * burst[0]!.length <= maxQueueBytes, `no more was held than the bound: ${ackedBurst} acked`);
      assert.ok(await metricValue(metrics, 'fieldproof_gateway_queue_dropped_bytes_total') >= dropped * burst[0]!.length);
      // Everything let go: the bound is free again, and the listener answers.
      assert.equal(await metricValue(metrics, 'fieldproof_gateway_queued_bytes'), 0);
      assert.equal(await metricValue(metrics, 'fieldproof_gateway_queued_datagrams'), 0);
      const fwd = new SimulatedForwarder({ server: server.address(), eui: GW, pullIntervalMs: 0 });
      await fwd.start();
      assert.ok((await fwd.uplink(FRAME)) >= 0);
      await fwd.stop();
    } finally {
      await server.stop();
    }
  });

  it('counts datagrams of every kind against the bytes, not only PUSH_DATA', async () => {
    const metrics = new Registry();
    // A bound smaller than one datagram: nothing fits, and nothing reaches the main thread.
    const server = new SemtechUdpServer({ host: '127.0.0.1', port: 0, log: silentLogger(), metrics, maxQueueBytes: 16, handlers: { onUplinks: () => undefined } });
    await server.start();
    const raw = createSocket('udp4');
    await new Promise<void>((r) => raw.bind(0, '127.0.0.1', r));
    try {
      for (let i = 0; i < 20; i++) raw.send(Buffer.alloc(40, 0xab), server.address().port, '127.0.0.1');
      raw.send(encodeGatewayDatagram(PUSH_DATA, 9, GW, { rxpk: [] }), server.address().port, '127.0.0.1');
      await waitFor('21 drops counted', async () => (await metricValue(metrics, 'fieldproof_gateway_queue_dropped_total')) === 21);
      assert.equal(await metricValue(metrics, 'fieldproof_gateway_queue_dropped_total', { type: 'other' }), 20);
      assert.equal(await metricValue(metrics, 'fieldproof_gateway_queue_dropped_total', { type: 'push_data' }), 1);
      assert.equal(await metricValue(metrics, 'fieldproof_gateway_datagrams_rejected_total'), 0, 'none reached the main thread');
    } finally {
      raw.close();
      await server.stop();
    }
  });
});

/** PUSH_DATA from `count` made-up EUIs (`first`, `first` + 1, ...), paced to fit the kernel's default receive buffer. */
async function sendFromMadeUpEuis(port: number, first: bigint, count: number): Promise<void> {
  const raw = createSocket('udp4');
  await new Promise<void>((r) => raw.bind(0, '127.0.0.1', r));
  try {
    for (let i = 0; i < count; i++) {
      const eui = (first + BigInt(i)).toString(16).padStart(16, '0');
      raw.send(encodeGatewayDatagram(PUSH_DATA, i, eui, { rxpk: [] }), port, '127.0.0.1');
      if (i % 25 === 24) await sleep(5);
    }
  } finally {
    await sleep(50);
    raw.close();
  }
}

/** A started listener whose log lines and metrics the test reads. */
async function watchedListener(opts: { allowedGateways?: string[]; maxGateways?: number }) {
  const { log, lines } = capture();
  const metrics = new Registry();
  const server = new SemtechUdpServer({ host: '127.0.0.1', port: 0, log, metrics, ...opts, handlers: { onUplinks: () => undefined } });
  await server.start();
  return { server, lines, metrics };
}

describe('log lines about unknown gateways', () => {
  it('are throttled, while every datagram is counted', async () => {
    const { server, lines, metrics } = await watchedListener({ allowedGateways: [GW] });
    try {
      await sendFromMadeUpEuis(server.address().port, 0x0100000000000000n, 200);
      await waitFor('200 unknown gateways counted', async () => (await metricValue(metrics, 'fieldproof_gateway_datagrams_rejected_total', { reason: 'unknown_gateway' })) === 200);
      const logged = lines.filter((l) => l.reason === 'unknown_gateway');
      assert.equal(logged.length, 1, 'one line per interval');
      assert.match(String(logged[0]!.gateway), /^01000000000000[0-9a-f]{2}$/, 'the line names the EUI, for the allow-list');
      assert.equal(server.gateways().length, 0, 'none is tracked');
    } finally {
      await server.stop();
    }
  });

  it('on loopback without an allow-list, a flood of new EUIs gets a few "new gateway" lines, not one each', async () => {
    const { server, lines, metrics } = await watchedListener({ maxGateways: 50 });
    try {
      await sendFromMadeUpEuis(server.address().port, 0x0200000000000000n, 300);
      await waitFor('the flood read', async () => (await metricValue(metrics, 'fieldproof_gateway_datagrams_total', { type: 'push_data' })) === 300);
      const logged = lines.filter((l) => l.msg === 'new gateway');
      assert.equal(logged.length, 10, 'ten lines per interval');
      assert.equal(server.gateways().length, 50, 'and the table stays bounded');
    } finally {
      await server.stop();
    }
  });
});

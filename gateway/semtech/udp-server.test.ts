import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { pino } from 'pino';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../kernel/log.ts';
import { Registry } from '../../kernel/metrics.ts';
import { rxpkFor, SimulatedForwarder } from '../simulator.ts';
import { metricValue, waitFor } from '../testdata/wait.ts';
import { encodeGatewayDatagram, PULL_DATA, PUSH_DATA, TX_ACK, type GatewayStat } from './packets.ts';
import { DATAGRAMS_PER_TAKE, SemtechUdpServer, type ReceivedRx } from './udp-server.ts';

const GW = 'aa555a0000000101';

describe('Semtech UDP listener', () => {
  const metrics = new Registry();
  const received: ReceivedRx[] = [];
  const stats: [string, GatewayStat][] = [];
  const txAcks: [string, number, string][] = [];
  const server = new SemtechUdpServer({
    host: '127.0.0.1',
    port: 0,
    log: silentLogger(),
    metrics,
    handlers: {
      onUplinks: (b) => received.push(...b),
      onStat: (g, s) => stats.push([g, s]),
      onTxAck: (g, t, e) => txAcks.push([g, t, e]),
    },
  });
  let fwd: SimulatedForwarder;
  let raw: Socket;
  const rawReplies: Buffer[] = [];

  before(async () => {
    await server.start();
    fwd = new SimulatedForwarder({ server: server.address(), eui: GW, pullIntervalMs: 0 });
    await fwd.start();
    raw = createSocket('udp4');
    raw.on('message', (m) => rawReplies.push(m));
    await new Promise<void>((r) => raw.bind(0, r));
  });
  after(async () => {
    await fwd.stop();
    raw.close();
    await server.stop();
  });

  const sendRaw = (b: Buffer) => raw.send(b, server.address().port, '127.0.0.1');

  it('answers PUSH_DATA with a PUSH_ACK carrying the same token, then hands the packets on', async () => {
    const ms = await fwd.push([rxpkFor(Buffer.from('40f17dbe4900020001954378762b11ff0d', 'hex'))]);
    assert.ok(ms >= 0);
    await waitFor('the packet', () => received.length === 1);
    assert.equal(received[0]!.gateway, GW);
    assert.equal(received[0]!.rx.data, 'QPF9vkkAAgABlUN4disR/w0=');
    assert.ok(Math.abs(received[0]!.receivedAt - Date.now()) < 5000);
  });

  it('answers PULL_DATA with PULL_ACK and keeps that address as the gateway downlink path', async () => {
    await fwd.pull();
    const info = server.gateways().find((g) => g.eui === GW)!;
    assert.ok(info.pull);
    assert.equal(info.pull.address, '127.0.0.1');
  });

  it('sends PULL_RESP to the path of the gateway named, and reads its TX_ACK', async () => {
    const token = server.sendDownlink(GW, { imme: true, freq: 869.525, rfch: 0, powe: 14, modu: 'LORA', datr: 'SF12BW125', codr: '4/5', ipol: true, size: 4, data: 'dGVzdA==' });
    assert.notEqual(token, null);
    const d = await fwd.nextDownlink(2000);
    assert.equal(d.token, token);
    assert.equal(d.phy.toString(), 'test');
    await waitFor('the TX_ACK', () => txAcks.length === 1);
    assert.deepEqual(txAcks[0], [GW, token, 'NONE']);
    assert.equal(await metricValue(metrics, 'fieldproof_gateway_tx_ack_total', { error: 'NONE' }), 1);
  });

  it('counts TX_ACK errors by name', async () => {
    // from the forwarder's own socket, where its downlink path is
    fwd.sendRaw(encodeGatewayDatagram(TX_ACK, 77, GW, { txpk_ack: { error: 'TOO_LATE' } }));
    fwd.sendRaw(encodeGatewayDatagram(TX_ACK, 78, GW, { txpk_ack: { error: 'COLLISION_PACKET' } }));
    await waitFor('two TX_ACKs', () => txAcks.length === 3);
    assert.equal(await metricValue(metrics, 'fieldproof_gateway_tx_ack_total', { error: 'TOO_LATE' }), 1);
    assert.equal(await metricValue(metrics, 'fieldproof_gateway_tx_ack_total', { error: 'COLLISION_PACKET' }), 1);
  });

  it('has no downlink path for a gateway that never sent PULL_DATA', () => {
    assert.equal(server.sendDownlink('0102030405060708', { imme: true, freq: 868.1, rfch: 0, powe: 14, modu: 'LORA', datr: 'SF7BW125', size: 1, data: 'AA==' }), null);
  });

  it('turns gateway stat objects into metrics', async () => {
    await fwd.push([], { time: '2014-01-12 08:59:28 GMT', lati: 46.24, long: 3.2523, alti: 145, rxnb: 12, rxok: 10, rxfw: 10, ackr: 100, dwnb: 2, txnb: 2 });
    await waitFor('the stat', () => stats.length === 1);
    assert.equal(await metricValue(metrics, 'fieldproof_gateway_stat', { gateway: GW, field: 'rxnb' }), 12);
    assert.equal(await metricValue(metrics, 'fieldproof_gateway_stat', { gateway: GW, field: 'lati' }), 46.24);
  });

  it('ignores and counts malformed datagrams of every kind, and keeps answering', async () => {
    const before = received.length;
    const good = Buffer.from('40f17dbe4900020001954378762b11ff0d', 'hex');
    sendRaw(Buffer.from([1, 2]));                                                          // truncated
    sendRaw(Buffer.from([9, 0, 1, PUSH_DATA, 1, 2, 3, 4, 5, 6, 7, 8, 0x7b, 0x7d]));          // wrong version
    sendRaw(Buffer.from([2, 0, 1, PUSH_DATA, 1, 2, 3]));                                   // truncated header
    sendRaw(Buffer.from([2, 0, 1, 0x42, 1, 2, 3, 4, 5, 6, 7, 8]));                         // unknown identifier
    sendRaw(encodeGatewayDatagram(PUSH_DATA, 3, GW).subarray(0, 12));                      // no JSON
    sendRaw(Buffer.concat([encodeGatewayDatagram(PUSH_DATA, 4, GW), Buffer.from('{"rxpk":[{')])); // bad JSON
    sendRaw(encodeGatewayDatagram(PUSH_DATA, 5, GW, { rxpk: [rxpkFor(good, { data: 'not*base64!' })] }));
    sendRaw(encodeGatewayDatagram(PUSH_DATA, 6, GW, { rxpk: [rxpkFor(good, { stat: -1 })] }));
    sendRaw(encodeGatewayDatagram(PUSH_DATA, 7, GW, { rxpk: [rxpkFor(good, { size: 99 })] }));
    sendRaw(Buffer.concat([encodeGatewayDatagram(PULL_DATA, 8, GW), Buffer.from('x')]));  // PULL_DATA with a tail
    await waitFor('the rejections to be counted', async () =>
      (await metricValue(metrics, 'fieldproof_gateway_datagrams_rejected_total')) >= 7 &&
      (await metricValue(metrics, 'fieldproof_gateway_rxpk_rejected_total')) >= 3);
    const r = (reason: string) => metricValue(metrics, 'fieldproof_gateway_datagrams_rejected_total', { reason });
    assert.equal(await r('truncated'), 2);
    assert.equal(await r('bad_version'), 1);
    assert.equal(await r('unknown_identifier'), 1);
    assert.equal(await r('missing_json'), 1);
    assert.equal(await r('bad_json'), 1);
    assert.equal(await r('pull_data_length'), 1);
    const x = (reason: string) => metricValue(metrics, 'fieldproof_gateway_rxpk_rejected_total', { reason });
    assert.equal(await x('bad_base64'), 1);
    assert.equal(await x('crc_failed'), 1);
    assert.equal(await x('size_mismatch'), 1);
    assert.equal(received.length, before, 'nothing malformed was handed on');
    // PUSH_DATA with a good header is acked before its JSON is looked at; the others get nothing
    await waitFor('acks for the five PUSH_DATA with a valid header', () => rawReplies.length === 5);
    assert.deepEqual(rawReplies.map((m) => m.readUInt16BE(1)).sort(), [3, 4, 5, 6, 7]);
    assert.ok((await fwd.push([rxpkFor(good)])) >= 0, 'still answers');
  });

  it('accepts packet forwarders speaking protocol version 1 and answers in kind', async () => {
    rawReplies.length = 0;
    sendRaw(encodeGatewayDatagram(PULL_DATA, 0x0909, 'aa555a0000000109', undefined, 1));
    await waitFor('the PULL_ACK', () => rawReplies.length === 1);
    assert.deepEqual([...rawReplies[0]!], [1, 0x09, 0x09, 4]);
  });
});

describe('Semtech UDP listener limits', () => {
  it('ignores gateways outside the allow-list', async () => {
    const metrics = new Registry();
    const server = new SemtechUdpServer({ host: '127.0.0.1', port: 0, log: silentLogger(), metrics, allowedGateways: [GW], handlers: { onUplinks: () => undefined } });
    await server.start();
    const stranger = new SimulatedForwarder({ server: server.address(), eui: '0102030405060708', pullIntervalMs: 0, ackTimeoutMs: 200 });
    await assert.rejects(stranger.start(), /no PULL_ACK/);
    await stranger.stop();
    assert.equal(await metricValue(metrics, 'fieldproof_gateway_datagrams_rejected_total', { reason: 'unknown_gateway' }), 1);
    const known = new SimulatedForwarder({ server: server.address(), eui: GW, pullIntervalMs: 0 });
    await known.start();
    await known.stop();
    await server.stop();
  });

  it('hands datagrams full of rxpk entries on in batches a few datagrams long, every packet of them', async () => {
    // A datagram may carry some 650 rxpk entries: 64 of them in one batch were 40,000 frames for
    // the network server in one turn of the event loop.
    const batches: number[] = [];
    const metrics = new Registry();
    const server = new SemtechUdpServer({ host: '127.0.0.1', port: 0, log: silentLogger(), metrics, handlers: { onUplinks: (b) => void batches.push(b.length) } });
    await server.start();
    const fwd = new SimulatedForwarder({ server: server.address(), eui: GW, pullIntervalMs: 0 });
    try {
      await fwd.start();
      const rx = { stat: 1, data: Buffer.alloc(16, 0x40).toString('base64'), freq: 868.1, modu: 'LORA', datr: 'SF7BW125', rssi: -80 } as const;
      const perDatagram = Math.floor(64_000 / JSON.stringify(rx).length);
      // a millisecond apart: the kernel's receive buffer holds only a few datagrams this size
      for (let i = 0; i < 30; i++) {
        fwd.sendRaw(encodeGatewayDatagram(PUSH_DATA, i, GW, { rxpk: Array.from({ length: perDatagram }, () => rx) }));
        await new Promise((r) => setTimeout(r, 1));
      }
      // every packet of every datagram the listener read (the kernel drops what it has no room for)
      const read = () => metricValue(metrics, 'fieldproof_gateway_datagrams_total', { type: 'push_data' });
      const delivered = () => batches.reduce((a, b) => a + b, 0);
      let last = -1;
      await waitFor('every packet of the datagrams read, and no more datagrams coming', async () => {
        const n = await read();
        const settled = n === last && delivered() === n * perDatagram;
        last = n;
        if (!settled) await new Promise((r) => setTimeout(r, 100));
        return settled && n >= 10;
      }, 15_000);
      assert.ok(Math.max(...batches) <= DATAGRAMS_PER_TAKE * perDatagram, `batches of ${Math.max(...batches)} packets, datagrams of ${perDatagram}`);
    } finally {
      await fwd.stop();
      await server.stop();
    }
  });

  it('forgets the stalest gateway rather than growing without bound', async () => {
    const server = new SemtechUdpServer({ host: '127.0.0.1', port: 0, log: silentLogger(), metrics: new Registry(), maxGateways: 3, handlers: { onUplinks: () => undefined } });
    await server.start();
    for (let i = 1; i <= 5; i++) {
      const f = new SimulatedForwarder({ server: server.address(), eui: `00000000000000${String(i).padStart(2, '0')}`, pullIntervalMs: 0 });
      await f.start();
      await f.stop();
      await new Promise((r) => setTimeout(r, 2));
    }
    assert.deepEqual(server.gateways().map((g) => g.eui).sort(), ['0000000000000003', '0000000000000004', '0000000000000005']);
    await server.stop();
  });

  it('runs the socket thread, and only it, at the nice value asked for', async () => {
    // Raising the nice value needs no privilege, so this holds for any user.
    const metrics = new Registry();
    const server = new SemtechUdpServer({ host: '127.0.0.1', port: 0, log: silentLogger(), metrics, socketThreadNice: 7, handlers: { onUplinks: () => undefined } });
    await server.start();
    const thread = server.socketThread();
    assert.ok(thread, 'the socket thread reported its id');
    assert.notEqual(thread.tid, process.pid);
    assert.equal(niceOf(thread.tid), 7);
    assert.equal(niceOf(process.pid), getPriority(0), 'the main thread keeps its own priority');
    assert.equal(await metricValue(metrics, 'fieldproof_gateway_socket_thread_nice'), 7);
    const fwd = new SimulatedForwarder({ server: server.address(), eui: GW, pullIntervalMs: 0 });
    await fwd.start();
    assert.ok((await fwd.push([])) >= 0, 'still acks');
    await fwd.stop();
    await server.stop();
  });

  it('keeps listening, and says so, when the priority cannot be set', async () => {
    // Without privilege a negative nice value is refused; a value out of range is refused for
    // everyone, root included, and takes the same path.
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
    const server = new SemtechUdpServer({ host: '127.0.0.1', port: 0, log, metrics: new Registry(), socketThreadNice: 99, handlers: { onUplinks: () => undefined } });
    await server.start();
    assert.ok(lines.some((l) => /could not set the Semtech UDP socket thread priority/.test(l)), lines.join(''));
    assert.equal(server.socketThread(), null);
    const fwd = new SimulatedForwarder({ server: server.address(), eui: GW, pullIntervalMs: 0 });
    await fwd.start();
    assert.ok((await fwd.push([])) >= 0);
    await fwd.stop();
    await server.stop();
  });
});

/** A thread's nice value, field 19 of /proc/self/task/<tid>/stat (after the parenthesised name). */
function niceOf(tid: number): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

it('a port already taken fails start with the bind error\'s code, so the device can say "already in use"', async () => {
  const taken = createSocket('udp4');
  await new Promise<void>((r) => taken.bind(0, '127.0.0.1', r));
  try {
    const server = new SemtechUdpServer({ host: '127.0.0.1', port: taken.address().port, log: silentLogger(), metrics: new Registry(), handlers: { onUplinks: () => {}, onStat: () => {}, onTxAck: () => {} } });
    await assert.rejects(server.start(), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'EADDRINUSE');
      assert.doesNotMatch(err.message, /cannot listen on .*cannot listen on/);
      return true;
    });
  } finally {
    taken.close();
  }
});

// 100,000 random and mutated datagrams at the listener, through the whole gateway (Semtech parsing,
// LoRaWAN frames, sessions, codecs). Afterwards it must still answer and still decode a good uplink.
// The generator is seeded: FUZZ_SEED=n reproduces a run.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { it } from 'node:test';
import { rxpkFor, SimulatedNode } from '../simulator.ts';
import { ABP, GatewayFixture, GW1, OTAA, testGatewayConfig } from '../testdata/gateway-fixture.ts';
import { metricValue, waitFor } from '../testdata/wait.ts';
import { encodeGatewayDatagram, PULL_DATA, PUSH_DATA, TX_ACK } from './packets.ts';
import { prng } from '../../kernel/prng.ts';

const TOTAL = 100_000;
const CHUNK = 1000;

it(`the listener survives ${TOTAL} random and mutated datagrams and still answers`, { timeout: 120_000 }, async () => {
  const seed = Number(process.env.FUZZ_SEED ?? 20261123);
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));

  const g = new GatewayFixture(testGatewayConfig());
  await g.start();
  try {
    const probe = await g.forwarder();
    const node = SimulatedNode.abp(ABP);
    const frames = Array.from({ length: 40 }, (_, i) => node.uplink(Buffer.from([3, 0x67, 0, i]), { confirmed: i % 5 === 0 }));
    const joiner = SimulatedNode.otaa(OTAA);
    frames.push(...Array.from({ length: 5 }, () => joiner.joinRequest()));
    const templates = frames.map((f, i) => encodeGatewayDatagram(PUSH_DATA, i, GW1, { rxpk: [rxpkFor(f)], stat: { rxnb: i, ackr: 100 } }));

    const randomJson = (depth: number): unknown => {
      switch (int(depth > 2 ? 5 : 8)) {
        case 0: return int(2) ? int(1e6) - 5e5 : rand() * 1e12;
        case 1: return pick(['', 'LORA', 'FSK', 'SF7BW125', 'dGVzdA==', 'x'.repeat(int(300)), '\u0000\ud800']);
        case 2: return pick([true, false, null]);
        case 3: return pick([-1, 0, 1, 2 ** 32, -0, 1e308]);
        case 4: return bytes(int(64)).toString('base64');
        case 5: return Array.from({ length: int(4) }, () => randomJson(depth + 1));
        default: {
          const o: Record<string, unknown> = {};
          for (let i = int(6); i > 0; i--) o[pick(['rxpk', 'stat', 'data', 'freq', 'datr', 'modu', 'stat', 'rssi', 'tmst', 'size', 'txpk_ack', 'error', '__proto__', 'constructor'])] = randomJson(depth + 1);
          return o;
        }
      }
    };
    const mutate = (d: Buffer): Buffer => {
      let b = Buffer.from(d);
      for (let m = 1 + int(6); m > 0; m--) {
        const at = int(Math.max(1, b.length));
        switch (int(5)) {
          case 0: b[at] = (b[at] ?? 0) ^ (1 << int(8)); break;
          case 1: b[at] = int(256); break;
          case 2: b = b.subarray(0, at); break;
          case 3: b = Buffer.concat([b.subarray(0, at), bytes(1 + int(8)), b.subarray(at)]); break;
          default: b = Buffer.concat([b, b.subarray(at)]); break;
        }
      }
      // datagrams the size a forwarder sends (an MTU): larger ones only make the run slower
      return b.subarray(0, 1500);
    };
    const next = (): Buffer => {
      const r = rand();
      if (r < 0.1) return bytes(int(300));
      if (r < 0.25) return Buffer.concat([Buffer.from([pick([1, 2, 2, 2, int(256)]), int(256), int(256), int(8)]), bytes(int(200))]);
      if (r < 0.6) return mutate(pick(templates));
      if (r < 0.9) {
        const rx = rxpkFor(int(3) ? mutate(pick(frames)) : bytes(int(60)));
        const body: Record<string, unknown> = { rxpk: [{ ...rx, ...(int(2) ? { [pick(Object.keys(rx))]: randomJson(2) } : {}) }] };
        if (int(4) === 0) body.stat = randomJson(1);
        return encodeGatewayDatagram(PUSH_DATA, int(0x10000), int(10) ? GW1 : bytes(8).toString('hex'), int(8) ? body : randomJson(0));
      }
      return encodeGatewayDatagram(pick([PULL_DATA, TX_ACK]), int(0x10000), GW1, int(2) ? randomJson(0) : undefined);
    };

    const socket = createSocket('udp4');
    const port = g.gateway.address().port;
    // connected: no address lookup per datagram
    await new Promise<void>((r) => socket.connect(port, '127.0.0.1', r));
    const started = performance.now();
    try {
      for (let sent = 0; sent < TOTAL; sent += CHUNK) {
        for (let i = 0; i < CHUNK; i++) socket.send(next());
        // A PULL_DATA from another socket is answered only after the listener has read everything before it.
        await probe.pull();
      }
    } finally {
      socket.close();
    }
    const seconds = (performance.now() - started) / 1000;

    const handled = (await metricValue(g.metrics, 'fieldproof_gateway_datagrams_total')) + (await metricValue(g.metrics, 'fieldproof_gateway_datagrams_rejected_total'));
    assert.ok(handled >= TOTAL, `seed ${seed}: only ${handled} of ${TOTAL} datagrams were seen by the listener`);
    assert.ok((await metricValue(g.metrics, 'fieldproof_gateway_datagrams_rejected_total')) > TOTAL / 10, 'the malformed ones were counted');
    assert.ok((await metricValue(g.metrics, 'fieldproof_gateway_rxpk_rejected_total')) > 0);
    assert.ok((await metricValue(g.metrics, 'fieldproof_gateway_uplinks_total', { result: 'bad_mic' })) > 0, 'mutated frames reached the LoRaWAN layer');

    // Still answering, and still decoding: a good uplink after the storm.
    assert.ok((await probe.pull()) >= 0);
    const before = g.readings.filter((r) => r.metric === 'temperature_c').length;
    node.nextFCnt = 100;
    await probe.uplink(node.uplink(Buffer.from('03670110', 'hex')));
    await waitFor('the good uplink decoded', () => g.readings.filter((r) => r.metric === 'temperature_c').length === before + 1);
    assert.equal(g.readings.at(-1)!.value, 27.2);
    assert.ok(g.gateway.address().port === port);
    process.stderr.write(`# fuzz: ${TOTAL} datagrams in ${seconds.toFixed(1)} s (seed ${seed})\n`);
  } finally {
    await g.stop();
  }
});

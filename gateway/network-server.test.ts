import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { silentLogger } from '../kernel/log.ts';
import { Registry } from '../kernel/metrics.ts';
import { CayenneLppCodec } from './codecs/cayenne-lpp.ts';
import { LorawanNetworkServer, MAX_RETRANSMISSION_ACKS } from './network-server.ts';
import type { RxPacket, TxPacket } from './semtech/packets.ts';
import { SessionStore } from './session-store.ts';
import { SimulatedNode } from './simulator.ts';
import { ABP, GatewayFixture, GW1, GW2, OTAA, testGatewayConfig } from './testdata/gateway-fixture.ts';
import { metricValue, waitFor } from './testdata/wait.ts';
import { vectors } from './testdata/vectors.ts';

const lpp = (hex: string) => Buffer.from(hex, 'hex');
const TEMP_27_2 = '03670110';

async function withGateway(fn: (g: GatewayFixture) => Promise<void>, extra: Record<string, unknown> = {}): Promise<void> {
  const g = new GatewayFixture(testGatewayConfig(extra));
  await g.start();
  try {
    await fn(g);
  } finally {
    await g.stop();
  }
}

const uplinks = (g: GatewayFixture, result: string) => metricValue(g.metrics, 'fieldproof_gateway_uplinks_total', { result });

describe('LoRaWAN network server over real UDP', () => {
  it('decodes an ABP uplink into readings with the radio metadata', () => withGateway(async (g) => {
    const fwd = await g.forwarder();
    const node = SimulatedNode.abp(ABP);
    await fwd.uplink(node.uplink(lpp('03670110056700FF')), { rssi: -71, lsnr: 7.25, freq: 868.3, datr: 'SF9BW125' });
    await waitFor('two readings', () => g.readings.length === 2);
    const [a, b] = g.readings;
    assert.equal(a!.sensor, 'node-1-3');
    assert.equal(a!.metric, 'temperature_c');
    assert.equal(a!.value, 27.2);
    assert.equal(a!.unit, 'degC');
    assert.equal(b!.sensor, 'node-1-5');
    assert.equal(b!.value, 25.5);
    assert.deepEqual(a!.meta, { fcnt: 0, fport: 1, gateway: GW1, rssi: -71, snr: 7.25, frequency: 868.3, dataRate: 'SF9BW125' });
    assert.ok(Math.abs(a!.ts - Date.now()) < 5000);
    assert.equal(g.status('node-1')?.state, 'ok');
    assert.equal(await uplinks(g, 'accepted'), 1);
  }));

  it('stores a frame heard by two gateways, and twice by one, once, with the best signal', () => withGateway(async (g) => {
    const gw1 = await g.forwarder(GW1);
    const gw2 = await g.forwarder(GW2);
    const node = SimulatedNode.abp(ABP);
    const phy = node.uplink(lpp(TEMP_27_2));
    // one PUSH_DATA with two copies (two radios of one gateway), then the other gateway
    const { rxpkFor } = await import('./simulator.ts');
    await gw1.push([rxpkFor(phy, { rssi: -90 }), rxpkFor(phy, { rssi: -80 })]);
    // The PUSH_ACK only says the datagram arrived (the socket's thread sends it): wait for the
    // decode, so that the other gateway's copy lands in a later batch, as a late copy would.
    await waitFor('the first copies decoded', () => g.readings.length === 1);
    await gw2.uplink(phy, { rssi: -60 });
    await waitFor('the duplicates to be counted', async () => (await uplinks(g, 'duplicate')) === 2);
    assert.equal(g.readings.length, 1);
    assert.equal(g.readings[0]!.meta!.rssi, -80, 'best of the copies in one batch');
    assert.equal(g.readings[0]!.meta!.gateways, 2);
    assert.equal(await uplinks(g, 'accepted'), 1);
  }));

  it('refuses replayed and old frame counters, and forged frames', () => withGateway(async (g) => {
    const fwd = await g.forwarder();
    const node = SimulatedNode.abp(ABP);
    const first = node.uplink(lpp(TEMP_27_2));
    const second = node.uplink(lpp(TEMP_27_2));
    await fwd.uplink(first);
    await fwd.uplink(second);
    await waitFor('two readings', () => g.readings.length === 2);
    await fwd.uplink(first); // an old counter, replayed
    await fwd.uplink(node.uplink(lpp('03670111'), { fCnt: 1 })); // the current counter, other content
    const forged = Buffer.from(node.uplink(lpp(TEMP_27_2)));
    forged[forged.length - 5]! ^= 0x01; // a flipped payload bit: the MIC no longer matches
    await fwd.uplink(forged);
    await waitFor('the refusals', async () => (await uplinks(g, 'replay')) === 2 && (await uplinks(g, 'bad_mic')) === 1);
    assert.equal(g.readings.length, 2);
    // the frame after the forged one is still accepted: a forgery does not advance the counter
    await fwd.uplink(node.uplink(lpp(TEMP_27_2), { fCnt: 2 }));
    await waitFor('the third reading', () => g.readings.length === 3);
  }));

  it('refuses the published bad-MIC vector and accepts the good ones of the same session', () => withGateway(async (g) => {
    const fwd = await g.forwarder();
    const hexOf = (id: string) => Buffer.from(vectors.dataVectors.find((v) => v.id === id)!.phyPayloadHex, 'hex');
    await fwd.uplink(hexOf('lora-packet-bad-mic'));
    await waitFor('the bad MIC', async () => (await uplinks(g, 'bad_mic')) === 1);
    await fwd.uplink(hexOf('lora-packet-decrypt-test')); // fCnt 2, "test"
    await fwd.uplink(hexOf('lora-packet-empty-payload')); // fCnt 3, no payload
    await waitFor('both accepted', async () => (await uplinks(g, 'accepted')) === 2);
    assert.equal(await uplinks(g, 'no_payload'), 1);
    // "test" is not Cayenne LPP for a person, but the bytes parse: channel 0x74, illuminance 0x7374
    assert.deepEqual(g.readings.map((r) => [r.sensor, r.metric, r.value]), [['node-1-116', 'illuminance_lux', 0x7374]]);
  }));

  it('rebuilds 32-bit counters across the 16-bit wrap and refuses a jump beyond MAX_FCNT_GAP', () => withGateway(async (g) => {
    const fwd = await g.forwarder();
    const node = SimulatedNode.abp(ABP);
    node.nextFCnt = 65534;
    for (let i = 0; i < 4; i++) await fwd.uplink(node.uplink(lpp(TEMP_27_2)));
    await waitFor('four readings', () => g.readings.length === 4);
    assert.deepEqual(g.readings.map((r) => r.meta!.fcnt), [65534, 65535, 65536, 65537]);
    node.nextFCnt = 65537 + 20_000;
    await fwd.uplink(node.uplink(lpp(TEMP_27_2)));
    await waitFor('the gap refusal', async () => (await uplinks(g, 'fcnt_gap')) === 1);
    assert.equal(g.readings.length, 4);
  }));

  it('acknowledges confirmed uplinks in RX1, and again when the node retransmits', () => withGateway(async (g) => {
    const fwd = await g.forwarder();
    const node = SimulatedNode.abp(ABP);
    const phy = node.uplink(lpp(TEMP_27_2), { confirmed: true });
    await fwd.uplink(phy, { tmst: 1_000_000, freq: 867.1, datr: 'SF10BW125' });
    const d = await fwd.nextDownlink(3000);
    assert.equal(d.txpk.tmst, 2_000_000, 'RX1 is one second after the uplink');
    assert.equal(d.txpk.freq, 867.1);
    assert.equal(d.txpk.datr, 'SF10BW125');
    assert.equal(d.txpk.ipol, true);
    const ack = node.decodeDownlink(d.phy);
    assert.equal(ack.ack, true);
    assert.equal(ack.fCnt, 0);
    // the same frame from a second radio straight away is a copy; after the dedup window it is a retransmission
    await fwd.uplink(phy, { tmst: 1_000_100 });
    await new Promise((r) => setTimeout(r, 1600));
    await fwd.uplink(phy, { tmst: 0xffffff00 });
    const again = await fwd.nextDownlink(3000);
    assert.equal(again.txpk.tmst, (0xffffff00 + 1_000_000) >>> 0, 'the 32-bit timestamp wraps');
    assert.equal(node.decodeDownlink(again.phy).fCnt, 1, 'a new downlink counter');
    assert.equal(g.readings.length, 1, 'stored once');
    assert.equal(fwd.pendingDownlinks(), 0);
  }));

  it('answers an FSK uplink in RX2, the LoRa window of the plan', () => withGateway(async (g) => {
    const fwd = await g.forwarder();
    const node = SimulatedNode.abp(ABP);
    await fwd.uplink(node.uplink(lpp(TEMP_27_2), { confirmed: true }), { modu: 'FSK', datr: 50000, freq: 868.8, tmst: 1000 });
    const d = await fwd.nextDownlink(3000);
    assert.deepEqual([d.txpk.freq, d.txpk.datr, d.txpk.modu, d.txpk.tmst], [869.525, 'SF12BW125', 'LORA', 2_001_000]);
    assert.equal(node.decodeDownlink(d.phy).ack, true);
  }));

  it('answers an uplink heard off the plan\'s band or data rates in RX2, never on the channel the rxpk names', () => withGateway(async (g) => {
    const fwd = await g.forwarder();
    const node = SimulatedNode.abp(ABP);
    // A recorded confirmed frame, sent again with made-up radio metadata: 902.3 MHz is US915's,
    // SF7BW500 no EU868 rate. The gateway would transmit the ACK wherever RX1 said.
    const offPlan = [{ freq: 902.3, datr: 'SF10BW125' }, { freq: 868.1, datr: 'SF7BW500' }, { freq: 433.175, datr: 'SF5BW125' }];
    for (const [i, radio] of offPlan.entries()) {
      await fwd.uplink(node.uplink(lpp(TEMP_27_2), { confirmed: true }), { ...radio, tmst: 1_000_000 * (i + 1) });
      const d = await fwd.nextDownlink(3000);
      assert.deepEqual([d.txpk.freq, d.txpk.datr, d.txpk.tmst], [869.525, 'SF12BW125', 1_000_000 * (i + 1) + 2_000_000], JSON.stringify(radio));
      assert.equal(node.decodeDownlink(d.phy).ack, true);
    }
    assert.equal(await metricValue(g.metrics, 'fieldproof_gateway_downlinks_total', { kind: 'ack', result: 'uplink_off_plan' }), 3);
  }));

  it('falls back to RX2 when the gateway refuses the RX1 downlink', () => withGateway(async (g) => {
    let refused = 0;
    const fwd = await g.forwarder(GW1, { txAckError: (txpk) => (txpk.freq === 869.525 ? 'NONE' : (refused++, 'TOO_LATE')) });
    const node = SimulatedNode.abp(ABP);
    await fwd.uplink(node.uplink(lpp(TEMP_27_2), { confirmed: true }), { tmst: 5_000_000 });
    const d = await fwd.nextDownlink(3000);
    assert.equal(refused, 1);
    assert.equal(d.txpk.freq, 869.525);
    assert.equal(d.txpk.datr, 'SF12BW125');
    assert.equal(d.txpk.tmst, 7_000_000);
    assert.equal(node.decodeDownlink(d.phy).ack, true);
    await waitFor('the RX2 TX_ACK', async () => (await metricValue(g.metrics, 'fieldproof_gateway_downlinks_total', { kind: 'ack', result: 'scheduled' })) === 1);
    assert.equal(await metricValue(g.metrics, 'fieldproof_gateway_downlinks_total', { kind: 'ack', result: 'refused_too_late' }), 1);
  }));

  it('joins an OTAA node end to end: JoinRequest in, JoinAccept out through PULL_RESP, then its uplinks decoded', () => withGateway(async (g) => {
    const fwd = await g.forwarder();
    assert.equal(g.status('node-2')?.detail, 'waiting for a JoinRequest');
    const node = SimulatedNode.otaa(OTAA);
    await fwd.uplink(node.joinRequest(), { tmst: 10_000_000, freq: 868.5, datr: 'SF12BW125' });
    const d = await fwd.nextDownlink(3000);
    assert.equal(d.txpk.tmst, 15_000_000, 'JOIN_ACCEPT_DELAY1 is five seconds');
    assert.equal(d.txpk.freq, 868.5);
    const keys = node.acceptJoin(d.phy);
    assert.match(keys.devAddr, /^0[01][0-9a-f]{6}$/, 'a DevAddr of NetID 000000');
    assert.deepEqual(g.gateway.networkServer().session('node-2')?.nwkSKey, keys.nwkSKey);
    await fwd.uplink(node.uplink(lpp('0268610373277')));
    await fwd.uplink(node.uplink(lpp('026861')));
    await waitFor('the codec error and the reading', () => g.readings.length === 2);
    assert.deepEqual(g.readings.map((r) => [r.sensor, r.metric, r.value]), [['node-2', 'payload_undecoded', null], ['node-2-2', 'humidity_pct', 48.5]]);
    assert.equal(g.status('node-2')?.state, 'ok');
    assert.equal(await metricValue(g.metrics, 'fieldproof_gateway_joins_total', { result: 'accepted' }), 1);
  }));

  it('refuses a JoinRequest that reuses a DevNonce, or has a bad MIC, or an unknown DevEUI', () => withGateway(async (g) => {
    const fwd = await g.forwarder();
    const node = SimulatedNode.otaa(OTAA);
    const req = node.joinRequest(0x0101);
    await fwd.uplink(req);
    await fwd.nextDownlink(3000);
    await new Promise((r) => setTimeout(r, 1600)); // past the window in which it would be a mere copy
    await fwd.uplink(req);
    const stranger = SimulatedNode.otaa({ ...OTAA, appKey: '000102030405060708090a0b0c0d0e0f' });
    await fwd.uplink(stranger.joinRequest());
    await fwd.uplink(SimulatedNode.otaa({ ...OTAA, devEui: '0102030405060708' }).joinRequest());
    await waitFor('the refusals', async () =>
      (await metricValue(g.metrics, 'fieldproof_gateway_joins_total', { result: 'devnonce_replay' })) === 1 &&
      (await metricValue(g.metrics, 'fieldproof_gateway_joins_total', { result: 'bad_mic' })) === 1 &&
      (await metricValue(g.metrics, 'fieldproof_gateway_joins_total', { result: 'unknown_deveui' })) === 1);
    assert.equal(fwd.pendingDownlinks(), 0, 'no JoinAccept for any of them');
  }));

  it('keeps sessions, counters and used DevNonces across a restart', async () => {
    const g = new GatewayFixture(testGatewayConfig());
    await g.start();
    try {
      let fwd = await g.forwarder();
      const abp = SimulatedNode.abp(ABP);
      const otaa = SimulatedNode.otaa(OTAA);
      const old = abp.uplink(lpp(TEMP_27_2));
      await fwd.uplink(old);
      await fwd.uplink(abp.uplink(lpp(TEMP_27_2)));
      const req = otaa.joinRequest(0x2222);
      await fwd.uplink(req);
      otaa.acceptJoin((await fwd.nextDownlink(3000)).phy);
      await fwd.uplink(otaa.uplink(lpp(TEMP_27_2)));
      await waitFor('three readings', () => g.readings.length === 3);

      await g.restart();
      await new Promise((r) => setTimeout(r, 1600)); // so that the JoinRequest is no longer a mere copy
      fwd = await g.forwarder();
      await fwd.uplink(old);                                 // replay after restart
      await fwd.uplink(req);                                 // join replay after restart
      await fwd.uplink(abp.uplink(lpp(TEMP_27_2)));          // ABP carries on
      await fwd.uplink(otaa.uplink(lpp(TEMP_27_2)));         // OTAA session carries on without a new join
      await waitFor('five readings', () => g.readings.length === 5);
      await waitFor('the refusals', async () =>
        (await uplinks(g, 'replay')) === 1 && (await metricValue(g.metrics, 'fieldproof_gateway_joins_total', { result: 'devnonce_replay' })) === 1);
      assert.deepEqual(g.readings.slice(3).map((r) => [r.sensor, r.meta!.fcnt]), [['node-1-3', 2], ['node-2-3', 1]]);
    } finally {
      await g.stop();
    }
  });

  it('keeps the raw payload of an uplink its codec cannot decode, flagged, and reports the device', () => withGateway(async (g) => {
    const fwd = await g.forwarder();
    await fwd.uplink(SimulatedNode.abp(ABP).uplink(lpp('0367')));
    await waitFor('the undecoded reading', () => g.readings.length === 1);
    const r = g.readings[0]!;
    assert.equal(r.metric, 'payload_undecoded');
    assert.equal(r.value, null);
    assert.deepEqual(r.quality, { score: 0, flags: ['codec_bad_output'] });
    assert.equal(r.meta!.payload, '0367');
    assert.equal(g.status('node-1')?.state, 'degraded');
    assert.match(g.status('node-1')!.detail!, /Cayenne LPP: temperature on channel 3 needs 2 bytes/);
    assert.equal(await metricValue(g.metrics, 'fieldproof_gateway_codec_failures_total', { device: 'node-1', reason: 'bad_output' }), 1);
  }));

  it('stops a device codec that loops forever, reports it, and keeps serving the other devices', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fieldproof-gateway-test-'));
    const codecFile = join(dataDir, 'looping.js');
    writeFileSync(codecFile, 'function decodeUplink(input) { if (input.bytes[0] === 0xff) for (;;) {} return { data: { level_pct: input.bytes[0] } }; }');
    const config = testGatewayConfig({ codecTimeoutMs: 50 });
    config.devices[0]!.codec = codecFile;
    const g = new GatewayFixture(config, dataDir);
    await g.start();
    try {
      const fwd = await g.forwarder();
      const abp = SimulatedNode.abp(ABP);
      await fwd.uplink(abp.uplink(Buffer.from([0xff])));
      await fwd.uplink(abp.uplink(Buffer.from([40])));
      await waitFor('two readings', () => g.readings.length === 2);
      assert.deepEqual(g.readings.map((r) => [r.metric, r.value, r.quality?.flags ?? []]), [['payload_undecoded', null, ['codec_timeout']], ['level_pct', 40, []]]);
      assert.equal(await metricValue(g.metrics, 'fieldproof_gateway_codec_failures_total', { device: 'node-1', reason: 'timeout' }), 1);
      assert.ok(g.statuses.some((s) => s.id === 'node-1' && s.state === 'degraded' && /ran past 50 ms/.test(s.detail ?? '')));
      assert.ok((await fwd.pull()) >= 0, 'the listener answers');
    } finally {
      await g.stop();
    }
  });

  it('counts uplinks from DevAddrs it does not serve', () => withGateway(async (g) => {
    const fwd = await g.forwarder();
    await fwd.uplink(SimulatedNode.abp({ ...ABP, devAddr: '26011bda' }).uplink(lpp(TEMP_27_2)));
    await waitFor('the count', async () => (await uplinks(g, 'unknown_devaddr')) === 1);
    assert.equal(g.readings.length, 0);
  }));
});

describe('LoRaWAN network server, on the receive times the test gives it', () => {
  it('acknowledges a confirmed frame sent again as often as a node retransmits, and a recording replayed beyond that not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fieldproof-ns-'));
    const store = new SessionStore(dir, silentLogger());
    await store.open();
    const metrics = new Registry();
    const sent: TxPacket[] = [];
    const config = testGatewayConfig();
    const server = new LorawanNetworkServer({
      config, devices: config.devices.map((d) => ({ config: d, codec: new CayenneLppCodec() })), store, metrics, log: silentLogger(),
      emit: () => {}, downlink: { sendDownlink: (_gw, txpk) => (sent.push(txpk), sent.length) },
    });
    await server.start();
    try {
      const node = SimulatedNode.abp(ABP);
      const data = node.uplink(lpp(TEMP_27_2), { confirmed: true }).toString('base64');
      // The first reception, then the same frame every 2 s: a node retransmitting, then someone
      // who recorded it sending it on and on, each copy past the dedup window.
      const heardAt = (i: number) => [{ gateway: GW1, receivedAt: 1_000_000 + i * 2000, rx: { tmst: i * 1_000_000, freq: 868.1, datr: 'SF7BW125', modu: 'LORA', rssi: -80, lsnr: 5, stat: 1, data } satisfies RxPacket }];
      for (let i = 0; i <= MAX_RETRANSMISSION_ACKS + 5; i++) server.handleUplinks(heardAt(i));
      assert.equal(sent.length, 1 + MAX_RETRANSMISSION_ACKS, 'one ACK and one for each retransmission a node makes');
      assert.ok(sent.every((tx) => node.decodeDownlink(Buffer.from(tx.data, 'base64')).ack));
      assert.equal(await metricValue(metrics, 'fieldproof_gateway_uplinks_total', { result: 'retransmission_limit' }), 5);
      // the node's next frame is acknowledged as ever
      server.handleUplinks([{ ...heardAt(20)[0]!, rx: { ...heardAt(20)[0]!.rx, data: node.uplink(lpp(TEMP_27_2), { confirmed: true }).toString('base64') } }]);
      assert.equal(sent.length, 2 + MAX_RETRANSMISSION_ACKS);
    } finally {
      await server.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// The site's own LoRaWAN 1.0.x network and application server: it routes each received frame to its
// device session, checks the MIC and the frame counter, decrypts the payload, runs the device's
// codec and hands the values on as readings. It answers OTAA JoinRequests and confirmed uplinks
// through the gateway that heard them best.
//
// Frames arrive in batches from the UDP listener. Within a batch, copies of one frame (heard by
// several gateways, or twice by one) are merged first, keeping the strongest signal's metadata; a
// copy arriving in a later batch is recognised by its counter and MIC. Codecs run once per batch
// per device.
import { randomBytes, randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DriverStatus } from '../drivers/types.ts';
import type { JsonValue } from '../protocol/canonical.ts';
import type { ReadingInput } from '../protocol/records.ts';
import { counter } from '../runtime/metrics.ts';
import type { Codec, CodecOutcome, UplinkInput } from './codecs/codec.ts';
import type { GatewayConfig, LorawanDeviceConfig } from './config.ts';
import { ThrottledWarn } from '../runtime/log-throttle.ts';
import { cryptPayload, dataMic, sessionCrypto, UP, type SessionCrypto } from './lorawan/crypto.ts';
import { judgeFCnt, rebuildFCnt } from './lorawan/fcnt.ts';
import { buildDataDown, devAddrHex, parseUplink, type DataFrame, type JoinRequestFrame } from './lorawan/frame.ts';
import { buildJoinAccept, deriveSessionKeys, joinRequestMicValid } from './lorawan/join.ts';
import { JOIN_ACCEPT_DELAY1, REGIONS, type Channel, type Region } from './lorawan/region.ts';
import type { RxPacket, TxPacket } from './semtech/packets.ts';
import type { ReceivedRx } from './semtech/udp-server.ts';
import { newSessionId, type SessionStore, type StoredSession } from './session-store.ts';

/** Copies of one frame arriving within this long of the first are the same reception, not a retransmission. */
export const DEDUP_WINDOW_MS = 1500;
/** How long a downlink waits for its TX_ACK before it is forgotten. */
const PENDING_DOWNLINK_MS = 30_000;
/** Status updates for a device that only counted more readings go out at most this often. */
const STATUS_INTERVAL_MS = 5000;

export interface DownlinkSender {
  /** Returns the PULL_RESP token, or null when the gateway has no downlink path. */
  sendDownlink(gateway: string, txpk: TxPacket): number | null;
}

export interface NetworkServerDeps {
  config: GatewayConfig;
  devices: { config: LorawanDeviceConfig; codec: Codec }[];
  store: SessionStore;
  emit(reading: ReadingInput): void;
  statusChanged?(status: DriverStatus): void;
  downlink: DownlinkSender;
  log: Logger;
  metrics: Registry;
  now?: () => number;
}

interface Device {
  config: LorawanDeviceConfig;
  codec: Codec;
  session: StoredSession | null;
  crypto: SessionCrypto | null;
  status: DriverStatus;
  statusSentAt: number;
}

interface PendingDownlink {
  gateway: string;
  deviceId: string;
  kind: 'ack' | 'join_accept';
  window: 'rx1' | 'rx2';
  rx: RxPacket;
  phy: Buffer;
  delayS: number;
  at: number;
}

interface DecodeItem {
  device: Device;
  input: UplinkInput;
  meta: { [key: string]: JsonValue };
  receivedAt: number;
}

export class LorawanNetworkServer {
  private readonly devices = new Map<string, Device>();
  private readonly byDevAddr = new Map<number, Device>();
  private readonly byDevEui = new Map<string, Device>();
  private readonly pending = new Map<number, PendingDownlink>();
  private joinChain: Promise<void> = Promise.resolve();
  private readonly region: Region;
  private readonly netId: Buffer;
  private readonly now: () => number;
  private readonly warn: ThrottledWarn;
  private readonly m;
  private readonly accepted;
  private readonly duplicates;
  private readonly readingsCount;

  constructor(private readonly deps: NetworkServerDeps) {
    this.region = REGIONS[deps.config.region];
    this.netId = Buffer.from(deps.config.netId, 'hex');
    this.now = deps.now ?? Date.now;
    this.warn = new ThrottledWarn(deps.log);
    const reg = deps.metrics;
    this.m = {
      uplinks: counter(reg, 'fieldproof_gateway_uplinks_total', 'LoRaWAN uplink frames, by outcome (accepted, duplicate, replay, bad_mic, unknown_devaddr, ...)', ['result']),
      joins: counter(reg, 'fieldproof_gateway_joins_total', 'OTAA JoinRequests, by outcome', ['result']),
      readings: counter(reg, 'fieldproof_gateway_readings_total', 'Readings handed to the pipeline from decoded uplinks'),
      codecFailures: counter(reg, 'fieldproof_gateway_codec_failures_total', 'Uplinks a codec could not decode, by device and reason', ['device', 'reason']),
      downlinks: counter(reg, 'fieldproof_gateway_downlinks_total', 'Downlinks, by kind and outcome', ['kind', 'result']),
    };
    this.accepted = this.m.uplinks.labels('accepted');
    this.duplicates = this.m.uplinks.labels('duplicate');
    this.readingsCount = this.m.readings;
  }

  /** Load stored sessions; ABP devices whose configured keys changed start counting afresh. */
  async start(): Promise<void> {
    const stored = await this.deps.store.loadSessions();
    const now = this.now();
    for (const { config, codec } of this.deps.devices) {
      const device: Device = {
        config,
        codec,
        session: null,
        crypto: null,
        status: { id: config.id, kind: 'lorawan', state: 'starting', readings: 0, errors: 0 },
        statusSentAt: 0,
      };
      let session = stored.get(config.id) ?? null;
      if (config.activation === 'abp') {
        if (!session || session.activation !== 'abp' || session.devAddr !== config.devAddr || session.nwkSKey !== config.nwkSKey || session.appSKey !== config.appSKey) {
          if (session) this.deps.log.info({ device: config.id }, 'ABP keys or address changed in the config; frame counters start afresh');
          session = {
            deviceId: config.id, sid: newSessionId(), activation: 'abp', devAddr: config.devAddr, nwkSKey: config.nwkSKey, appSKey: config.appSKey,
            fCntUp: -1, fCntDown: 0, lastMic: null, lastUplinkAt: null,
          };
          await this.deps.store.saveNow(session);
        }
        device.status.detail = 'waiting for the first uplink';
      } else {
        this.byDevEui.set(config.devEui, device);
        if (session && session.activation !== 'otaa') session = null;
        device.status.detail = session ? 'joined before; waiting for the next uplink' : 'waiting for a JoinRequest';
      }
      if (session) this.installSession(device, session);
      this.devices.set(config.id, device);
      this.publishStatus(device, now, true);
    }
    for (const id of stored.keys()) if (!this.devices.has(id)) this.deps.log.info({ device: id }, 'stored session of a device no longer configured is kept but unused');
  }

  /** Wait for joins in progress and for session writes. */
  async stop(): Promise<void> {
    await this.joinChain;
    await this.deps.store.flush();
  }

  statuses(): DriverStatus[] {
    return [...this.devices.values()].map((d) => ({ ...d.status }));
  }

  session(deviceId: string): Readonly<StoredSession> | null {
    return this.devices.get(deviceId)?.session ?? null;
  }

  private installSession(device: Device, session: StoredSession): void {
    if (device.session) {
      const old = parseInt(device.session.devAddr, 16);
      if (this.byDevAddr.get(old) === device) this.byDevAddr.delete(old);
    }
    device.session = session;
    device.crypto = sessionCrypto(Buffer.from(session.nwkSKey, 'hex'), Buffer.from(session.appSKey, 'hex'));
    const addr = parseInt(session.devAddr, 16);
    const other = this.byDevAddr.get(addr);
    if (other && other !== device) this.deps.log.warn({ device: device.config.id, other: other.config.id, devAddr: session.devAddr }, 'two devices share a DevAddr; the later one wins');
    this.byDevAddr.set(addr, device);
  }

  // ------------------------------------------------------------------ uplinks

  handleUplinks(batch: readonly ReceivedRx[]): void {
    // Copies of one PHYPayload within the batch: keep the best-heard, count the gateways.
    const groups = new Map<string, { best: ReceivedRx; copies: number }>();
    for (const r of batch) {
      const g = groups.get(r.rx.data);
      if (!g) groups.set(r.rx.data, { best: r, copies: 1 });
      else {
        g.copies++;
        if (better(r.rx, g.best.rx)) g.best = r;
        this.duplicates.inc();
      }
    }
    const decode: DecodeItem[] = [];
    for (const [data, g] of groups) {
      const phy = Buffer.from(data, 'base64');
      const frame = parseUplink(phy);
      if (typeof frame === 'string') {
        this.m.uplinks.inc({ result: frame });
        continue;
      }
      if (frame.kind === 'join-request') this.queueJoin(frame, phy, g.best);
      else this.handleData(frame, g.best, g.copies, decode);
    }
    if (decode.length > 0) this.runCodecs(decode);
  }

  private handleData(frame: DataFrame, heard: ReceivedRx, copies: number, decode: DecodeItem[]): void {
    const device = this.byDevAddr.get(frame.devAddr);
    if (!device || !device.session || !device.crypto) {
      // Often a node of a neighbouring network: counted, logged at debug level only.
      this.m.uplinks.inc({ result: 'unknown_devaddr' });
      this.deps.log.debug({ devAddr: devAddrHex(frame.devAddr) }, 'uplink from an unknown DevAddr');
      return;
    }
    const s = device.session;
    const keys = device.crypto;
    const fCnt32 = rebuildFCnt(s.fCntUp, frame.fCnt16);
    const verdict = judgeFCnt(s.fCntUp, fCnt32);
    if (verdict === 'repeat') {
      if (frame.mic === s.lastMic) {
        this.duplicates.inc();
        // A confirmed frame heard again after the dedup window is the node retransmitting because
        // our ACK did not reach it: acknowledge again, store nothing.
        if (frame.confirmed && s.lastUplinkAt !== null && heard.receivedAt - s.lastUplinkAt > DEDUP_WINDOW_MS) {
          s.lastUplinkAt = heard.receivedAt;
          this.sendAck(device, heard);
        }
      } else this.refuse(device, 'replay', frame);
      return;
    }
    if (dataMic(keys.nwk, UP, frame.devAddr, fCnt32, frame.msg) !== frame.mic) {
      // Tell an old counter replayed (valid MIC with the lower candidate) from a wrong key or noise.
      const older = fCnt32 - 0x10000;
      const replay = older >= 0 && older <= s.fCntUp && dataMic(keys.nwk, UP, frame.devAddr, older, frame.msg) === frame.mic;
      this.refuse(device, replay ? 'replay' : 'bad_mic', frame);
      return;
    }
    if (verdict === 'too_far') {
      this.refuse(device, 'fcnt_gap', frame);
      return;
    }
    s.fCntUp = fCnt32;
    s.lastMic = frame.mic;
    s.lastUplinkAt = heard.receivedAt;
    this.deps.store.markDirty(s);
    this.accepted.inc();
    if (frame.confirmed) this.sendAck(device, heard);
    if (frame.fPort === null || frame.frmPayload.length === 0) {
      this.m.uplinks.inc({ result: 'no_payload' });
      this.markHeard(device, heard.receivedAt);
      return;
    }
    if (frame.fPort === 0) {
      // MAC commands only; this server does not manage the radio settings of its nodes.
      this.m.uplinks.inc({ result: 'mac_commands_only' });
      this.markHeard(device, heard.receivedAt);
      return;
    }
    const plain = cryptPayload(keys.app, UP, frame.devAddr, fCnt32, frame.frmPayload);
    const rx = heard.rx;
    const meta: { [key: string]: JsonValue } = {
      fcnt: fCnt32,
      fport: frame.fPort,
      gateway: heard.gateway,
      rssi: rx.rssi,
      frequency: rx.freq,
      dataRate: rx.datr,
    };
    if (rx.lsnr !== undefined) meta.snr = rx.lsnr;
    if (copies > 1) meta.gateways = copies;
    decode.push({ device, input: { bytes: plain, fPort: frame.fPort, recvTime: heard.receivedAt }, meta, receivedAt: heard.receivedAt });
  }

  private refuse(device: Device, result: 'replay' | 'bad_mic' | 'fcnt_gap', frame: DataFrame): void {
    this.m.uplinks.inc({ result });
    device.status.errors++;
    const last = device.session?.fCntUp;
    this.warn.warn(`${result}:${device.config.id}`, { device: device.config.id, fCnt16: frame.fCnt16, lastFCnt: last }, {
      replay: 'refused a replayed or old frame counter',
      bad_mic: 'refused an uplink whose MIC does not match the session key',
      fcnt_gap: 'refused an uplink whose frame counter jumped too far ahead',
    }[result]);
  }

  private markHeard(device: Device, at: number): void {
    device.status.lastReadingAt = at;
    if (device.status.state === 'starting') {
      device.status.state = 'ok';
      delete device.status.detail;
    }
    this.publishStatus(device, at, false);
  }

  private runCodecs(items: DecodeItem[]): void {
    const byCodec = new Map<Codec, DecodeItem[]>();
    for (const it of items) {
      const list = byCodec.get(it.device.codec);
      if (list) list.push(it);
      else byCodec.set(it.device.codec, [it]);
    }
    for (const [codec, list] of byCodec) {
      let outcomes: CodecOutcome[];
      try {
        outcomes = codec.decodeBatch(list.map((i) => i.input));
      } catch (err) {
        const error = `codec failed: ${(err as Error).message}`;
        outcomes = list.map(() => ({ ok: false, reason: 'threw', error }));
      }
      for (let i = 0; i < list.length; i++) this.emitOutcome(list[i]!, outcomes[i]!);
    }
  }

  private emitOutcome(item: DecodeItem, outcome: CodecOutcome): void {
    const { device, meta, receivedAt } = item;
    const id = device.config.id;
    if (!outcome.ok) {
      // The payload is kept, signed like everything else, so that it can be decoded later.
      this.m.codecFailures.inc({ device: id, reason: outcome.reason });
      device.status.errors++;
      this.warn.warn(`codec:${id}:${outcome.reason}`, { device: id, error: outcome.error }, 'codec could not decode an uplink; its raw payload is journaled');
      this.deps.emit({
        sensor: id,
        metric: 'payload_undecoded',
        ts: receivedAt,
        value: null,
        unit: '',
        quality: { score: 0, flags: [`codec_${outcome.reason}`] },
        meta: { ...meta, payload: Buffer.from(item.input.bytes).toString('hex') },
      });
      const detail = `codec: ${outcome.error}`;
      const changed = device.status.state !== 'degraded' || device.status.detail !== detail;
      device.status.state = 'degraded';
      device.status.detail = detail;
      device.status.lastReadingAt = receivedAt;
      this.publishStatus(device, receivedAt, changed);
      return;
    }
    for (const r of outcome.readings) {
      this.deps.emit({
        sensor: r.channel === undefined ? id : `${id}-${r.channel}`,
        metric: r.metric,
        ts: receivedAt,
        value: r.value,
        unit: r.unit,
        meta,
      });
    }
    this.readingsCount.inc(outcome.readings.length);
    device.status.readings += outcome.readings.length;
    device.status.lastReadingAt = receivedAt;
    const changed = device.status.state !== 'ok';
    if (changed) {
      device.status.state = 'ok';
      delete device.status.detail;
    }
    this.publishStatus(device, receivedAt, changed);
  }

  private publishStatus(device: Device, now: number, force: boolean): void {
    if (!this.deps.statusChanged) return;
    if (!force && now - device.statusSentAt < STATUS_INTERVAL_MS) return;
    device.statusSentAt = now;
    this.deps.statusChanged({ ...device.status });
  }

  // ------------------------------------------------------------------ downlinks

  private sendAck(device: Device, heard: ReceivedRx): void {
    const s = device.session!;
    const phy = buildDataDown({ devAddr: parseInt(s.devAddr, 16), fCnt32: s.fCntDown, ack: true }, device.crypto!);
    s.fCntDown = (s.fCntDown + 1) >>> 0;
    this.deps.store.markDirty(s);
    this.schedule({ gateway: heard.gateway, deviceId: device.config.id, kind: 'ack', rx: heard.rx, phy, delayS: this.deps.config.rx1Delay }, this.deps.config.downlinkWindow);
  }

  /** Send a class A downlink in the given window; false when it could not be handed to a gateway. */
  private schedule(d: Omit<PendingDownlink, 'window' | 'at'>, window: 'rx1' | 'rx2'): boolean {
    if (d.rx.tmst === undefined) {
      this.m.downlinks.inc({ kind: d.kind, result: 'no_timestamp' });
      return false;
    }
    // RX1 follows the uplink's channel; an FSK uplink (numeric datr) or one off the plan's channels
    // gets its answer in RX2, which is LoRa in every plan here.
    let ch: Channel | null = null;
    if (window === 'rx1' && typeof d.rx.datr === 'string') ch = this.region.rx1({ freq: d.rx.freq, datr: d.rx.datr });
    if (!ch) {
      ch = this.region.rx2;
      window = 'rx2';
    }
    let delay = d.delayS;
    if (window === 'rx2') delay += 1;
    const txpk: TxPacket = {
      imme: false,
      tmst: (d.rx.tmst + delay * 1_000_000) >>> 0,
      freq: ch.freq,
      rfch: 0,
      powe: this.deps.config.txPower,
      modu: 'LORA',
      datr: ch.datr,
      codr: '4/5',
      ipol: true,
      size: d.phy.length,
      data: d.phy.toString('base64'),
    };
    const token = this.deps.downlink.sendDownlink(d.gateway, txpk);
    if (token === null) {
      this.m.downlinks.inc({ kind: d.kind, result: 'no_downlink_path' });
      this.warn.warn(`no_path:${d.gateway}`, { gateway: d.gateway, device: d.deviceId, kind: d.kind }, 'cannot send a downlink: the gateway has sent no PULL_DATA');
      return false;
    }
    this.m.downlinks.inc({ kind: d.kind, result: `sent_${window}` });
    const now = this.now();
    this.pending.set(token, { ...d, window, at: now });
    for (const [t, p] of this.pending) {
      if (now - p.at < PENDING_DOWNLINK_MS) break;
      this.pending.delete(t);
    }
    return true;
  }

  /** A gateway's verdict on a downlink: on refusal, try the other receive window once. */
  handleTxAck(gateway: string, token: number, error: string): void {
    const p = this.pending.get(token);
    if (!p || p.gateway !== gateway) return;
    this.pending.delete(token);
    if (error === 'NONE') {
      this.m.downlinks.inc({ kind: p.kind, result: 'scheduled' });
      return;
    }
    this.m.downlinks.inc({ kind: p.kind, result: `refused_${error.toLowerCase()}` });
    if (p.window === 'rx1' && error !== 'TX_POWER' && error !== 'GPS_UNLOCKED') {
      this.schedule({ gateway: p.gateway, deviceId: p.deviceId, kind: p.kind, rx: p.rx, phy: p.phy, delayS: p.delayS }, 'rx2');
    }
  }

  // ------------------------------------------------------------------ joins

  private queueJoin(frame: JoinRequestFrame, phy: Buffer, heard: ReceivedRx): void {
    this.joinChain = this.joinChain
      .then(() => this.handleJoin(frame, phy, heard))
      .catch((err) => {
        this.m.joins.inc({ result: 'error' });
        this.deps.log.error({ err: (err as Error).message, devEui: frame.devEui }, 'join failed');
      });
  }

  private async handleJoin(frame: JoinRequestFrame, phy: Buffer, heard: ReceivedRx): Promise<void> {
    const device = this.byDevEui.get(frame.devEui);
    if (!device || device.config.activation !== 'otaa') {
      this.m.joins.inc({ result: 'unknown_deveui' });
      this.deps.log.debug({ devEui: frame.devEui }, 'JoinRequest from an unknown DevEUI');
      return;
    }
    const cfg = device.config;
    if (cfg.joinEui !== frame.joinEui) {
      this.m.joins.inc({ result: 'joineui_mismatch' });
      this.warn.warn(`joineui:${cfg.id}`, { device: cfg.id, joinEui: frame.joinEui }, 'refused a JoinRequest naming another JoinEUI');
      return;
    }
    const appKey = Buffer.from(cfg.appKey, 'hex');
    if (!joinRequestMicValid(phy, appKey)) {
      this.m.joins.inc({ result: 'bad_mic' });
      device.status.errors++;
      this.warn.warn(`join_mic:${cfg.id}`, { device: cfg.id }, 'refused a JoinRequest whose MIC does not match the AppKey');
      return;
    }
    const s = device.session;
    if (s?.devNonce === frame.devNonce && s.joinedAt !== undefined && heard.receivedAt - s.joinedAt < DEDUP_WINDOW_MS) {
      this.m.joins.inc({ result: 'duplicate' });
      return;
    }
    if (!(await this.deps.store.useNonce(cfg.devEui, frame.devNonce, heard.receivedAt))) {
      this.m.joins.inc({ result: 'devnonce_replay' });
      device.status.errors++;
      this.warn.warn(`devnonce:${cfg.id}`, { device: cfg.id, devNonce: frame.devNonce }, 'refused a JoinRequest reusing a DevNonce (a replay, or a node with a broken nonce source)');
      return;
    }
    const appNonce = randomBytes(3);
    const devAddr = this.allocateDevAddr();
    const keys = deriveSessionKeys(appKey, this.netId, appNonce, frame.devNonce);
    const session: StoredSession = {
      deviceId: cfg.id,
      sid: newSessionId(),
      activation: 'otaa',
      devAddr: devAddrHex(devAddr),
      nwkSKey: keys.nwkSKey.toString('hex'),
      appSKey: keys.appSKey.toString('hex'),
      fCntUp: -1,
      fCntDown: 0,
      lastMic: null,
      lastUplinkAt: null,
      joinedAt: heard.receivedAt,
      devNonce: frame.devNonce,
    };
    await this.deps.store.saveNow(session);
    this.installSession(device, session);
    const addrBuf = Buffer.alloc(4);
    addrBuf.writeUInt32BE(devAddr);
    const accept = buildJoinAccept({ appKey, appNonce, netId: this.netId, devAddr: addrBuf, dlSettings: 0, rxDelay: this.deps.config.rx1Delay });
    const sent = this.schedule({ gateway: heard.gateway, deviceId: cfg.id, kind: 'join_accept', rx: heard.rx, phy: accept, delayS: JOIN_ACCEPT_DELAY1 }, this.deps.config.downlinkWindow);
    this.m.joins.inc({ result: sent ? 'accepted' : 'accepted_not_sent' });
    this.deps.log.info({ device: cfg.id, devAddr: session.devAddr, gateway: heard.gateway, sent }, 'OTAA join accepted');
    device.status.state = 'starting';
    device.status.detail = 'joined; waiting for the first uplink';
    this.publishStatus(device, heard.receivedAt, true);
  }

  /** A free DevAddr in our NetID's range: type 0, NwkID = the NetID's low 6 bits, 25 random bits. */
  private allocateDevAddr(): number {
    const nwkId = this.netId[2]! & 0x3f;
    for (;;) {
      const addr = ((nwkId << 25) | randomInt(0, 1 << 25)) >>> 0;
      if (!this.byDevAddr.has(addr)) return addr;
    }
  }
}

/** Stronger signal first; SNR breaks ties. */
function better(a: RxPacket, b: RxPacket): boolean {
  if (a.rssi !== b.rssi) return a.rssi > b.rssi;
  return (a.lsnr ?? -Infinity) > (b.lsnr ?? -Infinity);
}

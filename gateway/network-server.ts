// The site's own LoRaWAN 1.0.x network and application server: it routes each received frame to its
// device session, checks the MIC and the frame counter, decrypts the payload, runs the device's
// codec and hands the values on as readings. It answers OTAA JoinRequests (join-server.ts) and
// confirmed uplinks, and sends queued application downlinks (downlink-queue.ts) in the receive
// windows after a device's uplinks, through the gateway that heard them best.
//
// Frames arrive in batches from the UDP listener. Within a batch, copies of one frame (heard by
// several gateways, or twice by one) are merged first, keeping the strongest signal's metadata; a
// copy arriving in a later batch is recognised by its counter and MIC. Codecs run once per batch
// per device.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DriverStatus } from '../kernel/source.ts';
import type { JsonValue } from '../protocol/canonical.ts';
import type { ReadingInput } from '../protocol/records.ts';
import type { DownlinkAsk, DownlinkService, DownlinkView } from '../kernel/component.ts';
import { counter } from '../kernel/metrics.ts';
import type { Codec } from './codecs/codec.ts';
import type { GatewayConfig, LorawanDeviceConfig } from './config.ts';
import { DownlinkQueue, prepareDownlink, view } from './downlink-queue.ts';
import { DownlinkScheduler, type DownlinkSender } from './downlink-scheduler.ts';
import { ThrottledWarn } from '../kernel/log-throttle.ts';
import { cryptPayload, dataMic, sessionCrypto, UP, type SessionCrypto } from './lorawan/crypto.ts';
import { judgeFCnt, rebuildFCnt } from './lorawan/fcnt.ts';
import { JoinServer } from './join-server.ts';
import { buildDataDown, devAddrHex, FCTRL_ACK, parseUplink, type DataFrame } from './lorawan/frame.ts';
import { REGIONS } from './lorawan/region.ts';
import type { RxPacket } from './semtech/packets.ts';
import type { ReceivedRx } from './semtech/udp-server.ts';
import { newSessionId, type SessionStore, type StoredSession } from './session-store.ts';
import { UplinkDecoder, type DecodeItem } from './uplink-decoder.ts';

/** Copies of one frame arriving within this long of the first are the same reception, not a retransmission. */
export const DEDUP_WINDOW_MS = 1500;
/**
 * ACKs sent again for one confirmed frame. A LoRaWAN 1.0.x node sends a confirmed frame at most 8
 * times; anyone who recorded one over the air can send it on for ever (its MIC holds), and each ACK
 * is a transmission of the site's gateway, whose airtime its duty cycle limits for every node.
 */
export const MAX_RETRANSMISSION_ACKS = 7;
/** Status updates for a device that only counted more readings go out at most this often. */
const STATUS_INTERVAL_MS = 5000;

export type { DownlinkSender } from './downlink-scheduler.ts';

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
  id: string;
  config: LorawanDeviceConfig;
  codec: Codec;
  session: StoredSession | null;
  crypto: SessionCrypto | null;
  status: DriverStatus;
  statusSentAt: number;
  /** ACKs sent again for the session's last frame (reset by the next frame) */
  reAcks: number;
}

export class LorawanNetworkServer implements DownlinkService {
  private readonly devices = new Map<string, Device>();
  private readonly byDevAddr = new Map<number, Device>();
  private readonly byDevEui = new Map<string, Device>();
  private readonly joins: JoinServer;
  private readonly netId: Buffer;
  private readonly decoder: UplinkDecoder;
  private readonly queue: DownlinkQueue;
  private readonly scheduler: DownlinkScheduler;
  private readonly now: () => number;
  private readonly warn: ThrottledWarn;
  private readonly m;
  private readonly accepted;
  private readonly duplicates;

  private readonly deps: NetworkServerDeps;

  constructor(deps: NetworkServerDeps) {
    this.deps = deps;
    this.netId = Buffer.from(deps.config.netId, 'hex');
    this.now = deps.now ?? Date.now;
    this.warn = new ThrottledWarn(deps.log);
    const reg = deps.metrics;
    this.m = {
      uplinks: counter(reg, 'fieldproof_gateway_uplinks_total', 'LoRaWAN uplink frames, by outcome (accepted, duplicate, replay, bad_mic, unknown_devaddr, ...)', ['result']),
      joins: counter(reg, 'fieldproof_gateway_joins_total', 'OTAA JoinRequests, by outcome', ['result']),
      downlinks: counter(reg, 'fieldproof_gateway_downlinks_total', 'Downlinks, by kind and outcome', ['kind', 'result']),
    };
    this.accepted = this.m.uplinks.labels('accepted');
    this.duplicates = this.m.uplinks.labels('duplicate');
    this.decoder = new UplinkDecoder({
      emit: deps.emit,
      statusChanged: (d, at, force) => this.publishStatus(d as Device, at, force),
      warn: this.warn,
      log: deps.log,
      metrics: deps.metrics,
    });
    this.queue = new DownlinkQueue(deps.emit, this.now);
    this.scheduler = new DownlinkScheduler({
      config: deps.config,
      region: REGIONS[deps.config.region],
      sender: deps.downlink,
      downlinks: this.m.downlinks,
      warn: this.warn,
      now: this.now,
      appSent: (item, fCntDown, info) => this.queue.sent(item, fCntDown, info),
      appNotSent: (item, error) => this.queue.notSent(item, error),
    });
    this.joins = new JoinServer({
      config: deps.config, netId: this.netId, store: deps.store, scheduler: this.scheduler, joins: this.m.joins, warn: this.warn, log: deps.log,
      dedupWindowMs: DEDUP_WINDOW_MS,
      device: (devEui) => this.byDevEui.get(devEui),
      devAddrTaken: (addr) => this.byDevAddr.has(addr),
      joined: (device, session, at) => {
        const d = device as Device;
        this.installSession(d, session);
        d.status.state = 'starting';
        d.status.detail = 'joined; waiting for the first uplink';
        this.publishStatus(d, at, true);
      },
    });
  }

  /** Load stored sessions; ABP devices whose configured keys changed start counting afresh. */
  async start(): Promise<void> {
    const stored = await this.deps.store.loadSessions();
    const now = this.now();
    for (const { config, codec } of this.deps.devices) {
      const device: Device = {
        id: config.id,
        config,
        codec,
        session: null,
        crypto: null,
        status: { id: config.id, kind: 'lorawan', state: 'starting', readings: 0, errors: 0 },
        statusSentAt: 0,
        reAcks: 0,
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

  /** Wait for joins and decoding in progress, and for session writes. */
  async stop(): Promise<void> {
    await this.joins.drain();
    await this.decoder.drain();
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
      if (frame.kind === 'join-request') this.joins.queue(frame, phy, g.best);
      else this.handleData(frame, g.best, g.copies, decode);
    }
    if (decode.length > 0) this.decoder.decode(decode);
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
          if (device.reAcks >= MAX_RETRANSMISSION_ACKS) {
            this.m.uplinks.inc({ result: 'retransmission_limit' });
            this.warn.warn(`retransmissions:${device.config.id}`, { device: device.config.id, fCnt: s.fCntUp, acked: MAX_RETRANSMISSION_ACKS + 1 }, 'a confirmed frame sent again after its ACKs ran out (a recording replayed?): not acknowledged again');
            return;
          }
          device.reAcks++;
          this.answer(device, heard, true, false);
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
    device.reAcks = 0;
    this.deps.store.markDirty(s);
    this.accepted.inc();
    // A confirmed downlink sent after the previous uplink is acknowledged (or not) by this one.
    this.queue.uplinkHeard(device.id, (frame.fCtrl & FCTRL_ACK) !== 0);
    this.answer(device, heard, frame.confirmed, true);
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
    decode.push({ device, input: { bytes: plain, fPort: frame.fPort, recvTime: heard.receivedAt, variables: device.config.codecVariables }, meta, receivedAt: heard.receivedAt });
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

  private publishStatus(device: Device, now: number, force: boolean): void {
    if (!this.deps.statusChanged) return;
    if (!force && now - device.statusSentAt < STATUS_INTERVAL_MS) return;
    device.statusSentAt = now;
    this.deps.statusChanged({ ...device.status });
  }

  // ------------------------------------------------------------------ downlinks

  // ------------------------------------------------------------------ downlinks

  /**
   * The receive windows after an uplink: the next queued application downlink (carrying the ACK
   * when the uplink asked for one), or a bare ACK. `fresh` is false for a retransmission, which
   * gets its ACK again but not the queue's next downlink.
   */
  private answer(device: Device, heard: ReceivedRx, ack: boolean, fresh: boolean): void {
    const next = fresh ? this.queue.take(device.id) : null;
    if (!next && !ack) return;
    const s = device.session!;
    const fCntDown = s.fCntDown;
    const phy = buildDataDown({
      devAddr: parseInt(s.devAddr, 16), fCnt32: fCntDown, ack,
      ...(next ? { confirmed: next.item.confirmed, fPort: next.item.fPort, payload: next.item.bytes, fPending: next.more } : {}),
    }, device.crypto!);
    s.fCntDown = (s.fCntDown + 1) >>> 0;
    this.deps.store.markDirty(s);
    this.scheduler.send({
      gateway: heard.gateway, deviceId: device.id, kind: next ? 'data' : 'ack', rx: heard.rx, phy, delayS: this.deps.config.rx1Delay,
      ...(next ? { app: { item: next.item, fCntDown } } : {}),
    }, this.deps.config.downlinkWindow);
  }

  handleTxAck(gateway: string, token: number, error: string): void {
    this.scheduler.handleTxAck(gateway, token, error);
  }

  /** Queue an application downlink for a device's next receive window (the local API's POST). */
  async enqueue(ask: DownlinkAsk): Promise<{ ok: true; downlink: DownlinkView } | { ok: false; status: number; error: string }> {
    const device = this.devices.get(ask.device);
    if (!device) return { ok: false, status: 404, error: `no LoRaWAN device ${JSON.stringify(ask.device)} in gateway.devices` };
    const d = await prepareDownlink(ask, { id: device.id, codec: device.codec, variables: device.config.codecVariables });
    if (!d.ok) return d;
    const item = this.queue.add(d.downlink);
    if (!item) return { ok: false, status: 409, error: `${device.id} has as many downlinks queued as it may (${this.queue.pending(device.id)})` };
    return { ok: true, downlink: view(item) };
  }

  list(device?: string): DownlinkView[] {
    return this.queue.list(device);
  }
}

/** Stronger signal first; SNR breaks ties. */
function better(a: RxPacket, b: RxPacket): boolean {
  if (a.rssi !== b.rssi) return a.rssi > b.rssi;
  return (a.lsnr ?? -Infinity) > (b.lsnr ?? -Infinity);
}

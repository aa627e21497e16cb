// A test packet forwarder and simulated LoRaWAN nodes, for the tests, the demo and the benchmark.
// This is a simulator, said plainly: no radio is involved. But everything past the radio is real:
// the forwarder is a UDP client speaking the Semtech protocol to the listener over a real socket
// (PUSH_DATA, PULL_DATA keep-alives, PULL_RESP answered with TX_ACK), and the nodes build real
// LoRaWAN 1.0.x frames with lora-packet: encrypted payloads, MICs, JoinRequests, and they open
// the JoinAccepts and ACKs the server sends back.
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { Cmac } from './lorawan/crypto.ts';
import { loraPacket } from './lorawan/join.ts';
import { FCTRL_ACK, MTYPE } from './lorawan/frame.ts';
import {
  encodeGatewayDatagram, PULL_ACK, PULL_DATA, PULL_RESP, PUSH_ACK, PUSH_DATA, TX_ACK,
  type GatewayStat, type RxPacket, type TxPacket,
} from './semtech/packets.ts';

// ---------------------------------------------------------------------------------- nodes

export interface AbpKeys {
  devAddr: string;
  nwkSKey: string;
  appSKey: string;
}

export interface OtaaKeys {
  devEui: string;
  joinEui: string;
  appKey: string;
}

export interface UplinkOptions {
  fPort?: number;
  confirmed?: boolean;
  /** use this counter instead of the next one (replays, gaps) */
  fCnt?: number;
  /** acknowledge the confirmed downlink received last (the FCtrl ACK bit) */
  ack?: boolean;
}

export interface DecodedDownlink {
  mtype: number;
  ack: boolean;
  fCnt: number;
  fPort: number | null;
  payload: Buffer;
}

/** One simulated end device: keeps its session and frame counter as a real node does. */
export class SimulatedNode {
  private session: AbpKeys | null;
  private fCntUp = 0;
  private lastDevNonce: number | null = null;

  readonly otaa: OtaaKeys | null;

  private constructor(
    session: AbpKeys | null,
    otaa: OtaaKeys | null,
  ) {
    this.otaa = otaa;
    this.session = session;
  }

  static abp(keys: AbpKeys): SimulatedNode {
    return new SimulatedNode({ ...keys }, null);
  }

  static otaa(keys: OtaaKeys): SimulatedNode {
    return new SimulatedNode(null, { ...keys });
  }

  get joined(): boolean {
    return this.session !== null;
  }

  get keys(): AbpKeys | null {
    return this.session ? { ...this.session } : null;
  }

  /** The counter the next uplink will carry. */
  get nextFCnt(): number {
    return this.fCntUp;
  }

  set nextFCnt(n: number) {
    this.fCntUp = n;
  }

  /** A data uplink (PHYPayload), encrypted and MIC'd with the session keys. */
  uplink(payload: Buffer, o: UplinkOptions = {}): Buffer {
    const s = this.session;
    if (!s) throw new Error('node has not joined');
    const fCnt = o.fCnt ?? this.fCntUp++;
    const msb = Buffer.alloc(2);
    msb.writeUInt16LE(Math.floor(fCnt / 0x10000) & 0xffff);
    const packet = loraPacket.fromFields(
      {
        MType: o.confirmed ? 'Confirmed Data Up' : 'Unconfirmed Data Up',
        DevAddr: Buffer.from(s.devAddr, 'hex'),
        FCtrl: { ADR: false, ACK: o.ack === true, ADRACKReq: false, FPending: false },
        FCnt: fCnt & 0xffff,
        FPort: o.fPort ?? 1,
        payload,
      },
      Buffer.from(s.appSKey, 'hex'),
      Buffer.from(s.nwkSKey, 'hex'),
      undefined,
      msb,
    );
    return packet.getPHYPayload() as Buffer;
  }

  /** A JoinRequest with a fresh random DevNonce (or the one given, to replay). */
  joinRequest(devNonce?: number): Buffer {
    const k = this.otaa;
    if (!k) throw new Error('an ABP node does not join');
    const nonce = devNonce ?? randomInt(0, 0x10000);
    this.lastDevNonce = nonce;
    const n = Buffer.alloc(2);
    n.writeUInt16BE(nonce);
    const packet = loraPacket.fromFields(
      { MType: 'Join Request', AppEUI: Buffer.from(k.joinEui, 'hex'), DevEUI: Buffer.from(k.devEui, 'hex'), DevNonce: n },
      undefined,
      undefined,
      Buffer.from(k.appKey, 'hex'),
    );
    return packet.getPHYPayload() as Buffer;
  }

  /** Open a JoinAccept as the device does: decrypt, check the MIC, derive the session keys. */
  acceptJoin(phy: Buffer): AbpKeys {
    const k = this.otaa;
    if (!k || this.lastDevNonce === null) throw new Error('no JoinRequest outstanding');
    const appKey = Buffer.from(k.appKey, 'hex');
    if (phy.length < 17 || phy[0]! >> 5 !== MTYPE.JoinAccept) throw new Error('not a JoinAccept');
    const clearBytes = loraPacket.decryptJoinAccept(loraPacket.fromWire(phy), appKey);
    // The LoRaWAN 1.0 MIC, checked directly: with a wrong key the decrypted DLSettings is noise, and
    // lora-packet would read its OptNeg bit as a 1.1 JoinAccept and ask for 1.1 fields.
    const micAt = clearBytes.length - 4;
    if (new Cmac(appKey).mic(clearBytes.subarray(0, micAt)) !== clearBytes.readUInt32BE(micAt)) throw new Error('JoinAccept MIC does not verify with the AppKey');
    const clear = loraPacket.fromWire(clearBytes);
    const nonce = Buffer.alloc(2);
    nonce.writeUInt16BE(this.lastDevNonce);
    const keys = loraPacket.generateSessionKeys10(appKey, clear.NetID!, clear.AppNonce!, nonce);
    this.session = { devAddr: clear.DevAddr!.toString('hex'), nwkSKey: keys.NwkSKey.toString('hex'), appSKey: keys.AppSKey.toString('hex') };
    this.fCntUp = 0;
    return { ...this.session };
  }

  /** Check and decode a data downlink addressed to this node. */
  decodeDownlink(phy: Buffer): DecodedDownlink {
    const s = this.session;
    if (!s) throw new Error('node has not joined');
    const p = loraPacket.fromWire(phy);
    if (p.getDir() !== 'down' || !p.DevAddr || p.DevAddr.toString('hex') !== s.devAddr) throw new Error('downlink is not for this node');
    const nwk = Buffer.from(s.nwkSKey, 'hex');
    if (!loraPacket.verifyMIC(p, nwk)) throw new Error('downlink MIC does not verify');
    const fPort = p.getFPort();
    const payload = fPort === null || !p.FRMPayload || p.FRMPayload.length === 0 ? Buffer.alloc(0) : loraPacket.decrypt(p, Buffer.from(s.appSKey, 'hex'), nwk);
    return { mtype: phy[0]! >> 5, ack: (phy[5]! & FCTRL_ACK) !== 0, fCnt: p.getFCnt()!, fPort, payload };
  }
}

/** An rxpk entry as a packet forwarder reports a frame it heard. */
export function rxpkFor(phy: Buffer, o: Partial<RxPacket> = {}): RxPacket {
  return {
    time: new Date().toISOString(),
    tmst: randomInt(0, 0xffffffff),
    chan: 0,
    rfch: 0,
    freq: 868.1,
    stat: 1,
    modu: 'LORA',
    datr: 'SF7BW125',
    codr: '4/5',
    rssi: -57,
    lsnr: 9.5,
    size: phy.length,
    data: phy.toString('base64'),
    ...o,
  };
}

// ---------------------------------------------------------------------------------- forwarder

export interface ForwarderOptions {
  /** the listener, as `{host, port}` or as its own address() gives it */
  server: { host: string; port: number } | { address: string; port: number };
  /** gateway EUI, 16 hex digits */
  eui: string;
  /** PULL_DATA keep-alive interval; 0 sends one at start only */
  pullIntervalMs?: number;
  /** what TX_ACK reports for each PULL_RESP: NONE (scheduled) by default */
  txAckError?: (txpk: TxPacket) => string;
  /** ms to wait for an ack */
  ackTimeoutMs?: number;
  /** the address to send from (another loopback address such as 127.0.0.2 plays another host) */
  localAddress?: string;
}

export interface ReceivedDownlink {
  token: number;
  txpk: TxPacket;
  phy: Buffer;
  at: number;
}

type Waiter<T> = { resolve: (v: T) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

/** A Semtech UDP packet forwarder, as a gateway runs it, over a real UDP socket. */
export class SimulatedForwarder {
  private socket: Socket | null = null;
  private token = randomInt(0, 0x10000);
  private pullTimer: NodeJS.Timeout | null = null;
  private readonly pushWaiters = new Map<number, Waiter<number> & { sentAt: number }>();
  private readonly pullWaiters = new Map<number, Waiter<number>>();
  private readonly downlinkQueue: ReceivedDownlink[] = [];
  private readonly downlinkWaiters: Waiter<ReceivedDownlink>[] = [];
  /** what came back that the forwarder did not expect */
  unexpected = 0;
  pushAcks = 0;
  pullAcks = 0;

  private readonly host: string;
  private readonly port: number;

  private readonly opts: ForwarderOptions;

  constructor(opts: ForwarderOptions) {
    this.opts = opts;
    const s = opts.server;
    this.host = 'host' in s ? s.host : s.address;
    this.port = s.port;
  }

  async start(): Promise<void> {
    const socket = createSocket(this.host.includes(':') ? 'udp6' : 'udp4');
    socket.on('message', (msg) => this.onMessage(msg));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, this.opts.localAddress, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    this.socket = socket;
    await this.pull();
    const every = this.opts.pullIntervalMs ?? 10_000;
    if (every > 0) {
      this.pullTimer = setInterval(() => void this.pull().catch(() => undefined), every);
      this.pullTimer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.pullTimer) clearInterval(this.pullTimer);
    this.pullTimer = null;
    const failAll = <T>(waiters: Iterable<Waiter<T>>) => {
      for (const w of waiters) {
        clearTimeout(w.timer);
        w.reject(new Error('forwarder stopped'));
      }
    };
    failAll(this.pushWaiters.values());
    failAll(this.pullWaiters.values());
    failAll(this.downlinkWaiters);
    this.pushWaiters.clear();
    this.pullWaiters.clear();
    this.downlinkWaiters.length = 0;
    const s = this.socket;
    this.socket = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  private nextToken(): number {
    this.token = (this.token + 1) & 0xffff;
    return this.token;
  }

  /** PULL_DATA; resolves with the ms until PULL_ACK. */
  pull(): Promise<number> {
    const token = this.nextToken();
    const sentAt = performance.now();
    const p = this.wait(this.pullWaiters, token, 'PULL_ACK');
    this.sendRaw(encodeGatewayDatagram(PULL_DATA, token, this.opts.eui));
    return p.then(() => performance.now() - sentAt);
  }

  /** PUSH_DATA with these packets (and a stat object); resolves with the ms until PUSH_ACK. */
  push(rxpk: RxPacket[], stat?: GatewayStat): Promise<number> {
    const body: { rxpk?: RxPacket[]; stat?: GatewayStat } = {};
    if (rxpk.length > 0) body.rxpk = rxpk;
    if (stat) body.stat = stat;
    return this.pushBody(body);
  }

  /** PUSH_DATA with any JSON body, for testing what the listener does with odd ones. */
  pushBody(body: unknown): Promise<number> {
    const token = this.nextToken();
    const sentAt = performance.now();
    const p = this.wait(this.pushWaiters, token, 'PUSH_ACK', sentAt);
    this.sendRaw(encodeGatewayDatagram(PUSH_DATA, token, this.opts.eui, body));
    return p;
  }

  /** Send a frame heard by this gateway; resolves with the ack time. */
  uplink(phy: Buffer, rx: Partial<RxPacket> = {}): Promise<number> {
    return this.push([rxpkFor(phy, rx)]);
  }

  /** Any bytes at all, from this forwarder's socket. */
  sendRaw(datagram: Buffer): void {
    if (!this.socket) throw new Error('forwarder not started');
    this.socket.send(datagram, this.port, this.host);
  }

  /** The next PULL_RESP (already answered with TX_ACK). */
  nextDownlink(timeoutMs = 10_000): Promise<ReceivedDownlink> {
    const queued = this.downlinkQueue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const w: Waiter<ReceivedDownlink> = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.downlinkWaiters.splice(this.downlinkWaiters.indexOf(w), 1);
          reject(new Error(`no PULL_RESP within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.downlinkWaiters.push(w);
    });
  }

  pendingDownlinks(): number {
    return this.downlinkQueue.length;
  }

  private wait(map: Map<number, Waiter<number>>, token: number, what: string, sentAt = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        map.delete(token);
        reject(new Error(`no ${what} for token ${token} within ${this.opts.ackTimeoutMs ?? 2000} ms`));
      }, this.opts.ackTimeoutMs ?? 2000);
      map.set(token, { resolve, reject, timer, sentAt } as Waiter<number>);
    });
  }

  private onMessage(msg: Buffer): void {
    if (msg.length < 4 || msg[0] !== 2) {
      this.unexpected++;
      return;
    }
    const token = msg.readUInt16BE(1);
    const ident = msg[3];
    if (ident === PUSH_ACK && msg.length === 4) {
      const w = this.pushWaiters.get(token) as (Waiter<number> & { sentAt: number }) | undefined;
      if (!w) return void this.unexpected++;
      this.pushWaiters.delete(token);
      clearTimeout(w.timer);
      this.pushAcks++;
      w.resolve(performance.now() - w.sentAt);
    } else if (ident === PULL_ACK && msg.length === 4) {
      const w = this.pullWaiters.get(token);
      if (!w) return void this.unexpected++;
      this.pullWaiters.delete(token);
      clearTimeout(w.timer);
      this.pullAcks++;
      w.resolve(0);
    } else if (ident === PULL_RESP) {
      let txpk: TxPacket;
      try {
        txpk = (JSON.parse(msg.toString('utf8', 4)) as { txpk: TxPacket }).txpk;
      } catch {
        this.unexpected++;
        return;
      }
      const error = this.opts.txAckError?.(txpk) ?? 'NONE';
      this.sendRaw(encodeGatewayDatagram(TX_ACK, token, this.opts.eui, { txpk_ack: { error } }));
      if (error !== 'NONE') return;
      const d: ReceivedDownlink = { token, txpk, phy: Buffer.from(txpk.data, 'base64'), at: Date.now() };
      const w = this.downlinkWaiters.shift();
      if (w) {
        clearTimeout(w.timer);
        w.resolve(d);
      } else this.downlinkQueue.push(d);
    } else this.unexpected++;
  }
}

// ---------------------------------------------------------------------------------- a whole site

export interface SimulatedSiteOptions {
  server: ForwarderOptions['server'];
  /** the gateway's device list (as in the config): ABP nodes start sending, OTAA nodes join first */
  devices: ({ id: string; activation: 'abp' } & AbpKeys | { id: string; activation: 'otaa' } & OtaaKeys)[];
  eui?: string;
  /** each node sends one uplink per interval, spread over it */
  intervalMs?: number;
  /** for a repeatable run */
  seed?: number;
  onError?: (err: Error) => void;
}

/**
 * A packet forwarder and its nodes sending Cayenne LPP temperature and humidity on a timer, for
 * the demo: a site with LoRa sensors, minus the radio. OTAA nodes join (and retry) before sending.
 */
export class SimulatedSite {
  private forwarder: SimulatedForwarder | null = null;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  uplinks = 0;

  private readonly opts: SimulatedSiteOptions;

  constructor(opts: SimulatedSiteOptions) {
    this.opts = opts;
  }

  async start(): Promise<void> {
    this.stopped = false;
    const fwd = new SimulatedForwarder({ server: this.opts.server, eui: this.opts.eui ?? 'b827ebfffe000001', pullIntervalMs: 5000 });
    await fwd.start();
    this.forwarder = fwd;
    const every = this.opts.intervalMs ?? 10_000;
    let seed = this.opts.seed ?? 1;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    this.opts.devices.forEach((d, i) => {
      const node = d.activation === 'abp' ? SimulatedNode.abp(d) : SimulatedNode.otaa(d);
      const base = 18 + rand() * 8;
      const send = async () => {
        if (this.stopped) return;
        try {
          if (!node.joined) {
            await fwd.uplink(node.joinRequest());
            node.acceptJoin((await fwd.nextDownlink(8000)).phy);
          }
          const t = Math.round((base + 3 * Math.sin(Date.now() / 600_000 + i) + (rand() - 0.5) * 0.4) * 10);
          const rh = Math.round((55 + 15 * Math.sin(Date.now() / 900_000 + i)) * 2);
          const payload = Buffer.from([1, 0x67, (t >> 8) & 0xff, t & 0xff, 2, 0x68, rh & 0xff]);
          await fwd.uplink(node.uplink(payload), { rssi: -60 - Math.round(rand() * 50), lsnr: Math.round((10 - rand() * 15) * 10) / 10 });
          this.uplinks++;
        } catch (err) {
          if (!this.stopped) this.opts.onError?.(err as Error);
        }
      };
      const first = setTimeout(() => {
        void send();
        const t = setInterval(() => void send(), every);
        this.timers.push(t);
      }, Math.round((every * i) / Math.max(1, this.opts.devices.length)));
      this.timers.push(first);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    await this.forwarder?.stop();
    this.forwarder = null;
  }
}

// A simulated packet forwarder: a UDP client speaking the Semtech protocol to the listener over a
// real socket (PUSH_DATA, PULL_DATA keep-alives, PULL_RESP answered with TX_ACK). No radio.
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { encodeGatewayDatagram, PULL_ACK, PULL_DATA, PULL_RESP, PUSH_ACK, PUSH_DATA, TX_ACK, type GatewayStat, type RxPacket, type TxPacket } from '../semtech/packets.ts';
import { rxpkFor } from './node.ts';

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

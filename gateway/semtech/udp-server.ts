// The network-server end of the Semtech UDP protocol. Each PUSH_DATA is acknowledged the moment it
// arrives, before its JSON is even parsed (the forwarder's ackr statistic measures exactly this);
// the packets are queued and decoded in batches on later turns of the event loop, each turn kept
// to about a millisecond so that acks for newer datagrams are not held up behind decoding.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { counter, gauge } from '../../runtime/metrics.ts';
import { ThrottledWarn } from '../log-throttle.ts';
import {
  encodeAck, encodePullResp, GATEWAY_HEADER, gatewayEui, parsePushData, parseTxAck, PULL_ACK, PULL_DATA, PUSH_ACK, PUSH_DATA,
  readHeader, STAT_COUNTERS, TX_ACK, type GatewayStat, type RxPacket, type TxPacket,
} from './packets.ts';

/** One radio packet as heard by one gateway. */
export interface ReceivedRx {
  gateway: string;
  rx: RxPacket;
  /** ms since the epoch when the datagram arrived */
  receivedAt: number;
}

export interface SemtechHandlers {
  /** A batch of valid rxpk entries, in arrival order; called synchronously from the decode loop. */
  onUplinks(batch: ReceivedRx[]): void;
  onStat?(gateway: string, stat: GatewayStat): void;
  /** The gateway's answer to a PULL_RESP we sent with this token. */
  onTxAck?(gateway: string, token: number, error: string): void;
  /** A gateway heard from for the first time (or again after being forgotten). */
  onNewGateway?(gateway: string): void;
}

export interface SemtechServerOptions {
  host: string;
  port: number;
  log: Logger;
  metrics: Registry;
  handlers: SemtechHandlers;
  /** datagrams decoded together (one codec call per device per batch) */
  batchMax?: number;
  /** longest a run of batches holds the event loop before the socket is read (and acked) again, ms */
  turnBudgetMs?: number;
  /** PUSH_DATA queued but not yet decoded beyond which new ones are refused (not acked) */
  maxQueue?: number;
  /** kernel receive buffer; bursts from many gateways need more than the default */
  recvBufferBytes?: number;
  /** when given, datagrams from any other gateway EUI are ignored */
  allowedGateways?: string[];
  /** gateways tracked at once; beyond it the one heard from longest ago is forgotten */
  maxGateways?: number;
}

interface QueuedPush {
  gateway: string;
  body: Buffer;
  receivedAt: number;
}

export interface GatewayInfo {
  eui: string;
  lastSeenAt: number;
  /** where PULL_RESP goes: the address of the last PULL_DATA */
  pull?: { address: string; port: number; version: number; at: number };
  stat?: GatewayStat;
}

export class SemtechUdpServer {
  private socket: Socket | null = null;
  private queue: QueuedPush[] = [];
  private queueHead = 0;
  private drainScheduled = false;
  private readonly gatewayInfo = new Map<string, GatewayInfo>();
  private nextToken = Math.floor(Math.random() * 0x10000);
  private readonly warn: ThrottledWarn;
  private readonly batchMax: number;
  private readonly turnBudgetMs: number;
  private readonly maxQueue: number;
  private readonly maxGateways: number;
  private readonly allowed: Set<string> | null;
  private readonly m;
  private readonly pushCount;
  private readonly pullCount;
  private readonly txAckCount;

  constructor(private readonly opts: SemtechServerOptions) {
    this.warn = new ThrottledWarn(opts.log);
    this.batchMax = opts.batchMax ?? 64;
    this.turnBudgetMs = opts.turnBudgetMs ?? 1;
    this.maxQueue = opts.maxQueue ?? 100_000;
    this.maxGateways = opts.maxGateways ?? 1000;
    this.allowed = opts.allowedGateways ? new Set(opts.allowedGateways.map((e) => e.toLowerCase())) : null;
    const reg = opts.metrics;
    this.m = {
      datagrams: counter(reg, 'fieldproof_gateway_datagrams_total', 'Semtech UDP datagrams received, by type', ['type']),
      rejected: counter(reg, 'fieldproof_gateway_datagrams_rejected_total', 'Datagrams ignored as malformed or unexpected, by reason', ['reason']),
      rxpkRejected: counter(reg, 'fieldproof_gateway_rxpk_rejected_total', 'Received radio packets dropped before LoRaWAN decoding, by reason', ['reason']),
      txAck: counter(reg, 'fieldproof_gateway_tx_ack_total', 'TX_ACK answers from gateways, by error (NONE = scheduled)', ['error']),
      pullResp: counter(reg, 'fieldproof_gateway_pull_resp_total', 'Downlinks handed to a gateway, or not, by result', ['result']),
      stat: gauge(reg, 'fieldproof_gateway_stat', 'Last status figures each gateway reported (rxnb, rxok, rxfw, ackr, dwnb, txnb, position)', ['gateway', 'field']),
      gateways: gauge(reg, 'fieldproof_gateway_gateways', 'Gateways heard from since start'),
      queued: gauge(reg, 'fieldproof_gateway_queued_datagrams', 'PUSH_DATA acknowledged and waiting to be decoded'),
    };
    this.pushCount = this.m.datagrams.labels('push_data');
    this.pullCount = this.m.datagrams.labels('pull_data');
    this.txAckCount = this.m.datagrams.labels('tx_ack');
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = createSocket({ type: this.opts.host.includes(':') ? 'udp6' : 'udp4' });
      socket.once('error', reject);
      socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
      socket.bind(this.opts.port, this.opts.host, () => {
        socket.off('error', reject);
        socket.on('error', (err) => this.opts.log.error({ err: err.message }, 'gateway UDP socket error'));
        if (this.opts.recvBufferBytes) {
          try {
            socket.setRecvBufferSize(this.opts.recvBufferBytes);
          } catch (err) {
            this.opts.log.warn({ err: (err as Error).message }, 'could not enlarge the UDP receive buffer');
          }
        }
        this.socket = socket;
        const a = socket.address();
        this.opts.log.info({ address: a.address, port: a.port }, 'Semtech UDP listener up');
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    const socket = this.socket;
    this.socket = null;
    // Decode what was already acknowledged: the forwarder will not send it again.
    this.drain(Number.POSITIVE_INFINITY);
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  address(): { address: string; port: number } {
    if (!this.socket) throw new Error('listener not started');
    const a = this.socket.address();
    return { address: a.address, port: a.port };
  }

  gateways(): GatewayInfo[] {
    return [...this.gatewayInfo.values()];
  }

  /**
   * Send a PULL_RESP to a gateway through the address of its last PULL_DATA.
   * Returns the token (its TX_ACK carries it back), or null when the gateway has opened no downlink path.
   */
  sendDownlink(gateway: string, txpk: TxPacket): number | null {
    const info = this.gatewayInfo.get(gateway);
    if (!this.socket || !info?.pull) {
      this.m.pullResp.inc({ result: 'no_downlink_path' });
      return null;
    }
    const token = this.nextToken;
    this.nextToken = (this.nextToken + 1) & 0xffff;
    this.socket.send(encodePullResp(info.pull.version, token, txpk), info.pull.port, info.pull.address, (err) => {
      if (err) {
        this.m.pullResp.inc({ result: 'send_error' });
        this.opts.log.warn({ gateway, err: err.message }, 'PULL_RESP send failed');
      }
    });
    this.m.pullResp.inc({ result: 'sent' });
    return token;
  }

  private reject(reason: string, rinfo: RemoteInfo): void {
    this.m.rejected.inc({ reason });
    this.warn.warn(reason, { from: `${rinfo.address}:${rinfo.port}` }, 'ignored a malformed Semtech UDP datagram');
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const h = readHeader(msg);
    if (typeof h === 'string') return this.reject(h, rinfo);
    const socket = this.socket;
    if (!socket) return;
    const gateway = gatewayEui(msg);
    if (this.allowed && !this.allowed.has(gateway)) return this.reject('unknown_gateway', rinfo);
    const now = Date.now();
    let info = this.gatewayInfo.get(gateway);
    if (!info) {
      if (this.gatewayInfo.size >= this.maxGateways) this.forgetStalestGateway();
      info = { eui: gateway, lastSeenAt: now };
      this.gatewayInfo.set(gateway, info);
      this.m.gateways.set(this.gatewayInfo.size);
      this.opts.log.info({ gateway, from: `${rinfo.address}:${rinfo.port}` }, 'new gateway');
      this.opts.handlers.onNewGateway?.(gateway);
    }
    info.lastSeenAt = now;
    switch (h.ident) {
      case PUSH_DATA: {
        this.pushCount.inc();
        if (this.queue.length - this.queueHead >= this.maxQueue) return this.reject('overload', rinfo);
        socket.send(encodeAck(h.version, h.token, PUSH_ACK), rinfo.port, rinfo.address);
        this.queue.push({ gateway, body: msg.subarray(GATEWAY_HEADER), receivedAt: now });
        if (!this.drainScheduled) {
          this.drainScheduled = true;
          setImmediate(() => this.drainTurn());
        }
        return;
      }
      case PULL_DATA: {
        this.pullCount.inc();
        const known = info.pull;
        if (!known || known.address !== rinfo.address || known.port !== rinfo.port) {
          this.opts.log.info({ gateway, address: rinfo.address, port: rinfo.port }, 'gateway downlink path');
        }
        info.pull = { address: rinfo.address, port: rinfo.port, version: h.version, at: now };
        socket.send(encodeAck(h.version, h.token, PULL_ACK), rinfo.port, rinfo.address);
        return;
      }
      case TX_ACK: {
        this.txAckCount.inc();
        const error = parseTxAck(msg.subarray(GATEWAY_HEADER));
        this.m.txAck.inc({ error });
        if (error !== 'NONE') this.warn.warn(`tx_ack_${error}`, { gateway, token: h.token, error }, 'gateway refused a downlink');
        this.opts.handlers.onTxAck?.(gateway, h.token, error);
        return;
      }
    }
  }

  /** Bounded memory against a flood of made-up EUIs: forget the gateway heard from longest ago. */
  private forgetStalestGateway(): void {
    let oldest: GatewayInfo | undefined;
    for (const g of this.gatewayInfo.values()) if (!oldest || g.lastSeenAt < oldest.lastSeenAt) oldest = g;
    if (!oldest) return;
    this.gatewayInfo.delete(oldest.eui);
    for (const field of STAT_COUNTERS) this.m.stat.remove({ gateway: oldest.eui, field });
  }

  /** Batches until the turn's time budget is spent, then back to the poll phase for new datagrams. */
  private drainTurn(): void {
    this.drainScheduled = false;
    const until = performance.now() + this.turnBudgetMs;
    do this.drain(this.batchMax);
    while (this.queue.length > this.queueHead && performance.now() < until);
    if (this.queue.length > this.queueHead && !this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(() => this.drainTurn());
    }
  }

  /** Decode up to `max` queued PUSH_DATA and hand their packets on as one batch. */
  private drain(max: number): void {
    const end = Math.min(this.queue.length, this.queueHead + max);
    if (end === this.queueHead) return;
    const batch: ReceivedRx[] = [];
    for (let i = this.queueHead; i < end; i++) {
      const q = this.queue[i]!;
      const body = parsePushData(q.body);
      if (typeof body === 'string') {
        this.m.rejected.inc({ reason: body });
        this.warn.warn(body, { gateway: q.gateway }, 'ignored a PUSH_DATA whose JSON is unusable');
        continue;
      }
      for (const reason of body.rejected) {
        this.m.rxpkRejected.inc({ reason });
        if (reason !== 'crc_failed') this.warn.warn(`rxpk_${reason}`, { gateway: q.gateway }, 'ignored a malformed rxpk entry');
      }
      for (const rx of body.rxpk) batch.push({ gateway: q.gateway, rx, receivedAt: q.receivedAt });
      if (body.stat) this.recordStat(q.gateway, body.stat);
    }
    if (end === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    } else {
      this.queueHead = end;
      // Compact now and then so the array does not grow without bound under sustained load.
      if (this.queueHead > 4096) {
        this.queue = this.queue.slice(this.queueHead);
        this.queueHead = 0;
      }
    }
    this.m.queued.set(this.queue.length - this.queueHead);
    if (batch.length > 0) {
      try {
        this.opts.handlers.onUplinks(batch);
      } catch (err) {
        // A fault in decoding must not stop the listener; the handler counts its own failures.
        this.opts.log.error({ err: (err as Error).message }, 'uplink batch handler failed');
      }
    }
  }

  private recordStat(gateway: string, stat: GatewayStat): void {
    const info = this.gatewayInfo.get(gateway);
    if (info) info.stat = stat;
    for (const field of STAT_COUNTERS) {
      const v = stat[field];
      if (typeof v === 'number' && Number.isFinite(v)) this.m.stat.set({ gateway, field }, v);
    }
    this.opts.handlers.onStat?.(gateway, stat);
  }
}

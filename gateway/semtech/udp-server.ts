// The network-server end of the Semtech UDP protocol. Each PUSH_DATA is acknowledged the moment it
// arrives, before its JSON is even parsed (the forwarder's ackr statistic measures exactly this), by
// a worker thread that owns the socket: the ack never waits behind this thread's garbage collection,
// journal commits or decoding. The worker hands every datagram on in batches; here the packets are
// queued and decoded in batches on later turns of the event loop, each turn kept to about a
// millisecond. PULL_ACK is sent from here, once the downlink path is recorded, so a gateway that holds
// its PULL_ACK can be sent downlinks at once. The queue between the two threads is bounded in count
// and in bytes (the socket thread drops, and counts, what does not fit); downlink paths are pinned
// to the address that opened them (gateway-table.ts).
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { counter, gauge } from '../../kernel/metrics.ts';
import { ThrottledWarn } from '../../kernel/log-throttle.ts';
import { DecodeQueue, type BatchHold, type QueuedPush } from './decode-queue.ts';
import { GatewayTable, type Endpoint, type GatewayInfo } from './gateway-table.ts';
import {
  encodeAck, encodePullResp, GATEWAY_HEADER, gatewayEui, parsePushData, parseTxAck, PULL_ACK, PULL_DATA, PUSH_DATA,
  readHeader, STAT_COUNTERS, TX_ACK, type GatewayStat, type RxPacket, type TxPacket,
} from './packets.ts';
import { PUSH_ACKED, readBatch, type SocketWorkerData, type SocketWorkerReply, type SocketWorkerRequest } from './socket-protocol.ts';

export type { GatewayInfo };

/** Packets after which a decode batch takes no more datagrams: one datagram may carry some 650. */
export const MAX_RX_PER_BATCH = 256;
/** PUSH_DATA taken from the queue at a time while a batch fills */
export const DATAGRAMS_PER_TAKE = 4;

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
  /** bytes of datagrams read but not yet decoded beyond which new ones are dropped (PUSH_DATA not acked) */
  maxQueueBytes?: number;
  /** how long a gateway's downlink path stays with its address after the last PULL_DATA from there, ms */
  downlinkPinMs?: number;
  /** kernel receive buffer; bursts from many gateways need more than the default */
  recvBufferBytes?: number;
  /** nice value of the socket thread (the one that sends PUSH_ACK); below 0 needs CAP_SYS_NICE */
  socketThreadNice?: number;
  /** when given, datagrams from any other gateway EUI are ignored */
  allowedGateways?: string[];
  /** gateways tracked at once; beyond it the one heard from longest ago is forgotten */
  maxGateways?: number;
}

export class SemtechUdpServer {
  private worker: Worker | null = null;
  private bound: { address: string; port: number } | null = null;
  /** the socket thread's id and nice value, once its priority is set */
  private thread: { tid: number; nice: number } | null = null;
  /** stop() has begun: datagrams still arriving are handed on, but nothing more is sent */
  private closing = false;
  private readonly queue: DecodeQueue;
  private drainScheduled = false;
  private readonly table: GatewayTable;
  private nextToken = Math.floor(Math.random() * 0x10000);
  private readonly warn: ThrottledWarn;
  /** new gateways: a few lines per interval, so that a flood of made-up EUIs cannot fill the log */
  private readonly newGatewayLog: ThrottledWarn;
  private readonly batchMax: number;
  private readonly turnBudgetMs: number;
  private readonly allowed: Set<string> | null;
  private readonly m;
  private readonly pushCount;
  private readonly pullCount;
  private readonly txAckCount;

  private readonly opts: SemtechServerOptions;

  constructor(opts: SemtechServerOptions) {
    this.opts = opts;
    this.warn = new ThrottledWarn(opts.log);
    this.newGatewayLog = new ThrottledWarn(opts.log, 10_000, Date.now, 10);
    this.batchMax = opts.batchMax ?? 64;
    this.turnBudgetMs = opts.turnBudgetMs ?? 1;
    this.table = new GatewayTable(opts.maxGateways ?? 1000, opts.downlinkPinMs ?? 30_000, (eui) => {
      for (const field of STAT_COUNTERS) this.m.stat.remove({ gateway: eui, field });
    });
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
      threadNice: gauge(reg, 'fieldproof_gateway_socket_thread_nice', 'nice value the Semtech UDP socket thread runs at, once set'),
    };
    this.queue = new DecodeQueue(reg, this.warn, { maxQueue: opts.maxQueue ?? 100_000, maxQueueBytes: opts.maxQueueBytes ?? 32 * 1024 * 1024 });
    this.pushCount = this.m.datagrams.labels('push_data');
    this.pullCount = this.m.datagrams.labels('pull_data');
    this.txAckCount = this.m.datagrams.labels('tx_ack');
  }

  start(): Promise<void> {
    this.queue.reset();
    return new Promise((resolve, reject) => {
      const data: SocketWorkerData = {
        host: this.opts.host,
        port: this.opts.port,
        ...(this.opts.recvBufferBytes ? { recvBufferBytes: this.opts.recvBufferBytes } : {}),
        ...(this.opts.socketThreadNice !== undefined ? { threadNice: this.opts.socketThreadNice } : {}),
        allowedGateways: this.allowed ? [...this.allowed] : null,
        queue: this.queue.shared.buffer as SharedArrayBuffer,
        ...this.queue.limits,
      };
      const worker = new Worker(new URL('./socket-worker.ts', import.meta.url), { workerData: data });
      let listening = false;
      worker.on('message', (r: SocketWorkerReply) => {
        switch (r.type) {
          case 'batch':
            this.onBatch(r.data);
            return;
          case 'dropped':
            this.queue.sync();
            return;
          case 'listening':
            listening = true;
            this.worker = worker;
            this.bound = { address: r.address, port: r.port };
            this.opts.log.info({ address: r.address, port: r.port }, 'Semtech UDP listener up');
            resolve();
            return;
          case 'bind_failed':
            // the code crosses the thread boundary so that the caller can tell "in use" from the rest
            reject(Object.assign(new Error(r.message), { code: r.code }));
            return;
          case 'thread_nice':
            this.thread = { tid: r.tid, nice: r.nice };
            this.m.threadNice.set(r.nice);
            this.opts.log.info({ tid: r.tid, nice: r.nice }, 'Semtech UDP socket thread priority set');
            return;
          case 'thread_nice_failed':
            // The listener works all the same; its acks may wait behind the rest of the daemon.
            this.opts.log.warn({ nice: r.nice, err: r.message }, 'could not set the Semtech UDP socket thread priority');
            return;
          case 'recv_buffer_failed':
            this.opts.log.warn({ err: r.message }, 'could not enlarge the UDP receive buffer');
            return;
          case 'socket_error':
            this.opts.log.error({ err: r.message }, 'gateway UDP socket error');
            return;
          case 'send_failed':
            if (r.what === 'pull_resp') this.m.pullResp.inc({ result: 'send_error' });
            this.opts.log.warn({ gateway: r.gateway, err: r.message }, `${r.what === 'pull_resp' ? 'PULL_RESP' : 'PULL_ACK'} send failed`);
            return;
          case 'closed':
            return;
        }
      });
      worker.on('error', (err) => {
        this.opts.log.error({ err: err.message }, 'gateway UDP socket thread failed');
        if (!listening) reject(err);
      });
      worker.on('exit', (code) => {
        if (this.closing || this.worker !== worker) return;
        // Not asked to stop: the listener is gone, and whoever reads the log must hear of it.
        this.worker = null;
        this.bound = null;
        this.opts.log.error({ code }, 'gateway UDP socket thread exited; the listener is down');
      });
    });
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    if (worker) {
      this.closing = true;
      // The worker closes the socket and hands on what it has read (PUSH_DATA it acknowledged
      // included); its batches arrive before 'exit'.
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      this.post(worker, { type: 'close' });
      await exited;
      this.worker = null;
      this.closing = false;
    }
    this.bound = null;
    // Decode what was already acknowledged: the forwarder will not send it again.
    this.drain(Number.POSITIVE_INFINITY);
  }

  socketThread(): { tid: number; nice: number } | null {
    return this.thread && { ...this.thread };
  }

  address(): { address: string; port: number } {
    if (!this.bound) throw new Error('listener not started');
    return { ...this.bound };
  }

  private post(worker: Worker, req: SocketWorkerRequest): void {
    worker.postMessage(req);
  }

  gateways(): GatewayInfo[] {
    return this.table.list();
  }

  /**
   * Send a PULL_RESP to a gateway through the address of its last PULL_DATA.
   * Returns the token (its TX_ACK carries it back), or null when the gateway has opened no downlink path.
   */
  sendDownlink(gateway: string, txpk: TxPacket): number | null {
    const info = this.table.get(gateway);
    const worker = this.worker;
    if (!worker || this.closing || !info?.pull) {
      this.m.pullResp.inc({ result: 'no_downlink_path' });
      return null;
    }
    const token = this.nextToken;
    this.nextToken = (this.nextToken + 1) & 0xffff;
    const data = encodePullResp(info.pull.version, token, txpk);
    this.post(worker, { type: 'send', data, port: info.pull.port, address: info.pull.address, what: 'pull_resp', gateway });
    this.m.pullResp.inc({ result: 'sent' });
    return token;
  }

  private reject(reason: string, from: Endpoint, fields: Record<string, unknown> = {}): void {
    this.m.rejected.inc({ reason });
    this.warn.warn(reason, { ...fields, from: `${from.address}:${from.port}` }, 'ignored a malformed or unexpected Semtech UDP datagram');
  }

  /** A batch from the socket thread; its bytes are released once its last queued PUSH_DATA is decoded. */
  private onBatch(data: ArrayBuffer): void {
    const hold = this.queue.open(data.byteLength);
    for (const d of readBatch(data)) this.onDatagram(d.msg, { address: d.address, port: d.port }, d.flags, d.receivedAt, hold);
    this.queue.close(hold);
  }

  /** A datagram the worker read at `now`; `flags` says whether it acknowledged it (PUSH_DATA only). */
  private onDatagram(msg: Buffer, from: Endpoint, flags: number, now: number, hold: BatchHold): void {
    const h = readHeader(msg);
    if (typeof h === 'string') return this.reject(h, from);
    const worker = this.worker;
    if (!worker) return;
    const gateway = gatewayEui(msg);
    if (this.allowed && !this.allowed.has(gateway)) return this.reject('unknown_gateway', from, { gateway });
    const { info, created } = this.table.touch(gateway, now);
    if (created) {
      this.m.gateways.set(this.table.size);
      this.newGatewayLog.info('new_gateway', { gateway, from: `${from.address}:${from.port}` }, 'new gateway');
      this.opts.handlers.onNewGateway?.(gateway);
    }
    switch (h.ident) {
      case PUSH_DATA: {
        this.pushCount.inc();
        if (!(flags & PUSH_ACKED)) return;
        this.queue.push({ gateway, body: msg.subarray(GATEWAY_HEADER), receivedAt: now, hold });
        if (!this.drainScheduled) {
          this.drainScheduled = true;
          setImmediate(() => this.drainTurn());
        }
        return;
      }
      case PULL_DATA: {
        this.pullCount.inc();
        const outcome = this.table.pull(info, from, h.version, now);
        // Not answered: a PULL_ACK would tell the sender it now holds the path.
        if (outcome === 'refused') return this.reject('pull_from_other_address', from, { gateway, pinned: `${info.pull!.address}:${info.pull!.port}` });
        if (outcome !== 'kept') this.opts.log.info({ gateway, address: from.address, port: from.port, ...(outcome === 'moved' ? { moved: true } : {}) }, 'gateway downlink path');
        if (!this.closing) this.post(worker, { type: 'send', data: encodeAck(h.version, h.token, PULL_ACK), port: from.port, address: from.address, what: 'pull_ack', gateway });
        return;
      }
      case TX_ACK: {
        this.txAckCount.inc();
        // The reference forwarder sends TX_ACK from the socket of its PULL_DATA: one from elsewhere
        // would make a downlink look refused (and sent again in the other window) or delivered.
        if (!this.table.onDownlinkPath(info, from)) return this.reject('tx_ack_from_other_address', from, { gateway });
        const error = parseTxAck(msg.subarray(GATEWAY_HEADER));
        this.m.txAck.inc({ error });
        if (error !== 'NONE') this.warn.warn(`tx_ack_${error}`, { gateway, token: h.token, error }, 'gateway refused a downlink');
        this.opts.handlers.onTxAck?.(gateway, h.token, error);
        return;
      }
    }
  }

  /** Batches until the turn's time budget is spent, then back to the poll phase for new datagrams. */
  private drainTurn(): void {
    this.drainScheduled = false;
    const until = performance.now() + this.turnBudgetMs;
    do this.drain(this.batchMax);
    while (this.queue.length > 0 && performance.now() < until);
    if (this.queue.length > 0 && !this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(() => this.drainTurn());
    }
  }

  /**
   * Decode up to `max` queued PUSH_DATA and hand their packets on as one batch. A datagram may
   * carry some 650 rxpk entries: 64 of them made one batch of 40,000 frames and held the event
   * loop for 85 ms. Datagrams are taken a few at a time, and no more once the batch has
   * MAX_RX_PER_BATCH packets, so that the turn's time budget is looked at again soon.
   */
  private drain(max: number): void {
    const batch: ReceivedRx[] = [];
    for (let taken = 0; taken < max && batch.length < MAX_RX_PER_BATCH; taken += DATAGRAMS_PER_TAKE) {
      const items = this.queue.take(Math.min(DATAGRAMS_PER_TAKE, max - taken));
      if (items.length === 0) break;
      this.decodeInto(items, batch);
    }
    if (batch.length > 0) {
      try {
        this.opts.handlers.onUplinks(batch);
      } catch (err) {
        // A fault in decoding must not stop the listener; the handler counts its own failures.
        this.opts.log.error({ err: (err as Error).message }, 'uplink batch handler failed');
      }
    }
  }

  /** The rxpk entries of these PUSH_DATA onto the batch; what is malformed is counted. */
  private decodeInto(items: QueuedPush[], batch: ReceivedRx[]): void {
    for (const q of items) {
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
  }

  private recordStat(gateway: string, stat: GatewayStat): void {
    const info = this.table.get(gateway);
    if (info) info.stat = stat;
    for (const field of STAT_COUNTERS) {
      const v = stat[field];
      if (typeof v === 'number' && Number.isFinite(v)) this.m.stat.set({ gateway, field }, v);
    }
    this.opts.handlers.onStat?.(gateway, stat);
  }
}

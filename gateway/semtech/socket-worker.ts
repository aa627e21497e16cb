// The Semtech UDP socket, on a thread of its own. It reads every datagram and answers PUSH_DATA with
// PUSH_ACK at once, so that the ack never waits for the main thread (garbage collection, journal
// commits, decoding). Everything it reads, answered or not, goes on to the main thread in batches:
// one transferred ArrayBuffer per turn of this thread's event loop. The main thread answers PULL_DATA
// itself (once it has recorded the downlink path) and sends PULL_RESP, both through this socket.
// What waits for the main thread is bounded in count and bytes: beyond either, a datagram is
// dropped here, unanswered and counted, before it costs the main thread anything.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { encodeAck, gatewayEui, PUSH_ACK, PUSH_DATA, readHeader } from './packets.ts';
import { PUSH_ACKED, QueueSlot, RECORD_HEADER, type SocketWorkerData, type SocketWorkerReply, type SocketWorkerRequest } from './socket-protocol.ts';

/** least time between two notices of dropped datagrams */
const DROP_NOTICE_MS = 250;

class SocketWorker {
  private socket: Socket | null = null;
  private staging = Buffer.allocUnsafeSlow(256 * 1024);
  private used = 0;
  private flushScheduled = false;
  private dropNotice: NodeJS.Timeout | null = null;
  private readonly queue: Int32Array;
  private readonly allowed: Set<string> | null;

  private readonly data: SocketWorkerData;
  private readonly port: NonNullable<typeof parentPort>;

  constructor(data: SocketWorkerData, port: NonNullable<typeof parentPort>) {
    this.data = data;
    this.port = port;
    this.queue = new Int32Array(data.queue);
    this.allowed = data.allowedGateways ? new Set(data.allowedGateways) : null;
  }

  start(): void {
    if (this.data.threadNice !== undefined) this.setThreadNice(this.data.threadNice);
    const { host, port } = this.data;
    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
    const onBindError = (err: Error) => {
      this.reply({ type: 'bind_failed', message: err.message, code: (err as NodeJS.ErrnoException).code });
      this.port.close();
    };
    socket.once('error', onBindError);
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    socket.bind(port, host, () => {
      socket.off('error', onBindError);
      socket.on('error', (err) => this.reply({ type: 'socket_error', message: err.message }));
      if (this.data.recvBufferBytes) {
        try {
          socket.setRecvBufferSize(this.data.recvBufferBytes);
        } catch (err) {
          this.reply({ type: 'recv_buffer_failed', message: (err as Error).message });
        }
      }
      this.socket = socket;
      const a = socket.address();
      this.reply({ type: 'listening', address: a.address, port: a.port });
    });
    this.port.on('message', (req: SocketWorkerRequest) => this.onRequest(req));
  }

  /**
   * os.setPriority takes a process id, but on Linux setpriority(2) given a thread id changes that
   * thread alone; /proc/thread-self names the calling thread's id.
   */
  private setThreadNice(nice: number): void {
    try {
      const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
      if (!Number.isInteger(tid) || tid <= 0) throw new Error('no thread id in /proc/thread-self');
      setPriority(tid, nice);
      this.reply({ type: 'thread_nice', tid, nice });
    } catch (err) {
      this.reply({ type: 'thread_nice_failed', nice, message: (err as Error).message });
    }
  }

  private reply(r: SocketWorkerReply, transfer?: ArrayBuffer[]): void {
    this.port.postMessage(r, transfer);
  }

  private onRequest(req: SocketWorkerRequest): void {
    if (req.type === 'close') {
      const socket = this.socket;
      this.socket = null;
      const done = () => {
        if (this.dropNotice) clearTimeout(this.dropNotice);
        this.flush();
        this.reply({ type: 'closed' });
        this.port.close();
      };
      if (socket) socket.close(done);
      else done();
      return;
    }
    if (!this.socket) return;
    this.socket.send(req.data, req.port, req.address, (err) => {
      if (err) this.reply({ type: 'send_failed', what: req.what, gateway: req.gateway, message: err.message });
    });
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const socket = this.socket;
    if (!socket) return;
    const receivedAt = Date.now();
    const h = readHeader(msg);
    const push = typeof h !== 'string' && h.ident === PUSH_DATA && (!this.allowed || this.allowed.has(gatewayEui(msg)));
    const size = RECORD_HEADER + Buffer.byteLength(rinfo.address, 'latin1') + msg.length;
    const q = this.queue;
    if (Atomics.load(q, QueueSlot.bytes) + size > this.data.maxQueueBytes || (push && Atomics.load(q, QueueSlot.pendingPush) >= this.data.maxQueue)) {
      // Unanswered: the forwarder counts the PUSH_DATA as not acknowledged, as it should.
      Atomics.add(q, push ? QueueSlot.droppedPush : QueueSlot.droppedOther, 1);
      Atomics.add(q, QueueSlot.droppedBytes, size);
      this.noticeDrops();
      return;
    }
    let flags = 0;
    if (push) {
      socket.send(encodeAck(h.version, h.token, PUSH_ACK), rinfo.port, rinfo.address);
      Atomics.add(q, QueueSlot.pendingPush, 1);
      flags = PUSH_ACKED;
    }
    Atomics.add(q, QueueSlot.bytes, size);
    this.append(msg, rinfo, flags, receivedAt, size);
  }

  /**
   * Tell the main thread that the drop counters moved, at most a few times a second, so that the
   * metrics show drops even while no batch gets through (the counters themselves are shared).
   */
  private noticeDrops(): void {
    if (this.dropNotice) return;
    this.dropNotice = setTimeout(() => {
      this.dropNotice = null;
      this.reply({ type: 'dropped' });
    }, DROP_NOTICE_MS);
  }

  /** `size` is the record's length in the batch, and what the datagram was charged against the bound. */
  private append(msg: Buffer, rinfo: RemoteInfo, flags: number, receivedAt: number, size: number): void {
    const addressLength = size - RECORD_HEADER - msg.length;
    if (this.used + size > this.staging.length) {
      this.flush();
      if (size > this.staging.length) this.staging = Buffer.allocUnsafeSlow(size);
    }
    const b = this.staging;
    let at = this.used;
    b.writeUInt16LE(msg.length, at);
    b.writeUInt16LE(rinfo.port, at + 2);
    b[at + 4] = flags;
    b[at + 5] = addressLength;
    b.writeDoubleLE(receivedAt, at + 6);
    at += RECORD_HEADER;
    at += b.write(rinfo.address, at, 'latin1');
    at += msg.copy(b, at);
    this.used = at;
    // Everything read in this poll phase goes in one batch, sent before the loop polls again.
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  private flush(): void {
    if (this.used === 0) return;
    const data = new ArrayBuffer(this.used);
    new Uint8Array(data).set(this.staging.subarray(0, this.used));
    this.used = 0;
    this.reply({ type: 'batch', data }, [data]);
  }
}

if (parentPort) new SocketWorker(workerData as SocketWorkerData, parentPort).start();

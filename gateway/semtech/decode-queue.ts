// The queue between the socket thread and decoding, as the main thread sees it. The socket thread
// acknowledges a PUSH_DATA the moment it reads it, so what it has acknowledged must wait somewhere
// until the main thread decodes it; that wait is bounded in count (PUSH_DATA acknowledged and not
// yet decoded) and in bytes (every datagram read and not yet done with, as the batches that carry
// them hold memory). The socket thread checks both bounds before it acknowledges or hands anything
// on, from figures shared with this side; this side takes away what it has finished with and turns
// the socket thread's drop counters into metrics.
import type { Registry } from 'prom-client';
import { counter, gauge } from '../../kernel/metrics.ts';
import type { ThrottledWarn } from '../../kernel/log-throttle.ts';
import { QUEUE_SLOTS, QueueSlot } from './socket-protocol.ts';

/** One batch from the socket thread: its bytes count against the bound until its last datagram is done. */
export interface BatchHold {
  bytes: number;
  refs: number;
}

export interface QueuedPush {
  gateway: string;
  /** a view into the batch, which stays in memory until this is decoded */
  body: Buffer;
  receivedAt: number;
  hold: BatchHold;
}

export interface QueueLimits {
  /** PUSH_DATA acknowledged and not yet decoded */
  maxQueue: number;
  /** bytes read by the socket thread and not yet done with */
  maxQueueBytes: number;
}

export class DecodeQueue {
  /** shared with the socket thread; QueueSlot says which figure is which */
  readonly shared = new Int32Array(new SharedArrayBuffer(QUEUE_SLOTS * 4));
  private items: (QueuedPush | undefined)[] = [];
  private head = 0;
  /** drop counters as last read, to turn them into metric increments */
  private readonly seen = { push: 0, other: 0, bytes: 0 };
  private readonly m;

  private readonly warn: ThrottledWarn;
  readonly limits: QueueLimits;

  constructor(metrics: Registry, warn: ThrottledWarn, limits: QueueLimits) {
    this.warn = warn;
    this.limits = limits;
    this.m = {
      queued: gauge(metrics, 'fieldproof_gateway_queued_datagrams', 'PUSH_DATA acknowledged and waiting to be decoded'),
      queuedBytes: gauge(metrics, 'fieldproof_gateway_queued_bytes', 'Bytes of datagrams read by the socket thread and not yet decoded'),
      dropped: counter(metrics, 'fieldproof_gateway_queue_dropped_total', 'Datagrams dropped by the socket thread because the decode queue was full (PUSH_DATA left unacknowledged), by type', ['type']),
      droppedBytes: counter(metrics, 'fieldproof_gateway_queue_dropped_bytes_total', 'Bytes of the datagrams dropped because the decode queue was full'),
    };
  }

  /** For a new socket thread: figures from zero (drops counted before are in the metrics already). */
  reset(): void {
    this.shared.fill(0);
    Object.assign(this.seen, { push: 0, other: 0, bytes: 0 });
  }

  get length(): number {
    return this.items.length - this.head;
  }

  /** A batch arrives: it holds its bytes until `close` and every PUSH_DATA queued from it is taken. */
  open(bytes: number): BatchHold {
    return { bytes, refs: 1 };
  }

  close(hold: BatchHold): void {
    this.release(hold);
    this.sync();
  }

  push(item: QueuedPush): void {
    item.hold.refs++;
    this.items.push(item);
  }

  /** Up to `max` PUSH_DATA, oldest first; they no longer count against the bounds. */
  take(max: number): QueuedPush[] {
    const end = Math.min(this.items.length, this.head + max);
    const out: QueuedPush[] = [];
    for (let i = this.head; i < end; i++) {
      const q = this.items[i]!;
      // Let go of the batch at once, so that memory follows the count.
      this.items[i] = undefined;
      this.release(q.hold);
      out.push(q);
    }
    Atomics.sub(this.shared, QueueSlot.pendingPush, out.length);
    if (end === this.items.length) {
      this.items = [];
      this.head = 0;
    } else {
      this.head = end;
      // Compact now and then so the array does not grow without bound under sustained load.
      if (this.head > 4096) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
    }
    this.m.queued.set(this.length);
    this.sync();
    return out;
  }

  private release(hold: BatchHold): void {
    if (--hold.refs === 0) Atomics.sub(this.shared, QueueSlot.bytes, hold.bytes);
  }

  /** The socket thread's drop counters into the metrics, with a line in the log now and then. */
  sync(): void {
    const s = this.shared;
    this.m.queuedBytes.set(Atomics.load(s, QueueSlot.bytes));
    const push = Atomics.load(s, QueueSlot.droppedPush) >>> 0;
    const other = Atomics.load(s, QueueSlot.droppedOther) >>> 0;
    const bytes = Atomics.load(s, QueueSlot.droppedBytes) >>> 0;
    // The counters wrap at 2^32: a difference modulo 2^32 is right while fewer than 4 billion pass between reads.
    const dPush = (push - this.seen.push) >>> 0;
    const dOther = (other - this.seen.other) >>> 0;
    if (dPush + dOther === 0) return;
    const dBytes = (bytes - this.seen.bytes) >>> 0;
    Object.assign(this.seen, { push, other, bytes });
    if (dPush) this.m.dropped.inc({ type: 'push_data' }, dPush);
    if (dOther) this.m.dropped.inc({ type: 'other' }, dOther);
    this.m.droppedBytes.inc(dBytes);
    this.warn.warn('queue_full', { dropped: dPush + dOther, ...this.limits },
      'the gateway decode queue is full: datagrams dropped, PUSH_DATA left unacknowledged');
  }
}

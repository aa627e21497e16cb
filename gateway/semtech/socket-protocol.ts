// What the socket worker and the main thread say to each other, and the batch format in which the
// worker hands datagrams on: many datagrams in one transferred ArrayBuffer, so that no datagram is
// structured-cloned on its own.
export interface SocketWorkerData {
  host: string;
  port: number;
  recvBufferBytes?: number;
  /** lower-case gateway EUIs whose PUSH_DATA is acknowledged; null for any */
  allowedGateways: string[] | null;
  /** the queue's figures, shared with the main thread: an Int32Array over it, indexed by QueueSlot */
  queue: SharedArrayBuffer;
  /** PUSH_DATA acknowledged and not yet decoded beyond which more are refused */
  maxQueue: number;
  /** bytes read and not yet released by the main thread beyond which datagrams are dropped */
  maxQueueBytes: number;
  /**
   * nice value for the socket thread alone (Linux nice values are per thread), so that acks do not
   * wait for a core behind decoding and journaling; undefined leaves it as the process's
   */
  threadNice?: number;
}

/**
 * The queue between the socket thread and decoding, counted in shared memory so that the socket
 * thread can refuse at once, without asking the main thread. The worker adds, the main thread
 * takes away as it decodes. The drop counters only grow (they wrap at 2^32; readers take deltas).
 */
export const QueueSlot = {
  /** PUSH_DATA acknowledged and not yet decoded */
  pendingPush: 0,
  /** bytes of batches handed on and not yet released (a batch is released when its last datagram is done) */
  bytes: 1,
  /** PUSH_DATA not acknowledged because the queue was full */
  droppedPush: 2,
  /** other datagrams dropped because the queue was full */
  droppedOther: 3,
  /** bytes of the datagrams dropped */
  droppedBytes: 4,
} as const;
export const QUEUE_SLOTS = 5;

/** Main thread to worker. */
export type SocketWorkerRequest =
  | { type: 'send'; data: Uint8Array; port: number; address: string; what: string; gateway: string }
  | { type: 'close' };

/** Worker to main thread. */
export type SocketWorkerReply =
  | { type: 'listening'; address: string; port: number }
  | { type: 'bind_failed'; message: string; code: string | undefined }
  | { type: 'recv_buffer_failed'; message: string }
  | { type: 'thread_nice'; tid: number; nice: number }
  | { type: 'thread_nice_failed'; nice: number; message: string }
  | { type: 'socket_error'; message: string }
  | { type: 'send_failed'; what: string; gateway: string; message: string }
  | { type: 'batch'; data: ArrayBuffer }
  /** the drop counters moved (sent at most a few times a second) */
  | { type: 'dropped' }
  | { type: 'closed' };

/** flag of a forwarded datagram: a PUSH_DATA the worker acknowledged */
export const PUSH_ACKED = 1;

/**
 * Each forwarded datagram in a batch: u16 datagram length, u16 sender port, u8 flags, u8 address
 * length, f64 receive time (ms since the epoch), the sender address (latin1), the datagram.
 */
export const RECORD_HEADER = 14;

export interface ForwardedDatagram {
  msg: Buffer;
  address: string;
  port: number;
  flags: number;
  receivedAt: number;
}

/** Read a batch back into datagrams; each `msg` is a view into the batch, not a copy. */
export function* readBatch(data: ArrayBuffer): Generator<ForwardedDatagram> {
  const b = Buffer.from(data);
  let at = 0;
  while (at + RECORD_HEADER <= b.length) {
    const length = b.readUInt16LE(at);
    const port = b.readUInt16LE(at + 2);
    const flags = b[at + 4]!;
    const addressLength = b[at + 5]!;
    const receivedAt = b.readDoubleLE(at + 6);
    const addressAt = at + RECORD_HEADER;
    const address = b.toString('latin1', addressAt, addressAt + addressLength);
    const msgAt = addressAt + addressLength;
    yield { msg: b.subarray(msgAt, msgAt + length), address, port, flags, receivedAt };
    at = msgAt + length;
  }
}

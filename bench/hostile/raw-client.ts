// A client that writes whatever bytes it is given, as slowly as it is told, over a plain TCP
// socket: what a hostile client does and an HTTP library will not (malformed request lines,
// oversized headers, lying Content-Length, a byte a second). It reads what comes back until the
// sink closes the connection or the deadline passes, and reports every status line it saw.
import { connect, type Socket } from 'node:net';

export interface RawPiece {
  bytes: Buffer;
  /** wait this long before writing the piece */
  pauseMs?: number;
}

export interface RawTarget {
  host: string;
  port: number;
  /** the local address to send from (another 127.x address stands for another client) */
  localAddress?: string;
}

export interface RawAnswer {
  /** each response's status, in order (several when requests were pipelined) */
  statuses: number[];
  /** the first response's body */
  body: string;
  /** the sink closed (or reset) the connection before answering at all */
  closedUnanswered: boolean;
  /** the deadline passed with the connection still open */
  timedOut: boolean;
  ms: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Split a byte stream into responses: status line, headers, and a Content-Length body. */
function parseResponses(data: Buffer): { statuses: number[]; body: string } {
  const statuses: number[] = [];
  let body = '';
  let at = 0;
  while (at < data.length) {
    const headEnd = data.indexOf('\r\n\r\n', at);
    if (headEnd < 0) break;
    const head = data.toString('latin1', at, headEnd);
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
    if (!m) break;
    statuses.push(Number(m[1]));
    const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (statuses.length === 1) body = data.toString('utf8', headEnd + 4, headEnd + 4 + len);
    at = headEnd + 4 + len;
  }
  return { statuses, body };
}

export interface RawOptions {
  deadlineMs: number;
  /** stop once this many responses have begun (the sink may keep the connection open) */
  responses?: number;
}

export async function sendRaw(target: RawTarget, pieces: RawPiece[], opts: RawOptions): Promise<RawAnswer> {
  const started = performance.now();
  const wanted = opts.responses ?? 1;
  const socket: Socket = connect({ host: target.host, port: target.port, localAddress: target.localAddress });
  socket.setNoDelay(true);
  const received: Buffer[] = [];
  let answered = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  socket.on('data', (d: Buffer) => {
    received.push(d);
    answered = parseResponses(Buffer.concat(received)).statuses.length;
    if (answered >= wanted) done();
  });
  socket.on('error', () => undefined);
  socket.once('close', () => done());
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    done();
  }, opts.deadlineMs);
  try {
    await Promise.race([new Promise((r) => socket.once('connect', r)), finished]);
    for (const piece of pieces) {
      if (piece.pauseMs) await Promise.race([sleep(piece.pauseMs), finished]);
      if (socket.destroyed || answered >= wanted || timedOut) break;
      if (!socket.write(piece.bytes)) await Promise.race([new Promise((r) => socket.once('drain', r)), finished]);
    }
    await finished;
  } finally {
    clearTimeout(deadline);
    socket.destroy();
  }
  const { statuses, body } = parseResponses(Buffer.concat(received));
  return { statuses, body, closedUnanswered: statuses.length === 0 && !timedOut, timedOut: timedOut && statuses.length === 0, ms: performance.now() - started };
}

/** The bytes of one request. */
export function rawRequest(method: string, path: string, headers: Record<string, string | number>, body: Buffer | string = ''): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), Buffer.isBuffer(body) ? body : Buffer.from(body)]);
}

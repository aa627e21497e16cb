// The sink's listener: HTTP on loopback (or behind a TLS proxy the operator names with
// `insecure: true`), HTTPS otherwise, with its certificate reloaded on SIGHUP without closing the
// listener. It bounds what a client can hold before a route runs: connections per address and in
// all, the time to send the headers and the whole request, idle keep-alive, requests per
// connection; and it answers a request the HTTP parser refuses (timeout, oversized or malformed
// headers) with a one-line JSON error, counted.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { counter } from '../../kernel/metrics.ts';
import { clientAddress, type ClientLimits } from './client-limits.ts';
import { HttpError, rawResponse, type Refusals } from './replies.ts';
import { readTlsMaterial, type TlsFiles } from './tls-files.ts';

export interface ServerTimeouts {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxRequestsPerSocket: number;
  maxConnections: number;
}

export interface SinkServerDeps {
  host: string;
  port: number;
  tls: TlsFiles | null;
  timeouts: ServerTimeouts;
  clients: ClientLimits;
  refusals: Refusals;
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  log: Logger;
  metrics: Registry;
}

/** Largest request head (request line and headers) accepted; more is answered 431. */
const MAX_HEADER_BYTES = 16 * 1024;
/** How often node checks the header and request deadlines (its default, 30 s, would let them slip by that much). */
const DEADLINE_CHECK_MS = 500;

const REQUESTS_ON_SOCKET = Symbol('requests on this socket');

const PARSER_ERRORS: Record<string, { status: number; reason: string; error: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, reason: 'timeout', error: 'the request took too long to arrive' },
  HPE_HEADER_OVERFLOW: { status: 431, reason: 'headers_too_large', error: `request headers are over ${MAX_HEADER_BYTES} bytes` },
};

export class SinkServer {
  private server: Server | HttpsServer | null = null;
  private readonly tlsReloads;

  private readonly deps: SinkServerDeps;

  constructor(deps: SinkServerDeps) {
    this.deps = deps;
    this.tlsReloads = counter(deps.metrics, 'fieldproof_sink_tls_reloads_total', 'Certificate reloads on SIGHUP, by outcome', ['outcome']);
  }

  get url(): string {
    const addr = this.server?.address() as AddressInfo | null;
    if (!addr) throw new Error('the sink is not listening');
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `${this.deps.tls ? 'https' : 'http'}://${host}:${addr.port}`;
  }

  async start(): Promise<void> {
    const { deps } = this;
    const t = deps.timeouts;
    const options = {
      headersTimeout: t.headersTimeoutMs,
      requestTimeout: t.requestTimeoutMs,
      connectionsCheckingInterval: DEADLINE_CHECK_MS,
      maxHeaderSize: MAX_HEADER_BYTES,
      // node's own answers to these are bodiless; ours are one-line JSON like every other refusal
      requireHostHeader: false,
    };
    const handler = (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res);
    const server = deps.tls
      ? createHttpsServer({ ...options, ...readTlsMaterial(deps.tls), handshakeTimeout: t.headersTimeoutMs }, handler)
      : createHttpServer(options, handler);
    server.keepAliveTimeout = t.keepAliveTimeoutMs;
    server.maxConnections = t.maxConnections;
    server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
      res.setHeader('connection', 'close');
      deps.refusals.answer(res, new HttpError(417, `expectation ${String(req.headers.expect).slice(0, 40)} is not supported`, 'bad_expect'));
    });
    // A connection that neither sends nor reads (a response nobody collects) for this long is
    // closed; later than the request deadline, so that a slow request is answered 408 first.
    server.setTimeout(t.requestTimeoutMs + 2 * DEADLINE_CHECK_MS + 1000, (socket: Socket) => {
      // also called when a keep-alive connection has idled out, which is no refusal
      if ((socket as Socket & { _httpMessage?: unknown })._httpMessage) {
        deps.refusals.note('closed', 'stalled_response', { client: clientAddress(socket.remoteAddress) }, 'a response nobody reads: connection closed');
      }
      socket.destroy();
    });
    server.on('connection', (socket: Socket) => this.onConnection(socket));
    server.on('drop', (data?: { remoteAddress?: string }) => deps.refusals.note('closed', 'server_connections', { client: clientAddress(data?.remoteAddress) }, 'connection refused'));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.onClientError(err, socket));
    if (deps.tls) server.on('tlsClientError', () => deps.refusals.note('closed', 'tls_handshake', {}, 'TLS handshake failed'));
    await new Promise<void>((resolve, reject) => {
      const where = `${deps.host.includes(':') ? `[${deps.host}]` : deps.host}:${deps.port}`;
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new Error(err.code === 'EADDRINUSE' ? `cannot listen on ${where}: the address is in use` : `cannot listen on ${where}: ${err.message}`)));
      server.listen(deps.port, deps.host, () => resolve());
    });
    this.server = server;
  }

  /** Read the certificate and key again (SIGHUP): new connections get them, open ones keep theirs. */
  reloadTls(): boolean {
    const server = this.server;
    if (!this.deps.tls || !server) return false;
    try {
      (server as HttpsServer).setSecureContext(readTlsMaterial(this.deps.tls));
    } catch (err) {
      this.tlsReloads.inc({ outcome: 'failed' });
      this.deps.log.error({ err: (err as Error).message }, 'certificate reload failed; the sink keeps the certificate it had');
      return false;
    }
    this.tlsReloads.inc({ outcome: 'reloaded' });
    this.deps.log.info({ cert: this.deps.tls.cert }, 'certificate reloaded');
    return true;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), 2000).unref();
    });
  }

  /**
   * Before the API: a request needs a Host (HTTP/1.1), and a connection carries at most
   * maxRequestsPerSocket of them (the last is told to close; node's own limit would answer the
   * ones pipelined beyond it with a bodiless 503).
   */
  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket as Socket & { [REQUESTS_ON_SOCKET]?: number };
    const served = (socket[REQUESTS_ON_SOCKET] = (socket[REQUESTS_ON_SOCKET] ?? 0) + 1);
    const max = this.deps.timeouts.maxRequestsPerSocket;
    if (max > 0 && served >= max) res.setHeader('connection', 'close');
    if (max > 0 && served > max) {
      return this.deps.refusals.answer(res, new HttpError(429, `a connection carries at most ${max} requests; open another`, 'socket_requests', { 'retry-after': '0' }));
    }
    if (req.httpVersion === '1.1' && req.headers.host === undefined) {
      res.setHeader('connection', 'close');
      return this.deps.refusals.answer(res, new HttpError(400, 'an HTTP/1.1 request needs a Host header', 'missing_host'));
    }
    this.deps.handler(req, res);
  }

  private onConnection(socket: Socket): void {
    const client = clientAddress(socket.remoteAddress);
    const verdict = this.deps.clients.openConnection(client);
    if (!verdict.ok) {
      // Answering would cost what the limit saves (a TLS handshake, a parse): close at once.
      this.deps.refusals.note('closed', verdict.reason, { client }, 'connection refused');
      socket.destroy();
      return;
    }
    socket.once('close', () => this.deps.clients.closeConnection(client));
  }

  private onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') {
      socket.destroy();
      return;
    }
    const known = PARSER_ERRORS[err.code ?? ''] ?? { status: 400, reason: 'malformed_request', error: `malformed HTTP request (${err.code ?? 'parse error'})` };
    this.deps.refusals.note(known.status, known.reason, { client: clientAddress(socket.remoteAddress) });
    this.deps.clients.noteRefusal(clientAddress(socket.remoteAddress));
    // Write an answer only where no response has begun on this connection: a raw one then cannot
    // corrupt what the client reads.
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (socket.writable && (!inFlight || !inFlight.headersSent)) socket.end(rawResponse(known.status, known.reason, known.error));
    socket.destroySoon();
    setTimeout(() => socket.destroy(), 1000).unref();
  }
}

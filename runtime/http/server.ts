// The device's local HTTP server: the status page (/ with its script, styles and uPlot), its live
// feed over WebSocket (/live), a JSON snapshot (/api/status), the history of readings and alerts
// (/api/history, /api/alerts/history: history-api.ts), Prometheus figures (/metrics) and a
// liveness check (/healthz).
//
// Who may ask: with a token configured, every request but /healthz must carry it (a Bearer header,
// or the cookie the page sets after one visit to /?token=...). Without a token the server listens
// on loopback only (config.ts enforces it) and also refuses requests whose Host header is not a
// loopback name, so that a web page elsewhere cannot reach it through DNS rebinding. WebSocket
// upgrades must come from the page's own origin.
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo, Socket } from 'node:net';
import type { WebSocket, WebSocketServer } from 'ws';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AlertHistoryService, DownlinkService } from '../../kernel/component.ts';
import { UserError } from '../../kernel/user-error.ts';
import { counter, gauge, processMetrics } from '../../kernel/metrics.ts';
import { isLoopback } from '../../kernel/net.ts';
import { hostName, presentedToken, tokenDigest, tokenMatches } from '../../kernel/request-token.ts';
import { parseListen, type HttpConfig } from './config.ts';
import type { DashboardFeed, LiveMessage } from './dashboard-feed.ts';
import { DownlinkApi } from './downlink-api.ts';
import { HistoryApi, type HistorySource } from './history-api.ts';

// Through require: an ES import of node:http runs its lazy getters, which load Node's bundled
// undici (for http.WebSocket), some 40 ms of a daemon's start for nothing (nodejs/node#59686).
const { createServer } = createRequire(import.meta.url)('node:http') as typeof import('node:http');

const TOKEN_COOKIE = 'fieldproof_token';
/** a client this far behind gets no readings until it catches up; twice as far, it is dropped */
const SLOW_CLIENT_BYTES = 4 * 1024 * 1024;
/**
 * Connections open at once, in all and from one address. A connection is taken before its token
 * is asked for, and each holds a file descriptor of the daemon's, which the journal's files, the
 * gateway's socket and the uplink need too: a host on the site network opening thousands of idle
 * ones must not use them up. A status page needs a few (its files, the live feed).
 */
export const MAX_CONNECTIONS = 256;
export const MAX_CONNECTIONS_PER_CLIENT = 32;

interface Asset {
  file: () => string | URL;
  type: string;
}

/**
 * The status page's files, read at the first request for each: a device may run for months with
 * nobody looking at its page. uPlot comes from the installed package, never a CDN: a site gateway
 * often has no Internet.
 */
const PAGE_FILES = new Map<string, Asset>([
  ['/', { file: () => new URL('./page/index.html', import.meta.url), type: 'text/html; charset=utf-8' }],
  ['/dashboard.js', { file: () => new URL('./page/dashboard.js', import.meta.url), type: 'text/javascript; charset=utf-8' }],
  ['/charts.js', { file: () => new URL('./page/charts.js', import.meta.url), type: 'text/javascript; charset=utf-8' }],
  ['/dashboard.css', { file: () => new URL('./page/dashboard.css', import.meta.url), type: 'text/css; charset=utf-8' }],
  ['/vendor/uPlot.iife.min.js', { file: () => createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' }],
  ['/vendor/uPlot.min.css', { file: () => createRequire(import.meta.url).resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' }],
]);

export interface LocalHttpServerDeps {
  config: HttpConfig;
  feed: DashboardFeed;
  metrics: Registry;
  log: Logger;
  /** the gateway's downlink queue, when there is a gateway */
  downlinks?: () => DownlinkService | undefined;
  /** the page's history of readings */
  history: HistorySource;
  /** the alert history, when the device has alerts */
  alertHistory?: () => AlertHistoryService | undefined;
}



export class LocalHttpServer {
  private server: Server | null = null;
  /** the live feed's server, made (and ws imported) when the first page connects */
  private wss: Promise<WebSocketServer> | null = null;
  private readonly fileBodies = new Map<string, Promise<Buffer>>();
  private stopping = false;
  private readonly tokenDigest: Buffer | null;
  private readonly lastWarn = new Map<string, number>();
  private readonly m;
  private readonly downlinkApi: DownlinkApi;
  private readonly historyApi: HistoryApi;
  /** open connections by client address */
  private readonly connections = new Map<string, number>();

  private readonly deps: LocalHttpServerDeps;

  constructor(deps: LocalHttpServerDeps) {
    this.deps = deps;
    this.downlinkApi = new DownlinkApi(() => deps.downlinks?.(), deps.log, sameOrigin);
    this.historyApi = new HistoryApi(deps.history, () => deps.alertHistory?.());
    this.tokenDigest = deps.config.token === undefined ? null : tokenDigest(deps.config.token);
    const reg = deps.metrics;
    this.m = {
      requests: counter(reg, 'fieldproof_http_requests_total', 'Requests to the local HTTP server', ['route', 'code']),
      rejected: counter(reg, 'fieldproof_http_rejected_total', 'Requests refused before routing', ['reason']),
      clients: gauge(reg, 'fieldproof_http_live_clients', 'Status pages connected to the live feed'),
      skipped: counter(reg, 'fieldproof_http_live_skipped_messages_total', 'Live messages not sent to a client that fell behind'),
    };
  }

  /** The address actually bound (port 0 in the config becomes a real port). */
  get address(): { host: string; port: number } {
    const a = this.server?.address() as AddressInfo | null | undefined;
    if (!a) throw new Error('the HTTP server is not listening');
    return { host: a.address, port: a.port };
  }

  /** A URL a browser on the device opens, with the token when one is needed. */
  get url(): string {
    const { host, port } = this.address;
    const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    return `http://${shown}:${port}/`;
  }

  async start(): Promise<void> {
    this.stopping = false;
    const addr = parseListen(this.deps.config.listen);
    if (!addr) throw new UserError(`http.listen: ${JSON.stringify(this.deps.config.listen)} is not host:port`);
    // deadlines looked at every second (node's default is 30 s, which lets an idle socket live on)
    const server = createServer({ connectionsCheckingInterval: 1000 }, (req, res) => this.handle(req, res));
    server.keepAliveTimeout = 5000;
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.maxConnections = MAX_CONNECTIONS;
    server.on('drop', (data?: { remoteAddress?: string }) => this.refuseConnection('connections', data?.remoteAddress));
    server.on('connection', (socket: Socket) => this.countConnection(socket));
    server.on('upgrade', (req, socket, head) => this.upgrade(req, socket as Socket, head));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const why = err.code === 'EADDRINUSE' ? 'the address is in use' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EADDRNOTAVAIL' ? 'no such address on this device' : err.message;
        reject(new UserError(`http.listen ${this.deps.config.listen}: cannot listen: ${why}`));
      });
      server.listen(addr.port, addr.host, () => resolve());
    });
    server.on('error', (err) => this.deps.log.error({ err: err.message }, 'local HTTP server error'));
    this.server = server;
    this.deps.log.info({ url: this.url, token: this.tokenDigest !== null }, 'status page listening');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const { server } = this;
    const wss = await this.wss?.catch(() => null);
    this.server = this.wss = null;
    if (wss) {
      for (const client of wss.clients) client.close(1001, 'device stopping');
      // Give close frames a moment, then cut whoever did not answer.
      await new Promise((r) => setTimeout(r, 100).unref());
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    }
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    this.m.clients.set(0);
  }

  // ------------------------------------------------------------------ requests

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://device');
    const path = url.pathname;
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');

    if (path === '/healthz') return this.healthz(req, res);
    const refusal = this.refusal(req);
    if (refusal) {
      // A browser that was given the link with its token: set the cookie and drop the token from the address bar.
      if (refusal === 'unauthorized' && path === '/' && this.tokenMatches(url.searchParams.get('token'))) {
        res.setHeader('Set-Cookie', `${TOKEN_COOKIE}=${encodeURIComponent(url.searchParams.get('token')!)}; Path=/; HttpOnly; SameSite=Strict`);
        return this.reply(res, '/', 303, 'text/plain; charset=utf-8', 'token accepted\n', { Location: '/' });
      }
      this.m.rejected.inc({ reason: refusal });
      this.warnSometimes(refusal, { path, remote: req.socket.remoteAddress, host: req.headers.host }, `refused a request: ${refusal}`);
      const status = refusal === 'unauthorized' ? 401 : 403;
      const text = refusal === 'unauthorized' ? 'a token is required: Authorization: Bearer TOKEN, or open /?token=TOKEN once' : `refused: ${refusal.replace('_', ' ')}`;
      return this.reply(res, 'refused', status, 'text/plain; charset=utf-8', text + '\n', refusal === 'unauthorized' ? { 'WWW-Authenticate': 'Bearer realm="fieldproof"' } : {});
    }
    if (path === '/api/downlinks') return void this.downlinks(req, res, url);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return this.reply(res, 'method', 405, 'text/plain; charset=utf-8', `method ${req.method} not allowed; this server only answers GET\n`, { Allow: 'GET, HEAD' });
    }
    if (path === '/api/status') return this.reply(res, path, 200, 'application/json', safeJson(this.deps.feed.snapshot()), { 'Cache-Control': 'no-store' });
    if (path === '/metrics') return void this.metrics(req, res);
    const api = this.historyApi.handle(path, url);
    if (api) return this.reply(res, path, api.code, 'application/json', safeJson(api.body), { 'Cache-Control': 'no-store' }, req.method === 'HEAD');
    if (path === '/index.html') return this.reply(res, 'redirect', 301, 'text/plain; charset=utf-8', 'moved to /\n', { Location: '/' });
    const asset = PAGE_FILES.get(path);
    if (asset) return void this.pageFile(req, res, path, asset);
    this.reply(res, 'not_found', 404, 'text/plain; charset=utf-8', `no such page: ${path}\n`);
  }

  private async pageFile(req: IncomingMessage, res: ServerResponse, path: string, asset: Asset): Promise<void> {
    let body = this.fileBodies.get(path);
    if (!body) this.fileBodies.set(path, (body = readFile(asset.file())));
    let bytes: Buffer;
    try {
      bytes = await body;
    } catch (err) {
      this.fileBodies.delete(path); // not kept: the next request tries again
      this.deps.log.error({ path, err: (err as Error).message }, 'a status page file is unreadable');
      return this.reply(res, path, 500, 'text/plain; charset=utf-8', `cannot read ${path}\n`);
    }
    const headers: Record<string, string> = { 'Cache-Control': path === '/' ? 'no-store' : 'max-age=300' };
    if (path === '/') {
      headers['Content-Security-Policy'] = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'";
    }
    this.reply(res, path, 200, asset.type, bytes, headers, req.method === 'HEAD');
  }

  private async downlinks(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const r = await this.downlinkApi.handle(req, url);
    const headers: Record<string, string> = { 'Cache-Control': 'no-store', ...(r.code === 405 ? { Allow: 'GET, POST' } : {}) };
    this.reply(res, '/api/downlinks', r.code, 'application/json', safeJson(r.body), headers);
  }

  private healthz(req: IncomingMessage, res: ServerResponse): void {
    // Liveness only: whether the daemon answers and is not shutting down. A sensor that is down
    // is not a reason to restart the daemon; it shows on the page and in /metrics.
    const body = this.stopping ? { status: 'stopping' } : { status: 'ok' };
    this.reply(res, '/healthz', this.stopping ? 503 : 200, 'application/json', JSON.stringify(body), { 'Cache-Control': 'no-store' }, req.method === 'HEAD');
  }

  private async metrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      // The process's figures (RSS, CPU, event loop lag) belong next to the daemon's own; they are
      // registered at the first scrape, so that a start does not pay for a page nobody scrapes.
      processMetrics(this.deps.metrics);
      const text = await this.deps.metrics.metrics();
      this.reply(res, '/metrics', 200, this.deps.metrics.contentType, text, { 'Cache-Control': 'no-store' }, req.method === 'HEAD');
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message }, 'collecting metrics failed');
      this.reply(res, '/metrics', 500, 'text/plain; charset=utf-8', `collecting metrics failed: ${(err as Error).message}\n`);
    }
  }

  private reply(res: ServerResponse, route: string, code: number, type: string, body: string | Buffer, headers: Record<string, string> = {}, headOnly = false): void {
    this.m.requests.inc({ route, code: String(code) });
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(code, { 'Content-Type': type, 'Content-Length': String(buf.length), ...headers });
    res.end(headOnly ? undefined : buf);
  }

  // ------------------------------------------------------------------ who may ask

  /** Why a request is refused, or null when it may proceed. */
  private refusal(req: IncomingMessage): 'unauthorized' | 'bad_host' | null {
    if (this.tokenDigest) return this.tokenMatches(presentedToken(req, TOKEN_COOKIE)) ? null : 'unauthorized';
    return hostIsLoopback(req.headers.host) ? null : 'bad_host';
  }

  private tokenMatches(presented: string | null): boolean {
    return tokenMatches(presented, this.tokenDigest);
  }

  private warnSometimes(reason: string, fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    if (now - (this.lastWarn.get(reason) ?? 0) < 10_000) return;
    this.lastWarn.set(reason, now);
    this.deps.log.warn({ reason, ...fields }, msg);
  }

  /** A connection past the per-address limit is closed at once; answering would cost what the limit saves. */
  private countConnection(socket: Socket): void {
    const client = socket.remoteAddress ?? 'unknown';
    const open = this.connections.get(client) ?? 0;
    if (open >= MAX_CONNECTIONS_PER_CLIENT) {
      this.refuseConnection('client_connections', client);
      socket.destroy();
      return;
    }
    this.connections.set(client, open + 1);
    socket.once('close', () => {
      const left = (this.connections.get(client) ?? 1) - 1;
      if (left > 0) this.connections.set(client, left);
      else this.connections.delete(client);
    });
  }

  private refuseConnection(reason: 'connections' | 'client_connections', remote: string | undefined): void {
    this.m.rejected.inc({ reason });
    const limit = reason === 'connections' ? `${MAX_CONNECTIONS} connections are open` : `${MAX_CONNECTIONS_PER_CLIENT} connections from one address are open`;
    this.warnSometimes(reason, { remote }, `refused a connection: ${limit}`);
  }

  // ------------------------------------------------------------------ live feed

  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const fail = (code: number, reason: string, text: string) => {
      this.m.rejected.inc({ reason });
      this.warnSometimes(reason, { remote: socket.remoteAddress, origin: req.headers.origin }, `refused a live feed connection: ${reason}`);
      socket.end(`HTTP/1.1 ${code} ${text}\r\nContent-Type: text/plain\r\nContent-Length: ${text.length + 1}\r\nConnection: close\r\n\r\n${text}\n`);
    };
    const url = new URL(req.url ?? '/', 'http://device');
    if (url.pathname !== '/live' || !this.server || this.stopping) return fail(404, 'not_found', 'Not Found');
    const refusal = this.refusal(req);
    if (refusal) return fail(refusal === 'unauthorized' ? 401 : 403, refusal, refusal === 'unauthorized' ? 'Unauthorized' : 'Forbidden');
    if (!sameOrigin(req)) return fail(403, 'bad_origin', 'Forbidden');
    // A client that goes away while ws loads must not leave a socket error unhandled.
    socket.on('error', () => socket.destroy());
    this.wss ??= import('ws').then(({ WebSocketServer }) => new WebSocketServer({ noServer: true, maxPayload: 4096 }));
    this.wss.then(
      (wss) => {
        if (this.stopping || socket.destroyed) return void socket.destroy();
        wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws));
      },
      (err: Error) => {
        this.deps.log.error({ err: err.message }, 'the live feed cannot start');
        fail(500, 'live_feed_failed', 'Internal Server Error');
      },
    );
  }

  private attach(ws: WebSocket): void {
    this.m.clients.inc();
    const send = (msg: LiveMessage) => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > 2 * SLOW_CLIENT_BYTES) {
        ws.terminate();
        return;
      }
      if (ws.bufferedAmount > SLOW_CLIENT_BYTES && msg.type === 'readings') {
        this.m.skipped.inc();
        return;
      }
      ws.send(safeJson(msg));
    };
    send({ type: 'snapshot', data: this.deps.feed.snapshot() });
    const unsubscribe = this.deps.feed.subscribe(send);
    // The page only listens; anything it sends is ignored, and the 4 KiB maxPayload bounds it.
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      unsubscribe();
      this.m.clients.dec();
    });
  }
}

function hostIsLoopback(hostHeader: string | undefined): boolean {
  const name = hostName(hostHeader);
  return name !== null && isLoopback(name);
}

/** Browsers always send Origin on WebSocket upgrades; a page from another site has another one. */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true; // not a browser (a script with the token, or on loopback)
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** JSON that survives what other parts put on the status board (bigints, cycles). */
function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    const seen = new WeakSet<object>();
    return JSON.stringify(value, (_k, v) => {
      if (typeof v === 'bigint') return v.toString();
      if (typeof v === 'object' && v !== null) {
        if (seen.has(v)) return '[circular]';
        seen.add(v);
      }
      return v;
    });
  }
}

// The sink's HTTP API. Each route answers JSON (a report also CSV); each error is a status and a
// one-line {"error", "code"} body.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { isHex } from '../protocol/hash.ts';
import { isValidName } from '../protocol/records.ts';
import { counter } from '../runtime/metrics.ts';
import type { Anchorer } from './anchor/anchorer.ts';
import type { Ingest } from './ingest.ts';
import type { ProofService } from './proofs.ts';
import type { MrvService, ReportFormat } from './mrv/service.ts';
import type { DeviceRegistry } from './registry.ts';
import type { SinkStore } from './store/types.ts';
import { decodeBatchBody, readBody, type BodyLimits } from './wire/body.ts';
import { WireError } from './wire/errors.ts';

export interface HttpApiDeps {
  store: SinkStore;
  ingest: Ingest;
  proofs: ProofService;
  registry: DeviceRegistry;
  anchorer: Anchorer | null;
  limits: BodyLimits;
  adminToken: string | null;
  mrv: MrvService;
  log: Logger;
  metrics: Registry;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly code: string) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? JSON.stringify(body) + '\n' : String(body);
  res.writeHead(status, { 'content-type': type === 'application/json' ? 'application/json' : `${type}; charset=utf-8`, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function intParam(v: string | null, name: string, fallback: number): number {
  if (v === null || v === '') return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new HttpError(400, `${name} must be integer milliseconds since the epoch`, 'bad_query');
  return n;
}

export class HttpApi {
  private readonly requests;

  constructor(private readonly deps: HttpApiDeps) {
    this.requests = counter(deps.metrics, 'fieldproof_sink_http_requests_total', 'HTTP requests, by route and status', ['route', 'status']);
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    let route = 'unknown';
    this.route(req, res, (r) => (route = r))
      .catch((err) => {
        if (err instanceof HttpError) send(res, err.status, { error: err.message, code: err.code });
        else {
          this.deps.log.error({ err: (err as Error).message, url: req.url }, 'request failed');
          if (!res.headersSent) send(res, 500, { error: `internal error: ${(err as Error).message}`, code: 'internal' });
          else res.destroy();
        }
      })
      .finally(() => this.requests.inc({ route, status: String(res.statusCode) }));
  };

  private requireAdmin(req: IncomingMessage): void {
    const token = this.deps.adminToken;
    if (!token) throw new HttpError(403, 'the admin API is off: set adminToken in the sink config (or FIELDPROOF_SINK_ADMIN_TOKEN)', 'admin_disabled');
    const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const a = Buffer.from(given);
    const b = Buffer.from(token);
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new HttpError(401, 'missing or wrong admin token', 'unauthorized');
  }

  private async route(req: IncomingMessage, res: ServerResponse, name: (r: string) => void): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sink');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    const { deps } = this;

    if (method === 'POST' && url.pathname === '/v1/batches') {
      name('batches');
      let decoded;
      try {
        const body = await readBody(req, deps.limits.maxBodyBytes);
        decoded = await decodeBatchBody(body, req.headers['content-type'], req.headers['content-encoding'], deps.limits);
      } catch (err) {
        if (!(err instanceof WireError)) throw err;
        const reply = deps.ingest.refusedBody(err.status, err.message);
        res.setHeader('connection', err.status === 413 ? 'close' : 'keep-alive');
        return send(res, reply.status, reply.body);
      }
      const reply = await deps.ingest.accept(decoded);
      return send(res, reply.status, reply.body);
    }
    if (method === 'GET' && parts[0] === 'v1' && parts[1] === 'devices' && parts.length === 4 && parts[3] === 'head') {
      name('head');
      const head = await deps.store.head(parts[2]!);
      return send(res, 200, { device: parts[2], batch: head.batch, hash: head.hash, last: head.last });
    }
    if (method === 'GET' && parts[0] === 'v1' && parts[1] === 'proofs' && parts.length === 4) {
      name('proofs');
      const seq = Number(parts[3]);
      if (!isValidName(parts[2]) || !Number.isSafeInteger(seq) || seq < 1) throw new HttpError(400, 'usage: GET /v1/proofs/DEVICE/SEQ with SEQ a positive integer', 'bad_query');
      const p = await deps.proofs.proof(parts[2]!, seq);
      return p.ok ? send(res, 200, p.proof) : send(res, p.status, { error: p.error, code: p.code });
    }
    if (method === 'GET' && parts[0] === 'v1' && parts[1] === 'reports' && parts.length === 3) {
      name('reports');
      const device = parts[2]!;
      if (!isValidName(device)) throw new HttpError(400, 'not a device name', 'bad_query');
      const to = intParam(url.searchParams.get('to'), 'to', Date.now());
      const from = intParam(url.searchParams.get('from'), 'from', to - 24 * 3600_000);
      if (from >= to) throw new HttpError(400, 'from must be before to', 'bad_query');
      const format = url.searchParams.get('format') ?? ((req.headers.accept ?? '').includes('text/csv') ? 'csv' : (req.headers.accept ?? '').startsWith('text/html') ? 'html' : 'json');
      if (!['json', 'csv', 'html'].includes(format)) throw new HttpError(400, 'format must be json, csv or html', 'bad_query');
      const out = await deps.mrv.report(device, from, to, format as ReportFormat);
      return send(res, out.status, out.body, out.type);
    }
    if (parts[0] === 'v1' && parts[1] === 'devices' && parts.length === 4 && parts[3] === 'notes' && (method === 'GET' || method === 'POST')) {
      name('notes');
      if (!isValidName(parts[2])) throw new HttpError(400, 'not a device name', 'bad_query');
      if (method === 'GET') return this.sendReply(res, await deps.mrv.notes(parts[2]!));
      this.requireAdmin(req);
      return this.sendReply(res, await deps.mrv.addNote(parts[2]!, await this.jsonBody(req, 'body must be a signed note (fieldproof sink-devices note)')));
    }
    if (method === 'GET' && url.pathname === '/v1/anchors') {
      name('anchors');
      return send(res, 200, { anchors: await deps.store.anchors(intParam(url.searchParams.get('limit'), 'limit', 20)) });
    }
    if (method === 'POST' && url.pathname === '/v1/anchors') {
      name('anchor_now');
      this.requireAdmin(req);
      if (!deps.anchorer) throw new HttpError(409, 'anchoring is off (anchor.mode: none)', 'anchoring_off');
      return send(res, 200, { anchor: await deps.anchorer.runOnce(true) });
    }
    if (url.pathname === '/v1/devices') {
      name('devices');
      this.requireAdmin(req);
      if (method === 'GET') return send(res, 200, { devices: deps.registry.list() });
      if (method === 'POST') return this.addDevice(req, res);
    }
    if (method === 'GET' && url.pathname === '/v1/equivocations') {
      name('equivocations');
      this.requireAdmin(req);
      return send(res, 200, { equivocations: await deps.store.equivocations() });
    }
    if (method === 'GET' && url.pathname === '/metrics') {
      name('metrics');
      return send(res, 200, await deps.metrics.metrics(), deps.metrics.contentType.split(';')[0]);
    }
    if (method === 'GET' && url.pathname === '/healthz') {
      name('healthz');
      return send(res, 200, { ok: true, store: deps.store.kind });
    }
    throw new HttpError(404, `no route ${method} ${url.pathname}`, 'no_route');
  }

  private sendReply(res: ServerResponse, out: { status: number; body: unknown; type?: string }): void {
    send(res, out.status, out.body, out.type);
  }

  private async jsonBody(req: IncomingMessage, usage: string): Promise<unknown> {
    try {
      return JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
    } catch (err) {
      throw new HttpError(400, err instanceof WireError ? err.message : usage, 'bad_body');
    }
  }

  private async addDevice(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: { id?: unknown; key?: unknown };
    try {
      body = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
    } catch (err) {
      throw new HttpError(400, err instanceof WireError ? err.message : 'body must be JSON {"id": ..., "key": ...}', 'bad_body');
    }
    if (!isValidName(body.id)) throw new HttpError(400, 'id must be 1-128 letters, digits, dot, dash, colon or underscore', 'bad_body');
    if (!isHex(body.key, 32)) throw new HttpError(400, 'key must be a 64-digit lowercase hex Ed25519 public key', 'bad_body');
    const outcome = await this.deps.registry.add(body.id, body.key);
    if (outcome === 'conflict') throw new HttpError(409, `device ${body.id} is already registered with another key`, 'conflict');
    this.deps.log.info({ device: body.id, outcome }, 'device registered');
    send(res, outcome === 'added' ? 201 : 200, { id: body.id, key: body.key, status: outcome });
  }
}

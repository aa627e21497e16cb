// The sink's HTTP API. Each route answers JSON (a report also CSV); each error is a status and a
// one-line {"error", "code"} body, counted. /healthz is answered before anything else, so that
// it never waits on limits or ingest work; every other request must first be admitted by the
// client limits (429 with Retry-After when over them), and an address whose requests keep being
// refused is blocked for a while.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { BatchHeader } from '../protocol/batch.ts';
import { isHex } from '../protocol/hash.ts';
import { isValidName } from '../protocol/records.ts';
import { counter } from '../kernel/metrics.ts';
import type { Anchorer } from './anchor/anchorer.ts';
import { EpochRoutes } from './http/epoch-routes.ts';
import { deviceParam, epochParam, NAME_RULE, positiveInteger } from './http/params.ts';
import { reportedBacklog } from './fleet/device-reports.ts';
import type { FleetView } from './fleet/fleet-view.ts';
import { clientAddress, type ClientLimits } from './http/client-limits.ts';
import type { PageAccess } from './http/page-access.ts';
import { HttpError, send, type Refusals } from './http/replies.ts';
import type { Ingest, IngestReply } from './ingest.ts';
import type { PagesRoutes } from './pages/pages-routes.ts';
import type { ProofService } from './proofs.ts';
import type { MrvService, ReportFormat } from './mrv/service.ts';
import type { ReceiptSigner } from './receipts.ts';
import type { DeviceKeyChanges } from './key-changes.ts';
import type { DeviceRegistry } from './registry.ts';
import { redactUrl } from '../kernel/redact.ts';
import type { Head, SinkStore } from './store/types.ts';
import { bearerToken, tokenDigest, tokenMatches } from '../kernel/request-token.ts';
import { ReadingsApi } from './readings/readings-api.ts';
import { WorkSlots } from './http/work-slots.ts';
import { BodyBudget, readBatchBody, readSmallBody, type BodyLimits } from './wire/body.ts';
import { WireError } from './wire/errors.ts';

export interface HttpApiDeps {
  store: SinkStore;
  ingest: Ingest;
  proofs: ProofService;
  registry: DeviceRegistry;
  /** rotations and revocations of device keys (admin) */
  keyChanges: DeviceKeyChanges;
  receipts: ReceiptSigner;
  anchorer: Anchorer | null;
  limits: BodyLimits & { maxReportSpanMs: number; maxBufferedBytes: number };
  clients: ClientLimits;
  refusals: Refusals;
  adminToken: string | null;
  mrv: MrvService;
  /** the fleet view batches are noted in, and the pages (null: neither) */
  fleet: FleetView | null;
  pages: PagesRoutes | null;
  /** who may read the pages' data (the fleet, the readings): requirePageAccess(pageAccess, req) */
  pageAccess: PageAccess;
  log: Logger;
  metrics: Registry;
}

/** Answers that count against the address that caused them (refusals of what it sent). */
const REFUSED = new Set([400, 401, 403, 408, 413, 414, 415, 422, 429, 431]);

/** The most body bytes a request answered early (a duplicate) may still send for its connection to be kept. */
const DRAIN_AFTER_ANSWER_BYTES = 1024 * 1024;

/** Reports hold their window's readings in memory: only this many are built at once. */
const REPORTS_AT_ONCE = 2;
/** record proofs built at once, and how many more may wait their turn (beyond: 429 proofs_busy) */
const PROOFS_AT_ONCE = 2;
const PROOFS_WAITING = 64;


/** The path's segments, percent-decoded; a malformed escape is the client's mistake (400), not ours. */
function pathParts(pathname: string): string[] {
  try {
    return pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    throw new HttpError(400, 'the path has a malformed percent escape', 'bad_url');
  }
}

function parseUrl(raw: string | undefined): URL {
  try {
    return new URL(raw ?? '/', 'http://sink');
  } catch {
    throw new HttpError(400, 'the request target is not a valid URL path', 'bad_url');
  }
}

function intParam(v: string | null, name: string, fallback: number): number {
  if (v === null || v === '') return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new HttpError(400, `${name} must be integer milliseconds since the epoch`, 'bad_query');
  return n;
}

export class HttpApi {
  private readonly requests;
  private reportsBuilding = 0;
  private readonly bodies: BodyBudget;
  private readonly epochRoutes: EpochRoutes;
  private readonly readings: ReadingsApi;
  /**
   * A proof reads and hashes its whole batch (up to limits.maxRecords records, maxDecodedBytes of
   * text): 45,000-record proofs asked for together took the sink from 300 to 690 MB. Anyone may ask.
   */
  private readonly proofSlots = new WorkSlots(PROOFS_AT_ONCE, PROOFS_WAITING, () => new HttpError(429, `${PROOFS_AT_ONCE + PROOFS_WAITING} proofs are being built or waiting; retry after 1 s`, 'proofs_busy', { 'retry-after': '1' }));

  private readonly deps: HttpApiDeps;
  /** the admin token's digest: compared in constant time whatever length is sent */
  private readonly adminDigest: Buffer | null;

  constructor(deps: HttpApiDeps) {
    this.deps = deps;
    this.adminDigest = deps.adminToken ? tokenDigest(deps.adminToken) : null;
    this.bodies = new BodyBudget(deps.limits.maxBufferedBytes);
    this.epochRoutes = new EpochRoutes({ ...deps, knownHead: (d) => this.knownHead(d), requireAdmin: (r) => this.requireAdmin(r) });
    this.readings = new ReadingsApi({
      index: deps.store.readings(), access: deps.pageAccess, metrics: deps.metrics,
      knows: async (device) => (await deps.store.head(device)).batch > 0 || (await deps.registry.keyOf(device)) !== null,
    });
    this.requests = counter(deps.metrics, 'fieldproof_sink_http_requests_total', 'HTTP requests, by route and status', ['route', 'status']);
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.url === '/healthz' && req.method === 'GET') {
      send(res, 200, { ok: true, store: this.deps.store.kind });
      this.requests.inc({ route: 'healthz', status: '200' });
      return;
    }
    const client = clientAddress(req.socket.remoteAddress);
    const admission = this.deps.clients.admit(client);
    if (!admission.ok) {
      // The body is not read: close rather than drain it.
      res.setHeader('connection', 'close');
      this.deps.refusals.answer(res, new HttpError(429, `too many requests (${admission.reason.replace('_', ' ')}); retry after ${admission.retryAfterS} s`, admission.reason, { 'retry-after': String(admission.retryAfterS) }), { client });
      this.deps.clients.noteRefusal(client);
      this.requests.inc({ route: 'limits', status: '429' });
      return;
    }
    let route = 'unknown';
    res.once('close', () => {
      this.deps.clients.finishRequest(client);
      if (REFUSED.has(res.statusCode)) this.deps.clients.noteRefusal(client);
      this.requests.inc({ route, status: String(res.statusCode) });
    });
    this.route(req, res, (r) => (route = r)).catch((err) => {
      // a body the route never read is not drained: the connection closes after the answer
      if (!req.complete && !res.headersSent) res.setHeader('connection', 'close');
      if (err instanceof HttpError) return this.deps.refusals.answer(res, err, { client, route });
      this.deps.log.error({ err: (err as Error).message, route }, 'request failed');
      if (!res.headersSent) send(res, 500, { error: `internal error: ${(err as Error).message}`, code: 'internal' });
      else res.destroy();
    });
  };

  private requireAdmin(req: IncomingMessage): void {
    if (!this.adminDigest) throw new HttpError(403, 'the admin API is off: set adminToken in the sink config (or FIELDPROOF_SINK_ADMIN_TOKEN)', 'admin_disabled');
    // a bearer token only: a page's cookie never opens the admin API
    if (!tokenMatches(bearerToken(req), this.adminDigest)) throw new HttpError(401, 'missing or wrong admin token', 'unauthorized');
  }

  private async route(req: IncomingMessage, res: ServerResponse, name: (r: string) => void): Promise<void> {
    const url = parseUrl(req.url);
    const parts = pathParts(url.pathname);
    const method = req.method ?? 'GET';
    const { deps } = this;

    if (method === 'POST' && url.pathname === '/v1/batches') {
      name('batches');
      return this.postBatch(req, res);
    }
    if (method === 'GET' && parts[0] === 'v1' && parts[1] === 'devices' && parts.length === 4 && parts[3] === 'head') {
      name('head');
      const device = deviceParam(parts[2]!);
      const head = await this.knownHead(device);
      return this.epochRoutes.head(res, device, head);
    }
    if (await this.epochRoutes.route(method, parts, url, req, res, name)) return;
    if (method === 'GET' && parts[0] === 'v1' && parts[1] === 'proofs' && parts.length === 4) {
      name('proofs');
      const device = deviceParam(parts[2]!);
      const seq = positiveInteger(parts[3]);
      if (seq === null) throw new HttpError(400, 'usage: GET /v1/proofs/DEVICE/SEQ[?epoch=N] with SEQ a positive integer', 'bad_query');
      // a client that left while its request waited for a slot gets no proof built
      const p = await this.proofSlots.run(async () => (req.socket.destroyed ? null : deps.proofs.proof(device, seq, epochParam(url))));
      if (p === null) return;
      return p.ok ? send(res, 200, p.proof) : send(res, p.status, { error: p.error, code: p.code });
    }
    if (method === 'GET' && parts[0] === 'v1' && parts[1] === 'reports' && parts.length === 3) {
      name('reports');
      return this.report(req, res, deviceParam(parts[2]!), url);
    }
    if (method === 'POST' && parts[0] === 'v1' && parts[1] === 'devices' && parts.length === 4 && (parts[3] === 'rotate' || parts[3] === 'revoke')) {
      name(parts[3]);
      this.requireAdmin(req);
      const device = deviceParam(parts[2]!);
      const body = await this.jsonBody(req, `body must be JSON: ${parts[3] === 'rotate' ? '{"key", "validFrom", "endorsement" | "operatorAlone": true}' : '{"key"?, "from"}'}`);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'body must be a JSON object', 'bad_body');
      const fields = body as Record<string, unknown>;
      return this.sendReply(res, parts[3] === 'rotate' ? await deps.keyChanges.rotate(device, fields) : await deps.keyChanges.revoke(device, fields));
    }
    if (parts[0] === 'v1' && parts[1] === 'devices' && parts.length === 4 && parts[3] === 'notes' && (method === 'GET' || method === 'POST')) {
      name('notes');
      const device = deviceParam(parts[2]!);
      if (method === 'GET') return this.sendReply(res, await deps.mrv.notes(device));
      this.requireAdmin(req);
      return this.sendReply(res, await deps.mrv.addNote(device, await this.jsonBody(req, 'body must be a signed note (fieldproof sink-devices note)')));
    }
    if (method === 'GET' && parts[0] === 'v1' && parts[1] === 'readings' && (parts.length === 2 || (parts.length === 3 && parts[2] === 'latest'))) {
      name(parts.length === 2 ? 'readings' : 'readings_latest');
      return this.readings.answer(req, res, url, parts.length === 3);
    }
    if (method === 'GET' && url.pathname === '/v1/anchors') {
      name('anchors');
      const limit = intParam(url.searchParams.get('limit'), 'limit', 20);
      if (limit < 1 || limit > 1000) throw new HttpError(400, 'limit must be 1..1000', 'bad_query');
      return send(res, 200, { anchors: await deps.store.anchors(limit) });
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
      if (method === 'GET') {
        // Each device with what the sink flagged of its clock: batches from the future, going backwards, unsynced.
        const flags = await deps.store.timeFlagCounts();
        const none = { future: 0, backwards: 0, unsynced: 0 };
        return send(res, 200, { devices: deps.registry.list().map((d) => ({ ...d, time: flags.get(d.id) ?? none })) });
      }
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
    if (await deps.pages?.handle(req, res, url, parts, name)) return;
    throw new HttpError(404, `no route ${method.slice(0, 16)} ${url.pathname.slice(0, 200)}`, 'no_route');
  }

  /**
   * A batch: the header is checked as soon as it has arrived, and a refusal (or a duplicate) is
   * answered without reading the rest; the connection is then closed rather than drained.
   */
  private async postBatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reply = await this.batchReply(req, res);
    if (reply) {
      this.noteInFleet(reply, reportedBacklog(req.headers['x-fieldproof-backlog']));
      send(res, reply.status, reply.body);
    }
  }

  /** What the fleet view shows of a batch: stored, held already, or refused under a device's name. */
  private noteInFleet(reply: IngestReply & { header?: BatchHeader }, backlog: number | null): void {
    const { fleet } = this.deps;
    const device = reply.body.device;
    if (!fleet || typeof device !== 'string') return;
    const now = Date.now();
    if (reply.status !== 200) fleet.noteRefused(device, String(reply.body.code));
    // Only a batch stored now shows that the device itself sent it: a duplicate's header is public
    // (every proof and head answer carries one), so anyone may send it again with a backlog of
    // their choosing, to hide a device that falls behind or to make one look behind.
    else if (reply.body.status === 'stored' && reply.header) fleet.noteStored(reply.header, now, backlog);
  }

  /** The answer to a batch, or null when the request was answered (or dropped) on the way. */
  private async batchReply(req: IncomingMessage, res: ServerResponse): Promise<(IngestReply & { header?: BatchHeader }) | null> {
    const { ingest, limits } = this.deps;
    let header: BatchHeader | null = null;
    let read;
    try {
      read = await readBatchBody<IngestReply>(req, limits, this.bodies, async (raw) => {
        const verdict = await ingest.checkHeader(raw);
        if (verdict.proceed) header = raw as BatchHeader;
        return verdict;
      });
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      if (req.socket.destroyed) return null;
      res.setHeader('connection', 'close');
      if (err.status === 429) res.setHeader('retry-after', '1');
      return ingest.refusedBody(err.status, err.message);
    }
    if ('answered' in read) {
      // A duplicate is answered before its body is read; the rest of a small one is read and
      // dropped, so that a device sending again keeps its connection. Anything else: close.
      const declared = Number(req.headers['content-length']);
      if (read.answered.status === 200 && declared <= DRAIN_AFTER_ANSWER_BYTES) req.resume();
      else if (!req.complete) res.setHeader('connection', 'close');
      return read.answered;
    }
    return { ...(await ingest.accept(header!, read.decoded)), header: header! };
  }

  /** The head of a device the sink knows: registered, or holding its batches (a device since removed from the config). */
  private async knownHead(device: string): Promise<Head> {
    const head = await this.deps.store.head(device);
    if (head.batch === 0 && (await this.deps.registry.keyOf(device)) === null) {
      throw new HttpError(404, `device ${device} is not registered with this sink and it holds nothing of it`, 'unknown_device');
    }
    return head;
  }

  private async report(req: IncomingMessage, res: ServerResponse, device: string, url: URL): Promise<void> {
    const { deps } = this;
    const to = intParam(url.searchParams.get('to'), 'to', Date.now());
    const from = intParam(url.searchParams.get('from'), 'from', to - 24 * 3600_000);
    if (from >= to) throw new HttpError(400, 'from must be before to', 'bad_query');
    if (to - from > deps.limits.maxReportSpanMs) {
      throw new HttpError(400, `the window is ${to - from} ms, over the limit of ${deps.limits.maxReportSpanMs} ms (limits.maxReportSpanMs): ask for it in parts`, 'window_too_long');
    }
    if (this.reportsBuilding >= REPORTS_AT_ONCE) {
      throw new HttpError(429, `${REPORTS_AT_ONCE} reports are being built; retry after 1 s`, 'reports_busy', { 'retry-after': '1' });
    }
    await this.knownHead(device);
    this.reportsBuilding++;
    try {
      const accept = req.headers.accept ?? '';
      const format = url.searchParams.get('format') ?? (accept.includes('text/csv') ? 'csv' : accept.startsWith('text/html') ? 'html' : 'json');
      if (format !== 'json' && format !== 'csv' && format !== 'html') throw new HttpError(400, 'format must be json, csv or html', 'bad_query');
      const out = await deps.mrv.report(device, from, to, format);
      return send(res, out.status, out.body, out.type);
    } finally {
      this.reportsBuilding--;
    }
  }

  private sendReply(res: ServerResponse, out: { status: number; body: unknown; type?: string }): void {
    send(res, out.status, out.body, out.type);
  }

  private async jsonBody(req: IncomingMessage, usage: string): Promise<unknown> {
    try {
      return JSON.parse((await readSmallBody(req, 64 * 1024)).toString('utf8'));
    } catch (err) {
      if (err instanceof WireError) throw new HttpError(err.status, err.message, err.status === 413 ? 'too_large' : 'bad_body');
      throw new HttpError(400, usage, 'bad_body');
    }
  }

  private async addDevice(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: { id?: unknown; key?: unknown };
    try {
      body = JSON.parse((await readSmallBody(req, 4096)).toString('utf8'));
    } catch (err) {
      if (err instanceof WireError) throw new HttpError(err.status, err.message, err.status === 413 ? 'too_large' : 'bad_body');
      throw new HttpError(400, 'body must be JSON {"id": ..., "key": ...}', 'bad_body');
    }
    if (typeof body !== 'object' || body === null) throw new HttpError(400, 'body must be JSON {"id": ..., "key": ...}', 'bad_body');
    if (!isValidName(body.id)) throw new HttpError(400, `id: ${NAME_RULE}`, 'bad_device_name');
    if (!isHex(body.key, 32)) throw new HttpError(400, 'key must be a 64-digit lowercase hex Ed25519 public key', 'bad_body');
    const outcome = await this.deps.registry.add(body.id, body.key);
    if (outcome === 'conflict') throw new HttpError(409, `device ${body.id} is already registered with another key`, 'conflict');
    this.deps.log.info({ device: body.id, outcome }, 'device registered');
    send(res, outcome === 'added' ? 201 : 200, { id: body.id, key: body.key, status: outcome });
  }
}

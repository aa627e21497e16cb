// /api/downlinks on the local HTTP server. GET lists the downlinks queued and recently sent
// (`?device=ID` for one device). POST queues one: `{"device", "data" | "bytes", "fPort"?,
// "confirmed"?}`; `data` goes through the device codec's encoder, `bytes` (hex) go as they are.
// A POST must be JSON and, from a browser, from the status page's own origin: a page elsewhere
// cannot send one (a cross-origin JSON POST needs a preflight this server never grants).
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { DownlinkAsk, DownlinkService } from '../../kernel/component.ts';

/** Largest request body taken. */
export const MAX_BODY_BYTES = 16 * 1024;

export interface ApiReply {
  code: number;
  body: unknown;
}

export class DownlinkApi {
  private readonly service: () => DownlinkService | undefined;
  private readonly log: Logger;
  private readonly sameOrigin: (req: IncomingMessage) => boolean;

  constructor(
    service: () => DownlinkService | undefined,
    log: Logger,
    sameOrigin: (req: IncomingMessage) => boolean,
  ) {
    this.service = service;
    this.log = log;
    this.sameOrigin = sameOrigin;
  }

  async handle(req: IncomingMessage, url: URL): Promise<ApiReply> {
    const service = this.service();
    if (req.method === 'GET' || req.method === 'HEAD') return { code: 200, body: { downlinks: service ? service.list(url.searchParams.get('device') ?? undefined) : [] } };
    if (req.method !== 'POST') return { code: 405, body: { error: 'GET or POST' } };
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) return { code: 415, body: { error: 'send the downlink as application/json' } };
    if (!this.sameOrigin(req)) return { code: 403, body: { error: 'refused: cross-origin request' } };
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req, MAX_BODY_BYTES));
    } catch (err) {
      return err instanceof BodyTooLarge ? { code: 413, body: { error: `body over ${MAX_BODY_BYTES} bytes` } } : { code: 400, body: { error: 'body is not JSON' } };
    }
    if (!service) return { code: 404, body: { error: 'this device has no LoRaWAN gateway' } };
    const ask = downlinkAsk(body);
    if (typeof ask === 'string') return { code: 400, body: { error: ask } };
    const r = await service.enqueue(ask);
    if (!r.ok) return { code: r.status, body: { error: r.error } };
    this.log.info({ device: r.downlink.device, id: r.downlink.id, fPort: r.downlink.fPort, confirmed: r.downlink.confirmed }, 'downlink queued');
    return { code: 202, body: { downlink: r.downlink } };
  }
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new BodyTooLarge());
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** A POSTed downlink, checked field by field; a one-line reason when it is not one. */
export function downlinkAsk(body: unknown): DownlinkAsk | string {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'the body must be a JSON object';
  const b = body as Record<string, unknown>;
  const known = new Set(['device', 'data', 'bytes', 'fPort', 'confirmed']);
  const extra = Object.keys(b).find((k) => !known.has(k));
  if (extra !== undefined) return `unknown field ${JSON.stringify(extra)}`;
  if (typeof b.device !== 'string' || b.device === '') return 'device must be the id of a LoRaWAN device';
  if ((b.data === undefined) === (b.bytes === undefined)) return 'give either data (for the codec) or bytes (hex)';
  if (b.bytes !== undefined && typeof b.bytes !== 'string') return 'bytes must be hex text';
  if (b.fPort !== undefined && (typeof b.fPort !== 'number' || !Number.isInteger(b.fPort) || b.fPort < 1 || b.fPort > 223)) return 'fPort must be an integer 1..223';
  if (b.confirmed !== undefined && typeof b.confirmed !== 'boolean') return 'confirmed must be true or false';
  return {
    device: b.device,
    ...(b.data !== undefined ? { data: b.data } : {}),
    ...(typeof b.bytes === 'string' ? { bytes: b.bytes } : {}),
    ...(typeof b.fPort === 'number' ? { fPort: b.fPort } : {}),
    ...(b.confirmed !== undefined ? { confirmed: b.confirmed } : {}),
  };
}

// The sink's pages (the fleet at /, a device at /devices/ID, the proof checker at /proof), their
// static files under /pages/ (plain ES modules, no build step; uPlot from the installed package,
// never a CDN), and the fleet's JSON and live feed. Every one of them passes the pages' access
// rule first (http/page-access.ts). The pages hold no data of their own: they read the sink's
// JSON APIs, and the proof page checks a proof in the browser, not here (asking the Aptos node the
// auditor chose directly, never through the sink).
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { isValidName } from '../../protocol/records.ts';
import type { FleetFeed } from '../fleet/fleet-feed.ts';
import type { FleetSnapshot, FleetView } from '../fleet/fleet-view.ts';
import { requirePageAccess, type PageAccess } from '../http/page-access.ts';
import { HttpError, send } from '../http/replies.ts';

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
/**
 * An origin as the URL parser writes it, and nothing more: a host parsed from a URL may still hold
 * `;`, `,` or `'`, which would end the directive and start another in the policy.
 */
const NODE_ORIGIN = /^https?:\/\/(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$/;

/**
 * The proof page asks the Aptos node the auditor chose, from the browser. Its policy names exactly
 * that node's origin, given as `?node=URL` (the page reloads itself with it when the auditor picks
 * a node), rather than `https:` and loopback: those would let the page, and anything ever injected
 * into it, send what it shows to any server on the internet or any service on this machine, when
 * it needs one node; and they would refuse a node on a LAN over http. A policy cannot be widened
 * from inside the page, hence the reload. A `node` that is no http(s) URL, carries credentials or
 * an origin of any other shape adds nothing.
 */
export function proofPagePolicy(url: URL): string {
  const origin = nodeOrigin(url.searchParams.get('node'));
  return origin ? CSP.replace("connect-src 'self'", `connect-src 'self' ${origin}`) : CSP;
}

function nodeOrigin(given: string | null): string | null {
  if (given === null || given.length > 2048) return null;
  let node: URL;
  try {
    node = new URL(given);
  } catch {
    return null;
  }
  if ((node.protocol !== 'http:' && node.protocol !== 'https:') || node.username || node.password) return null;
  return NODE_ORIGIN.test(node.origin) ? node.origin : null;
}
const HTML = 'text/html';
const JS = 'text/javascript';
const CSS = 'text/css';

const www = (name: string) => () => new URL(`./www/${name}`, import.meta.url);
const uplot = (name: string) => () => createRequire(import.meta.url).resolve(`uplot/dist/${name}`);

/** Every file the pages may load, by URL path: nothing outside this list is read from disk. */
const FILES = new Map<string, { file: () => string | URL; type: string }>([
  ['fleet.html', { file: www('fleet.html'), type: HTML }],
  ['device.html', { file: www('device.html'), type: HTML }],
  ['proof.html', { file: www('proof.html'), type: HTML }],
  ['/pages/pages.css', { file: www('pages.css'), type: CSS }],
  ['/pages/dom.js', { file: www('dom.js'), type: JS }],
  ['/pages/fleet.js', { file: www('fleet.js'), type: JS }],
  ['/pages/device.js', { file: www('device.js'), type: JS }],
  ['/pages/proof.js', { file: www('proof.js'), type: JS }],
  ['/pages/proof-check.js', { file: www('proof-check.js'), type: JS }],
  ['/pages/proof-input.js', { file: www('proof-input.js'), type: JS }],
  ['/pages/jcs.js', { file: www('jcs.js'), type: JS }],
  ['/pages/merkle.js', { file: www('merkle.js'), type: JS }],
  ['/pages/operator-check.js', { file: www('operator-check.js'), type: JS }],
  ['/pages/aptos-node.js', { file: www('aptos-node.js'), type: JS }],
  ['/pages/bounded-body.js', { file: www('bounded-body.js'), type: JS }],
  ['/pages/device-keys.js', { file: www('device-keys.js'), type: JS }],
  ['/pages/series.js', { file: www('series.js'), type: JS }],
  ['/pages/vendor/uPlot.iife.min.js', { file: uplot('uPlot.iife.min.js'), type: JS }],
  ['/pages/vendor/uPlot.min.css', { file: uplot('uPlot.min.css'), type: CSS }],
]);

export interface PagesRoutesDeps {
  access: PageAccess;
  fleet: FleetView;
  feed: FleetFeed;
}

export class PagesRoutes {
  private readonly bodies = new Map<string, Promise<Buffer>>();
  private cached: { version: number; at: number; snapshot: FleetSnapshot } | null = null;

  private readonly deps: PagesRoutesDeps;

  constructor(deps: PagesRoutesDeps) {
    this.deps = deps;
  }

  /** Answer the request when it is one of the pages' routes; false when it is not. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL, parts: string[], name: (route: string) => void): Promise<boolean> {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') return false;
    const path = url.pathname;
    let page: string | null = null;
    if (path === '/') page = 'fleet.html';
    else if (path === '/proof') page = 'proof.html';
    else if (parts.length === 2 && parts[0] === 'devices' && isValidName(parts[1])) page = 'device.html';
    const route = page ?? (FILES.has(path) ? 'page_file' : path === '/v1/fleet' ? 'fleet' : path === '/v1/fleet/events' && method === 'GET' ? 'fleet_events' : null);
    if (route === null) return false;
    name(page ? `page_${page.slice(0, -5)}` : route);

    if (path === '/' && url.searchParams.has('token') && !this.deps.access.isLocal(req)) {
      // A link with the token, opened once: the cookie carries it from then on, out of the address bar.
      const cookie = this.deps.access.loginCookie(url);
      if (cookie) {
        send(res, 303, 'token accepted\n', 'text/plain', { location: '/', 'set-cookie': cookie, 'cache-control': 'no-store' });
        return true;
      }
    }
    requirePageAccess(this.deps.access, req);
    if (route === 'fleet') {
      send(res, 200, await this.snapshot(), 'application/json', { 'cache-control': 'no-store' });
    } else if (route === 'fleet_events') {
      if (!this.deps.feed.subscribe(res)) throw new HttpError(503, 'the fleet live feed has as many subscribers as it serves; retry later', 'feed_full', { 'retry-after': '10' });
    } else {
      await this.file(res, page ?? path, method === 'HEAD', page === 'proof.html' ? proofPagePolicy(url) : CSP);
    }
    return true;
  }

  /** One view shared by the requests of the same moment: a page reloaded in a loop costs one build a second. */
  private async snapshot(): Promise<FleetSnapshot> {
    const { fleet } = this.deps;
    const c = this.cached;
    if (c && c.version === fleet.version && Date.now() - c.at < 1000) return c.snapshot;
    const version = fleet.version;
    const snapshot = await fleet.snapshot();
    this.cached = { version, at: Date.now(), snapshot };
    return snapshot;
  }

  private async file(res: ServerResponse, key: string, headOnly: boolean, policy: string): Promise<void> {
    const asset = FILES.get(key)!;
    let body = this.bodies.get(key);
    if (!body) this.bodies.set(key, (body = readFile(asset.file())));
    let bytes: Buffer;
    try {
      bytes = await body;
    } catch (err) {
      this.bodies.delete(key); // not kept: the next request reads again
      throw new Error(`cannot read the page file ${key}: ${(err as Error).message}`);
    }
    const headers: Record<string, string> = {
      'content-type': `${asset.type}; charset=utf-8`, 'content-length': String(bytes.length), 'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer', 'cache-control': asset.type === HTML ? 'no-store' : 'max-age=300',
    };
    if (asset.type === HTML) headers['content-security-policy'] = policy;
    res.writeHead(200, headers);
    res.end(headOnly ? undefined : bytes);
  }
}

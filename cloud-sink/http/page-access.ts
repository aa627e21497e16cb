// Who may see the sink's pages and the read APIs behind them (the fleet, the readings): anyone on
// this machine without a token; beyond it only with `pages.token`, and nobody beyond it when no
// token is set. "On this machine" means both that the connection comes from a loopback address
// and that the Host header names a loopback host: a web page elsewhere that rebinds its own name
// to 127.0.0.1 sends its own name as Host, and is refused.
import type { IncomingMessage } from 'node:http';
import { isLoopback } from '../../kernel/net.ts';
import { hostName, presentedToken, tokenDigest, tokenMatches } from '../../kernel/request-token.ts';
import { clientAddress } from './client-limits.ts';
import { HttpError } from './replies.ts';

export const PAGES_COOKIE = 'fieldproof_sink_pages';

export type AccessVerdict =
  | { ok: true }
  | { ok: false; status: 401 | 403; code: 'unauthorized' | 'pages_disabled'; error: string };

export class PageAccess {
  /** compared by digest, so that the comparison takes the same time whatever length was sent */
  private readonly tokenDigest: Buffer | null;

  constructor(token: string | null) {
    this.tokenDigest = token ? tokenDigest(token) : null;
  }

  get tokenSet(): boolean {
    return this.tokenDigest !== null;
  }

  /** The request comes from this machine and names it. */
  isLocal(req: IncomingMessage): boolean {
    const host = hostName(req.headers.host);
    return isLoopback(clientAddress(req.socket.remoteAddress)) && host !== null && isLoopback(host);
  }

  check(req: IncomingMessage): AccessVerdict {
    if (this.isLocal(req)) return { ok: true };
    if (!this.tokenDigest) {
      return { ok: false, status: 403, code: 'pages_disabled', error: 'the sink\'s pages and read APIs answer only on this machine: set pages.token in the sink config to open them beyond it' };
    }
    if (this.matches(presentedToken(req, PAGES_COOKIE))) return { ok: true };
    return { ok: false, status: 401, code: 'unauthorized', error: 'a pages token is required: Authorization: Bearer TOKEN, or open /?token=TOKEN once' };
  }

  /** The Set-Cookie value that logs a browser in, when `?token=` is the right token; null otherwise. */
  loginCookie(url: URL): string | null {
    const given = url.searchParams.get('token');
    if (!this.matches(given)) return null;
    return `${PAGES_COOKIE}=${encodeURIComponent(given!)}; Path=/; HttpOnly; Secure; SameSite=Strict`;
  }

  matches(presented: string | null): boolean {
    return tokenMatches(presented, this.tokenDigest);
  }
}

/** The sink's one-line refusal for a request `access` does not let through; nothing when it does. */
export function requirePageAccess(access: PageAccess, req: IncomingMessage): void {
  const v = access.check(req);
  if (v.ok) return;
  throw new HttpError(v.status, v.error, v.code, v.status === 401 ? { 'www-authenticate': 'Bearer realm="fieldproof-sink"' } : {});
}

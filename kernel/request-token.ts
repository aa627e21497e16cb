// The token a browser or a script presents to a page server (the device's status page, the sink's
// pages): `Authorization: Bearer TOKEN`, or the cookie a first visit with `?token=` set; compared
// by digest in constant time. And the host a Host header names, for the loopback rule.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The `Authorization: Bearer` token; null when there is none (or it is malformed). */
export function bearerToken(req: IncomingMessage): string | null {
  const auth = req.headers.authorization;
  return auth ? (/^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1] ?? null) : null;
}

/** The Bearer token, else the named cookie's value; null when neither is there (or it is malformed). */
export function presentedToken(req: IncomingMessage, cookieName: string): string | null {
  if (req.headers.authorization) return bearerToken(req);
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === cookieName) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** SHA-256 of a token: what is kept and compared, so that the comparison takes the same time whatever length was sent. */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function tokenMatches(presented: string | null, digest: Buffer | null): boolean {
  if (!digest || presented === null) return false;
  return timingSafeEqual(tokenDigest(presented), digest);
}

/** The host of a Host header (`name`, `name:port`, `[v6]:port`), or null when it is none. */
export function hostName(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::\d+)?$/.exec(header.trim());
  return m ? (m[1] ?? m[2]!) : null;
}

// The bearer token of a request, compared in constant time (the admin token).
import type { IncomingMessage } from 'node:http';
import { timingSafeEqual } from 'node:crypto';

/** Whether the request's bearer token is `token`, compared in constant time. */
export function bearerMatches(req: IncomingMessage, token: string): boolean {
  const given = Buffer.from(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

// Who may read the sink's read APIs (the readings, and the pages that draw them): anyone on this
// machine, and beyond it only a client that shows the read token as a bearer token. A sink with no
// read token serves them to loopback only.
import type { IncomingMessage } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { isLoopback } from '../../kernel/net.ts';
import { clientAddress } from '../http/client-limits.ts';
import { HttpError } from '../http/replies.ts';

/** Whether the request's bearer token is `token`, compared in constant time. */
export function bearerMatches(req: IncomingMessage, token: string): boolean {
  const given = Buffer.from(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

export function checkReadAccess(req: IncomingMessage, token: string | null): void {
  if (isLoopback(clientAddress(req.socket.remoteAddress))) return;
  if (!token) throw new HttpError(403, 'the read APIs answer loopback only: set readToken in the sink config (or FIELDPROOF_SINK_READ_TOKEN) to serve them beyond it', 'read_disabled');
  if (!bearerMatches(req, token)) throw new HttpError(401, 'missing or wrong read token', 'unauthorized');
}

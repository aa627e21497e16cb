// Cross-origin requests answered as an Aptos full node's REST API answers them: its API server
// enables CORS for GET and POST from any origin (with credentials, so it names the origin back
// rather than `*`), which is how wallets, explorers and in-browser verifiers call a full node
// directly. A preflight for any other method is refused, and a request without an Origin header
// (a program, not a page) gets no CORS headers at all.
import type { IncomingMessage, ServerResponse } from 'node:http';

const METHODS = ['GET', 'POST'];
/** How long a browser may keep a preflight's answer, in seconds. */
const PREFLIGHT_MAX_AGE_S = 86_400;

/**
 * Sets the CORS headers of the answer to `req`; answers a preflight itself (true: nothing more to
 * do). A refused preflight gets a 403 without CORS headers, so the browser blocks the request.
 */
export function answerCors(req: IncomingMessage, res: ServerResponse): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  const preflightMethod = req.method === 'OPTIONS' ? req.headers['access-control-request-method'] : undefined;
  if (preflightMethod !== undefined && !METHODS.includes(preflightMethod)) {
    res.writeHead(403, { 'content-length': '0' });
    res.end();
    return true;
  }
  res.setHeader('access-control-allow-origin', origin);
  res.setHeader('access-control-allow-credentials', 'true');
  res.setHeader('vary', 'Origin');
  if (preflightMethod === undefined) return false;
  const headers: Record<string, string> = { 'access-control-allow-methods': METHODS.join(', '), 'access-control-max-age': String(PREFLIGHT_MAX_AGE_S), 'content-length': '0' };
  const asked = req.headers['access-control-request-headers'];
  if (asked) headers['access-control-allow-headers'] = asked;
  res.writeHead(200, headers);
  res.end();
  return true;
}

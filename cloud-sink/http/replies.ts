// How the sink answers: JSON bodies of one line, and every refusal as a status, a one-line
// {"error", "code"} and a count by reason, logged through a throttle.
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Counter, Registry } from 'prom-client';
import { counter } from '../../kernel/metrics.ts';
import { ThrottledWarn } from '../../kernel/log-throttle.ts';

export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, code: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export function send(res: ServerResponse, status: number, body: unknown, type = 'application/json', headers: Record<string, string> = {}): void {
  const text = type === 'application/json' ? JSON.stringify(body) + '\n' : String(body);
  res.writeHead(status, { ...headers, 'content-type': type === 'application/json' ? 'application/json' : `${type}; charset=utf-8`, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 408: 'Request Timeout', 413: 'Content Too Large', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large',
};

/** A whole HTTP/1.1 response for a socket the HTTP parser gave up on (no ServerResponse exists). */
export function rawResponse(status: number, code: string, error: string): string {
  const body = JSON.stringify({ error, code }) + '\n';
  return `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

/** Requests and connections refused before any route ran (limits, timeouts, malformed requests). */
export class Refusals {
  private readonly counted: Counter<'status' | 'reason'>;
  private readonly throttle: ThrottledWarn;

  constructor(metrics: Registry, log: Logger) {
    this.counted = counter(metrics, 'fieldproof_sink_http_refused_total', 'Requests and connections the sink refused before or while routing them, by status and reason', ['status', 'reason']);
    this.throttle = new ThrottledWarn(log, 1000);
  }

  /** Count and log one refusal; `status` is 'closed' for a connection closed without an answer. */
  note(status: number | 'closed', reason: string, fields: Record<string, unknown> = {}, msg = 'request refused'): void {
    this.counted.inc({ status: String(status), reason });
    this.throttle.warn(reason, fields, msg);
  }

  /** Answer a refusal with its one-line JSON, count it and log it (throttled). */
  answer(res: ServerResponse, err: HttpError, fields: Record<string, unknown> = {}): void {
    this.note(err.status, err.code, { ...fields, error: err.message });
    if (res.headersSent || res.destroyed) return;
    send(res, err.status, { error: err.message, code: err.code }, 'application/json', err.headers);
  }
}

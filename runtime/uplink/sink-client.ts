// The uplink's HTTP client to the sink: the connection pool (built from the config, with a
// private CA when one is named, unless one is passed in), one abort signal that every request on
// the wire listens on so that stopping does not wait for slow answers, and the sink's answers read
// as JSON without trusting that they are.
import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { Agent, request, type Dispatcher } from 'undici';
import type { UplinkConfig } from './config.ts';

/**
 * The largest answer read from the sink. Its answers are a few hundred bytes, a held batch's
 * record lines at most (a batch's bytes, some escaped); whatever answers at the sink's address
 * could otherwise stream into the daemon's memory until the device runs out of it.
 */
export const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/** An answer over MAX_ANSWER_BYTES, left unread. */
export class AnswerTooLarge extends Error {
  override name = 'AnswerTooLarge';
}

/** The longest a sink's Retry-After may hold the uplink back: a wrong or hostile value must not park it for days. */
const MAX_RETRY_AFTER_MS = 10 * 60_000;

function retryAfterMs(status: number, header: string | string[] | undefined): number {
  if ((status !== 429 && status !== 503) || typeof header !== 'string' || !/^\d{1,9}$/.test(header.trim())) return 0;
  return Math.min(Number(header.trim()) * 1000, MAX_RETRY_AFTER_MS);
}

export class SinkReply {
  readonly status: number;
  readonly body: Record<string, unknown>;
  /** how long the sink asked to be left alone (a 429 or 503 with Retry-After in seconds), ms */
  readonly retryAfterMs: number;

  constructor(status: number, body: Record<string, unknown>, retryAfter?: string | string[]) {
    this.status = status;
    this.body = body;
    this.retryAfterMs = retryAfterMs(status, retryAfter);
  }
}

export interface SinkClientDeps {
  /** the sink's base URL, without a trailing slash */
  base: string;
  config: UplinkConfig;
  /** a dispatcher other than the one built from the config (tests) */
  dispatcher?: Dispatcher;
}

export class SinkClient {
  private dispatcher: Dispatcher | null = null;
  private ownsDispatcher = false;
  /** aborts the requests on the wire when the uplink stops */
  private aborter = new AbortController();

  private readonly deps: SinkClientDeps;

  constructor(deps: SinkClientDeps) {
    this.deps = deps;
  }

  start(): void {
    const { config } = this.deps;
    if (this.deps.dispatcher) this.dispatcher = this.deps.dispatcher;
    else {
      let ca: Buffer | undefined;
      if (config.ca) {
        try {
          ca = readFileSync(config.ca);
        } catch (err) {
          throw new Error(`uplink.ca: cannot read ${config.ca}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
        }
      }
      this.dispatcher = new Agent({ connections: config.inFlight + 1, keepAliveTimeout: 30_000, ...(ca ? { connect: { ca } } : {}) });
      this.ownsDispatcher = true;
    }
    this.aborter = new AbortController();
    // Every request listens on this one signal, and a request's listener goes only once its
    // response body has closed, a moment after the next request took its slot.
    setMaxListeners(4 * config.inFlight + 8, this.aborter.signal);
  }

  /** Abort the requests on the wire; their senders see them fail. */
  abort(): void {
    this.aborter.abort();
  }

  /** Close the connection pool, when it is this client's own. Call after the requests have settled. */
  async stop(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher?.close().catch(() => undefined);
    this.dispatcher = null;
  }

  async call(method: 'GET' | 'POST', path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<SinkReply> {
    const { timeoutMs } = this.deps.config;
    const res = await request(this.deps.base + path, {
      method, body, headers, dispatcher: this.dispatcher!, signal: this.aborter.signal,
      headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
    });
    const text = await boundedText(res.body, res.headers['content-length']);
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      parsed = { error: text.slice(0, 200) };
    }
    return new SinkReply(res.statusCode, parsed, res.headers['retry-after']);
  }
}

async function boundedText(body: Dispatcher.ResponseData['body'], declared: string | string[] | undefined): Promise<string> {
  const tooLarge = (what: string) => {
    body.destroy();
    return new AnswerTooLarge(`the sink's answer is ${what} bytes, more than ${MAX_ANSWER_BYTES}: not read`);
  };
  if (Number(declared) > MAX_ANSWER_BYTES) throw tooLarge(String(declared));
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > MAX_ANSWER_BYTES) throw tooLarge(`over ${size}`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

// What each client address may hold at once: connections, requests in flight, and a block for an
// address that keeps sending what the sink refuses. A connection or request over a limit is
// refused at once (the caller answers 429 or closes), so that nothing waits in a queue a hostile
// client could fill. Per address, not per device: batches are not signed until read, and a
// client that is refused never gets that far.
import { isIP } from 'node:net';

export interface ClientLimitsConfig {
  maxConnections: number;
  maxConnectionsPerClient: number;
  maxRequests: number;
  maxRequestsPerClient: number;
  /** refusals (answers 400, 401, 403, 408, 413, 415, 422, 429, 431) within `refusalWindowMs` that block an address; 0: never */
  refusalsBeforeBlock: number;
  refusalWindowMs: number;
  blockMs: number;
}

export type Admission = { ok: true } | { ok: false; reason: 'client_requests' | 'server_requests' | 'blocked'; retryAfterS: number };

export type ConnectionVerdict = { ok: true } | { ok: false; reason: 'client_connections' | 'blocked' };

interface ClientState {
  connections: number;
  requests: number;
  refusals: number;
  windowStart: number;
  blockedUntil: number;
}

/** Entries kept for addresses with nothing open (their refusal counts), beyond which the oldest go. */
const IDLE_CLIENTS_KEPT = 10_000;

/**
 * The client a connection counts against. IPv4 clients of a dual-stack listener arrive as
 * ::ffff:a.b.c.d: one address, one entry. An IPv6 client counts as its /64: that is what one
 * subscriber or one server is given, and a client with its own /64 has 2^64 addresses to spread
 * connections and refusals over, each of which would otherwise get the whole per-client allowance.
 */
export function clientAddress(remote: string | undefined): string {
  if (!remote) return 'unknown';
  if (remote.startsWith('::ffff:')) return remote.slice(7);
  if (isIP(remote) !== 6 || remote === '::1') return remote;
  return prefix64(remote);
}

/** `2001:db8:a:b::/64` for any address in it; an address with an IPv4 tail (a translator's) is kept whole. */
function prefix64(address: string): string {
  const bare = address.split('%')[0]!;
  if (bare.includes('.')) return bare;
  const [head, tail] = bare.split('::') as [string, string | undefined];
  const first = head === '' ? [] : head.split(':');
  const last = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? first : [...first, ...Array<string>(8 - first.length - last.length).fill('0'), ...last];
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

export class ClientLimits {
  private readonly clients = new Map<string, ClientState>();
  private requests = 0;
  private connections = 0;

  private readonly config: ClientLimitsConfig;
  private readonly now: () => number;

  constructor(config: ClientLimitsConfig, now: () => number = Date.now) {
    this.config = config;
    this.now = now;
  }

  get inFlight(): number {
    return this.requests;
  }

  get openConnections(): number {
    return this.connections;
  }

  /** Addresses with an entry: open connections, requests, or refusals still counted. */
  get trackedClients(): number {
    return this.clients.size;
  }

  openConnection(client: string): ConnectionVerdict {
    const st = this.state(client);
    if (this.blocked(st) > 0) return { ok: false, reason: 'blocked' };
    if (st.connections >= this.config.maxConnectionsPerClient) return { ok: false, reason: 'client_connections' };
    st.connections++;
    this.connections++;
    return { ok: true };
  }

  closeConnection(client: string): void {
    const st = this.clients.get(client);
    if (!st || st.connections === 0) return;
    st.connections--;
    this.connections--;
    this.forgetIfIdle(client, st);
  }

  /** A request may start: call `finishRequest` exactly once when it is over. */
  admit(client: string): Admission {
    const st = this.state(client);
    const blocked = this.blocked(st);
    if (blocked > 0) return { ok: false, reason: 'blocked', retryAfterS: Math.ceil(blocked / 1000) };
    if (st.requests >= this.config.maxRequestsPerClient) return { ok: false, reason: 'client_requests', retryAfterS: 1 };
    if (this.requests >= this.config.maxRequests) return { ok: false, reason: 'server_requests', retryAfterS: 1 };
    st.requests++;
    this.requests++;
    return { ok: true };
  }

  finishRequest(client: string): void {
    const st = this.clients.get(client);
    if (!st || st.requests === 0) return;
    st.requests--;
    this.requests--;
    this.forgetIfIdle(client, st);
  }

  /** The sink refused something this address sent; enough of them in one window block it. */
  noteRefusal(client: string): void {
    if (this.config.refusalsBeforeBlock === 0) return;
    const st = this.state(client);
    const now = this.now();
    if (now - st.windowStart > this.config.refusalWindowMs) {
      st.windowStart = now;
      st.refusals = 0;
    }
    if (++st.refusals >= this.config.refusalsBeforeBlock) {
      st.blockedUntil = now + this.config.blockMs;
      st.refusals = 0;
      st.windowStart = now;
    }
  }

  /** Milliseconds the address stays blocked, 0 when it is not. */
  private blocked(st: ClientState): number {
    return Math.max(0, st.blockedUntil - this.now());
  }

  private state(client: string): ClientState {
    let st = this.clients.get(client);
    if (!st) {
      st = { connections: 0, requests: 0, refusals: 0, windowStart: this.now(), blockedUntil: 0 };
      this.clients.set(client, st);
      if (this.clients.size > IDLE_CLIENTS_KEPT + this.config.maxConnections) this.dropIdle();
    }
    return st;
  }

  private forgetIfIdle(client: string, st: ClientState): void {
    if (st.connections > 0 || st.requests > 0) return;
    const now = this.now();
    if (st.blockedUntil > now || (st.refusals > 0 && now - st.windowStart <= this.config.refusalWindowMs)) return;
    this.clients.delete(client);
  }

  /** Bound the map: forget the oldest addresses that hold nothing open (their refusal counts go with them). */
  private dropIdle(): void {
    const excess = this.clients.size - IDLE_CLIENTS_KEPT;
    let dropped = 0;
    for (const [client, st] of this.clients) {
      if (dropped >= excess) break;
      if (st.connections === 0 && st.requests === 0) {
        this.clients.delete(client);
        dropped++;
      }
    }
  }
}

import { Aptos, AptosConfig, Network, type Client, type ClientRequest, type ClientResponse } from '@aptos-labs/ts-sdk';

/** Longest the sink or a verifier waits for one answer from a node. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Largest answer read from a node: transactions and views are small; a node is not trusted with our memory. */
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/**
 * The SDK's requests, made with Node's own fetch. The SDK's default client (got) leaves a rejected
 * promise behind when a node refuses the connection, which Node reports as an uncaught error long
 * after the caller has its answer; with fetch, a refusal is one rejected request and nothing else,
 * and the answer's size and time are bounded here.
 */
const fetchClient: Client = {
  async provider<Req, Res>(req: ClientRequest<Req>): Promise<ClientResponse<Res>> {
    const url = new URL(req.url);
    for (const [k, v] of Object.entries((req.params ?? {}) as Record<string, unknown>)) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers ?? {})) if (v !== undefined) headers[k] = String(v);
    const body = req.body === undefined ? undefined : req.body instanceof Uint8Array ? req.body : JSON.stringify(req.body);
    const res = await fetch(url, { method: req.method, headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const declared = Number(res.headers.get('content-length') ?? 0);
    if (declared > MAX_RESPONSE_BYTES) {
      await res.body?.cancel();
      throw new Error(`${url.origin} answered with ${declared} bytes, more than ${MAX_RESPONSE_BYTES}`);
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.length > MAX_RESPONSE_BYTES) throw new Error(`${url.origin} answered with more than ${MAX_RESPONSE_BYTES} bytes`);
    const type = res.headers.get('content-type') ?? '';
    let data: unknown = bytes;
    if (type.includes('json')) data = bytes.length === 0 ? null : JSON.parse(Buffer.from(bytes).toString('utf8'));
    return { status: res.status, statusText: res.statusText, data: data as Res, headers: Object.fromEntries(res.headers) };
  },
};

/**
 * An SDK client for one node URL. The SDK prints a note on stdout when given a custom network;
 * stdout carries JSON contracts here (verify --json) and pino logs, so the note is held back.
 */
export function aptosClient(node: string): Aptos {
  const info = console.info;
  console.info = () => undefined;
  try {
    return new Aptos(new AptosConfig({ network: Network.CUSTOM, fullnode: node.replace(/\/+$/, ''), client: fetchClient, clientConfig: { http2: false } }));
  } finally {
    console.info = info;
  }
}

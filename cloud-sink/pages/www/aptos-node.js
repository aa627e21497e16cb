// An Aptos full node asked from the browser, directly (never through the sink): a transaction by
// its hash, and the anchor module's view functions as JSON calls (the node's API answers pages
// with CORS for both). Every answer is bounded in time and size and read as hostile input: the node
// is trusted with the chain's facts, not with this page's memory. The browser's side of
// cloud-sink/anchor/aptos-client.ts and module-views.ts, with their bounds and their messages.
import { boundedBody } from './bounded-body.js';
import { parseDeviceKeys } from './device-keys.js';

/** Longest the page waits for one answer from a node. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Largest answer read from a node: transactions and views are small. */
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/** The node answered with an HTTP error: its status, and its own message when it gave one. */
export class NodeAnswerError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * An address in Aptos's canonical form, as the SDK's AccountAddress.fromString(a, {maxMissingChars:
 * 63}).toString() gives it: 0x and 64 lowercase hex digits, the special addresses 0x0..0xf short.
 * Throws on anything else.
 */
export function longAddress(a) {
  const hex = typeof a === 'string' && a.startsWith('0x') ? a.slice(2) : a;
  if (typeof hex !== 'string' || !/^[0-9a-fA-F]{1,64}$/.test(hex)) throw new Error(`not an account address: ${JSON.stringify(a)}`);
  const digits = hex.toLowerCase().replace(/^0+(?=.)/, '');
  return digits.length === 1 ? `0x${digits}` : `0x${digits.padStart(64, '0')}`;
}

/** `0xcafe::anchor` -> the module id with the address in canonical form (aptos-operator.ts's longModuleId). */
export function longModuleId(module) {
  const [addr, name] = module.split('::');
  return `${longAddress(addr)}::${name}`;
}

/** `0xcafe::anchor::record_root` with the address in long form; null for anything that is not a function id. */
export function longFunctionId(id) {
  const parts = typeof id === 'string' ? id.split('::') : [];
  if (parts.length !== 3) return null;
  try {
    return `${longModuleId(`${parts[0]}::${parts[1]}`)}::${parts[2]}`;
  } catch {
    return null;
  }
}

/** The body of `res`, read no further than the bound. */
async function boundedBytes(res, origin) {
  const bytes = await boundedBody(res, MAX_RESPONSE_BYTES);
  if (bytes === null) throw new Error(`${origin} answered with more than ${MAX_RESPONSE_BYTES} bytes`);
  return bytes;
}

export class AptosNode {
  /**
   * @param url the node's REST base URL as the auditor typed it, e.g. https://fullnode.mainnet.aptoslabs.com/v1
   * @param fetchImpl the page's fetch (a test may pass another)
   */
  constructor(url, fetchImpl = globalThis.fetch.bind(globalThis)) {
    this.base = url.replace(/\/+$/, '');
    this.origin = new URL(url).origin;
    this.fetch = fetchImpl;
  }

  /** The JSON answer of a 2xx; NodeAnswerError for any other status. */
  async request(path, init = {}) {
    const res = await this.fetch(`${this.base}${path}`, {
      ...init, mode: 'cors', credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const bytes = await boundedBytes(res, this.origin);
    let body = null;
    try {
      body = bytes.length === 0 ? null : JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      if (res.ok) throw new Error(`${this.origin} answered ${res.status} with a body that is not JSON`);
    }
    if (!res.ok) {
      const said = body && typeof body.message === 'string' ? `: ${body.message.split('\n')[0].slice(0, 300)}` : '';
      throw new NodeAnswerError(res.status, `the node answered ${res.status}${said}`);
    }
    return body;
  }

  /** GET / : the ledger's information, its chain id among it. */
  ledgerInfo() {
    return this.request('');
  }

  /** GET /transactions/by_hash/:hash; `hash` checked by the caller. */
  transactionByHash(hash) {
    return this.request(`/transactions/by_hash/${hash}`);
  }

  /** POST /view with JSON: `fn` is `<address>::<module>::<name>`, `args` in the REST API's JSON forms. */
  view(fn, args) {
    return this.request('/view', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ function: fn, type_arguments: [], arguments: args }) });
  }
}

const toHex = (hex) => `0x${hex}`;

/** The anchor module's view functions on one node (module-views.ts), each answer checked. */
export class AnchorModuleViews {
  /** @param module the published module, `<long address>::anchor` */
  constructor(node, module) {
    this.node = node;
    this.module = module;
  }

  async call(name, args) {
    const out = await this.node.view(`${this.module}::${name}`, args);
    if (!Array.isArray(out) || out.length !== 1) throw new Error(`${name} answered ${JSON.stringify(out).slice(0, 200)}, not one value`);
    return out[0];
  }

  /** anchored_at: microseconds since the epoch, 0n when `anchorer` never recorded `rootHex`. */
  async anchoredAt(anchorer, rootHex) {
    const v = await this.call('anchored_at', [anchorer, toHex(rootHex)]);
    if (typeof v !== 'string' || !/^[0-9]{1,20}$/.test(v)) throw new Error(`anchored_at answered ${JSON.stringify(v)}, not a u64`);
    return BigInt(v);
  }

  async keyValidAt(operator, device, keyHex, timeMs) {
    const v = await this.call('key_valid_at', [operator, device, toHex(keyHex), String(timeMs)]);
    if (typeof v !== 'boolean') throw new Error(`key_valid_at answered ${JSON.stringify(v)}, not a bool`);
    return v;
  }

  async deviceKeys(operator, device) {
    return parseDeviceKeys(await this.call('device_keys', [operator, device]));
  }
}

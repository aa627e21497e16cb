// Hostile requests against the sink's HTTP API, each a sequence of raw bytes (and pauses) with a
// name: random and mutated bodies, headers and paths, gzip bombs aimed at each point of the
// reading order, deep and wide JSON, batches of unregistered devices or signed with the wrong
// key, lying lengths, slow and idle clients. The fuzz test and `bench attack` both draw from here.
import { gzipSync } from 'node:zlib';
import { signHeader, type Batch, type BatchHeader } from '../../protocol/batch.ts';
import { encodeColumnar, COLUMNAR_CONTENT_TYPE } from '../../protocol/columnar/encoder.ts';
import { generateKey, type DeviceKey } from '../../protocol/signature.ts';
import { makeChain } from '../signed-chain.ts';
import { gzipBomb } from './bombs.ts';
import { rawRequest, type RawPiece } from './raw-client.ts';

export interface Shot {
  kind: string;
  pieces: RawPiece[];
  /** responses to wait for (pipelined requests) */
  responses?: number;
  /** the answer has no body (a HEAD request) */
  bodiless?: boolean;
  deadlineMs: number;
}

export interface ShotSetup {
  /** a device registered with the sink, whose key the sender does not have */
  registered: string;
  /** a registered device whose key the sender holds (a stolen key): batches signed right and still wrong */
  stolen?: { id: string; key: DeviceKey };
  /** a header the sink holds: public, every proof carries one */
  replay?: BatchHeader;
  /** how long the sink gives a request's headers and the whole request */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** what each bomb inflates to; over the sink's decoded limit */
  bombBytes: number;
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'FOO'];
const TYPES = ['application/json', COLUMNAR_CONTENT_TYPE, '', 'text/plain', 'application/json; charset=utf-16', 'multipart/form-data; boundary=x'];
const ENCODINGS = [undefined, 'gzip', 'deflate', 'br', 'gzip, gzip', 'identity', 'GZIP'];
const BAD_ESCAPES = ['/v1/devices/%E0%A4%A/head', '/v1/proofs/%/1', '/v1/reports/%C0%AF?from=1&to=2', '/v1/devices/%ZZ/head', '/%', '/v1/%E0%A4%A', '/v1/proofs/a/%ff%fe'];
const BAD_NAMES = ['', '.', '..', '-x', 'a'.repeat(200), 'a b', 'a/b', 'ä', '\u0000', '<script>', 'x'.repeat(129)];

type Rand = () => number;

/** The shot kinds, and the ones `bench attack` sends (a sender without any device's key). */
export class ShotBook {
  private bombs = new Map<string, Buffer>();
  private legit: Batch[] = [];
  private readonly fake = generateKey();

  private readonly setup: ShotSetup;
  private readonly host;

  constructor(setup: ShotSetup, host = 'sink') {
    this.setup = setup;
    this.host = host;
  }

  /** Build the bombs and sample batches (a second or two); call before drawing shots. */
  async prepare(): Promise<void> {
    const { setup } = this;
    const unregistered = makeChain('nobody-here', this.fake, 1, 2)[0]!.header;
    const badSig = { ...makeChain(setup.registered, this.fake, 1, 2)[0]!.header };
    const big = setup.bombBytes;
    const envelope = (h: unknown) => `{"header":${JSON.stringify(h)},"records":["`;
    this.bombs.set('bomb_unregistered', await gzipBomb(envelope(unregistered), big));
    this.bombs.set('bomb_wrong_key', await gzipBomb(envelope(badSig), big));
    this.bombs.set('bomb_records_first', await gzipBomb('{"records":["', big));
    this.bombs.set('bomb_whitespace', await gzipBomb('', big, Buffer.alloc(1024 * 1024, ' ')));
    this.bombs.set('bomb_nesting', await gzipBomb('', big, Buffer.alloc(1024 * 1024, '[')));
    const col = encodeColumnar(unregistered, []);
    this.bombs.set('bomb_columnar', await gzipBomb(col, big));
    if (setup.replay) this.bombs.set('bomb_replayed_header', await gzipBomb(envelope(setup.replay), big));
    if (setup.stolen) {
      // signed right, far ahead of the chain: it passes the header check and meets the size limits
      const { sig: _, v: __, key: ___, ...fields } = makeChain(setup.stolen.id, setup.stolen.key, 1, 1000)[0]!.header;
      this.bombs.set('bomb_stolen_key', await gzipBomb(envelope(signHeader({ ...fields, batch: 1_000_000 }, setup.stolen.key)), big));
    }
    this.legit = [makeChain(setup.registered, this.fake, 1, 20)[0]!, makeChain('nobody-here', this.fake, 2, 30)[1]!];
    if (setup.stolen) this.legit.push(makeChain(setup.stolen.id, setup.stolen.key, 3, 25)[2]!);
  }

  /** Every kind this book can draw. */
  kinds(): string[] {
    return [...Object.keys(this.makers), ...this.bombs.keys()];
  }

  /** Kinds that need no device key and keep the sender busy: what an outside attacker sends at full speed. */
  attackKinds(): string[] {
    return this.kinds().filter((k) => k !== 'bomb_stolen_key');
  }

  shot(kind: string, r: Rand): Shot {
    const bomb = this.bombs.get(kind);
    if (bomb) return this.post(kind, bomb, kind === 'bomb_columnar' ? COLUMNAR_CONTENT_TYPE : 'application/json', 'gzip');
    const make = this.makers[kind];
    if (!make) throw new Error(`no shot kind ${kind}`);
    return make(r);
  }

  private get deadline(): number {
    return this.setup.requestTimeoutMs + 3000;
  }

  private req(method: string, path: string, extra: Record<string, string | number> = {}, body: Buffer | string = ''): Buffer {
    const len = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    return rawRequest(method, path, { host: this.host, connection: 'close', ...(method === 'GET' && len === 0 ? {} : { 'content-length': len }), ...extra }, body);
  }

  private simple(kind: string, bytes: Buffer, responses = 1): Shot {
    return { kind, pieces: [{ bytes }], responses, deadlineMs: this.deadline };
  }

  private post(kind: string, body: Buffer, type: string, encoding?: string): Shot {
    const headers: Record<string, string> = { 'content-type': type };
    if (encoding) headers['content-encoding'] = encoding;
    return this.simple(kind, this.req('POST', '/v1/batches', headers, body));
  }

  private readonly makers: Record<string, (r: Rand) => Shot> = {
    random_path: (r) => {
      const method = pick(r, METHODS);
      return { ...this.simple('random_path', this.req(method, '/' + randomPath(r))), bodiless: method === 'HEAD' };
    },
    bad_escape: (r) => this.simple('bad_escape', this.req('GET', pick(r, BAD_ESCAPES))),
    bad_device_name: (r) => {
      const name = encodeURIComponent(pick(r, BAD_NAMES));
      return this.simple('bad_device_name', this.req('GET', pick(r, [`/v1/devices/${name}/head`, `/v1/proofs/${name}/1`, `/v1/reports/${name}`])));
    },
    unknown_device: (r) => {
      const name = `dev-${Math.floor(r() * 1e9)}`;
      return this.simple('unknown_device', this.req('GET', pick(r, [`/v1/devices/${name}/head`, `/v1/proofs/${name}/1`, `/v1/reports/${name}?from=0&to=1000`])));
    },
    query_junk: (r) => {
      const d = this.setup.registered;
      const paths = [`/v1/reports/${d}?from=abc`, `/v1/reports/${d}?from=0&to=9000000000000`, `/v1/reports/${d}?from=5&to=1`, `/v1/reports/${d}?from=1.5&to=2`,
        '/v1/anchors?limit=0', '/v1/anchors?limit=-5', '/v1/anchors?limit=1e12', '/v1/anchors?limit=x', `/v1/proofs/${d}/0`, `/v1/proofs/${d}/-1`, `/v1/proofs/${d}/1e400`, `/v1/proofs/${d}/abc`];
      return this.simple('query_junk', this.req('GET', pick(r, paths)));
    },
    admin_without_token: (r) => {
      const auth = pick<Record<string, string>>(r, [{}, { authorization: 'Bearer ' + randomText(r, 40) }, { authorization: 'Basic x' }]);
      const body = pick(r, ['{"id":"x","key":"00"}', randomText(r, 100), '{"id":' + '['.repeat(50), 'x'.repeat(5000)]);
      const [method, path] = pick(r, [['GET', '/v1/devices'], ['POST', '/v1/devices'], ['GET', '/v1/equivocations'], ['POST', '/v1/anchors']] as const);
      return this.simple('admin_without_token', this.req(method, path, auth, method === 'POST' ? body : ''));
    },
    huge_headers: () => this.simple('huge_headers', this.req('GET', '/v1/anchors', { 'x-filler': 'a'.repeat(20_000) })),
    bad_header_syntax: (r) => {
      const lines = pick(r, ['no colon here', 'bad name: x', 'x-ctl: a\u0001b', 'content-length: 5\r\ncontent-length: 6', 'transfer-encoding: chunked\r\ncontent-length: 3', ': empty']);
      return this.simple('bad_header_syntax', Buffer.from(`POST /v1/batches HTTP/1.1\r\nhost: s\r\n${lines}\r\n\r\nabc`, 'latin1'));
    },
    bad_request_line: (r) => this.simple('bad_request_line', Buffer.concat([randomBytes(r, 1 + Math.floor(r() * 300)), Buffer.from('\r\n\r\n')])),
    junk_body: (r) => {
      const enc = pick(r, ENCODINGS);
      const headers: Record<string, string> = { 'content-type': pick(r, TYPES) };
      if (enc) headers['content-encoding'] = enc;
      return this.simple('junk_body', this.req('POST', '/v1/batches', headers, randomBytes(r, Math.floor(r() * 65_536))));
    },
    mutated_batch: (r) => {
      const b = pick(r, this.legit);
      const columnar = r() < 0.5;
      let body = columnar ? encodeColumnar(b.header, b.records as unknown as Record<string, unknown>[]) : Buffer.from(JSON.stringify(b));
      body = mutate(body, r);
      const gzip = r() < 0.5;
      return this.post('mutated_batch', gzip ? gzipSync(body) : body, columnar ? COLUMNAR_CONTENT_TYPE : 'application/json', gzip ? 'gzip' : undefined);
    },
    records_first: (r) => {
      const b = pick(r, this.legit);
      return this.post('records_first', Buffer.from(JSON.stringify({ records: b.records, header: b.header })), 'application/json');
    },
    deep_json: (r) => {
      const h = JSON.stringify(pick(r, this.legit).header);
      return this.post('deep_json', Buffer.from(`{"header":${h},"records":[${'['.repeat(20 + Math.floor(r() * 100_000))}`), 'application/json');
    },
    many_records: (r) => {
      const h = JSON.stringify(pick(r, this.legit).header);
      return this.post('many_records', gzipSync(`{"header":${h},"records":[${'0,'.repeat(200_000)}0]}`), 'application/json', 'gzip');
    },
    replayed_header: (r) => {
      // a header the sink holds, with records that are not its: answered as a duplicate without reading them
      const h = this.setup.replay ?? pick(r, this.legit).header;
      return this.post('replayed_header', Buffer.from(JSON.stringify({ header: h, records: [{ v: 1, junk: randomText(r, 50) }] })), 'application/json');
    },
    lying_length_short: (r) => {
      const bytes = rawRequest('POST', '/v1/batches', { host: this.host, 'content-type': 'application/json', 'content-length': 100_000 }, `{"header":${JSON.stringify(pick(r, this.legit).header)}`);
      return this.simple('lying_length_short', bytes);
    },
    lying_length_long: (r) => {
      const body = randomBytes(r, 1000);
      return this.simple('lying_length_long', rawRequest('POST', '/v1/batches', { host: this.host, 'content-type': 'application/json', 'content-length': 10 }, body), 2);
    },
    chunked_junk: (r) => {
      const chunks = pick(r, ['zz\r\nabc\r\n0\r\n\r\n', 'ffffffffffff\r\nabc', '5\r\nabc\r\n0\r\n\r\n', '3\r\nabc\r\n0\r\n\r\n', '-1\r\n\r\n']);
      return this.simple('chunked_junk', Buffer.from(`POST /v1/batches HTTP/1.1\r\nhost: s\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n${chunks}`, 'latin1'));
    },
    slowloris: (r) => {
      const bytes = Buffer.from(`GET /v1/anchors HTTP/1.1\r\nhost: s\r\nx-a: ${'b'.repeat(200)}\r\n\r\n`);
      const pause = 50 + Math.floor(r() * 200);
      const pieces: RawPiece[] = [];
      for (let i = 0; i < bytes.length; i++) pieces.push({ bytes: bytes.subarray(i, i + 1), pauseMs: pause });
      return { kind: 'slowloris', pieces, deadlineMs: this.setup.headersTimeoutMs + 3000 };
    },
    slow_body: (r) => {
      const head = rawRequest('POST', '/v1/batches', { host: this.host, 'content-type': 'application/json', 'content-length': 100_000 });
      const pieces: RawPiece[] = [{ bytes: head }];
      for (let i = 0; i < 200; i++) pieces.push({ bytes: Buffer.from(' '), pauseMs: 50 + Math.floor(r() * 100) });
      return { kind: 'slow_body', pieces, deadlineMs: this.deadline };
    },
    idle: () => ({ kind: 'idle', pieces: [], deadlineMs: this.setup.headersTimeoutMs + 3000 }),
    pipelined: (r) => {
      const n = 2 + Math.floor(r() * 40);
      const reqs = Array.from({ length: n }, (_, i) => rawRequest('GET', pick(r, ['/healthz', '/v1/anchors', '/nope', BAD_ESCAPES[0]!]), i === n - 1 ? { host: this.host, connection: 'close' } : { host: this.host }));
      return this.simple('pipelined', Buffer.concat(reqs), n);
    },
    expect: (r) => this.simple('expect', this.req('POST', '/v1/batches', { expect: pick(r, ['100-continue', 'something-else']), 'content-type': 'application/json' }, '{}')),
    http10: () => this.simple('http10', Buffer.from('GET /v1/anchors HTTP/1.0\r\n\r\n')),
    no_host: () => this.simple('no_host', Buffer.from('GET /v1/anchors HTTP/1.1\r\nconnection: close\r\n\r\n')),
  };
}

function pick<T>(r: Rand, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function randomBytes(r: Rand, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

function randomText(r: Rand, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(33 + Math.floor(r() * 94));
  return s;
}

/** A path of printable bytes, percent escapes (valid or not) and UTF-8. */
function randomPath(r: Rand): string {
  let s = '';
  const n = Math.floor(r() * (r() < 0.1 ? 4000 : 80));
  for (let i = 0; i < n; i++) {
    const x = r();
    if (x < 0.1) s += '%' + Math.floor(r() * 256).toString(16).padStart(r() < 0.8 ? 2 : 1, '0');
    else if (x < 0.15) s += '/';
    else if (x < 0.18) s += encodeURIComponent(String.fromCodePoint(Math.floor(r() * 0x10ffff) & 0xd7ff));
    else s += String.fromCharCode(33 + Math.floor(r() * 94)).replace(/[#?]/, '');
  }
  return s;
}

/** Flip, drop, repeat or insert a few bytes. */
function mutate(body: Buffer, r: Rand): Buffer {
  let b = Buffer.from(body);
  for (let m = 0, n = 1 + Math.floor(r() * 5); m < n && b.length > 2; m++) {
    const at = Math.floor(r() * b.length);
    const len = 1 + Math.floor(r() * Math.min(64, b.length - at));
    switch (Math.floor(r() * 4)) {
      case 0: b[at] = b[at]! ^ (1 << Math.floor(r() * 8)); break;
      case 1: b = Buffer.concat([b.subarray(0, at), b.subarray(at + len)]); break;
      case 2: b = Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]); break;
      default: b = Buffer.concat([b.subarray(0, at), randomBytes(r, len), b.subarray(at)]);
    }
  }
  return b;
}

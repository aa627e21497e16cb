// The Semtech packet-forwarder UDP protocol (PROTOCOL.TXT, protocol version 2, doc v1.4): datagram
// headers and the JSON objects they carry. Pure functions: the listener and the test forwarder
// both build and read datagrams here. Every check that fails names the problem in a short reason
// that becomes a metric label.

export const PUSH_DATA = 0x00;
export const PUSH_ACK = 0x01;
export const PULL_DATA = 0x02;
export const PULL_RESP = 0x03;
export const PULL_ACK = 0x04;
export const TX_ACK = 0x05;

/** Version 2 is current; version 1 forwarders differ only in lacking TX_ACK, so both are served. */
export const SUPPORTED_VERSIONS = new Set([1, 2]);
export const PROTOCOL_VERSION = 2;

/** Bytes before the JSON of gateway-originated datagrams: version, token (2), identifier, gateway EUI (8). */
export const GATEWAY_HEADER = 12;

/** One received radio packet (`rxpk`). */
export interface RxPacket {
  time?: string;
  tmms?: number;
  /** concentrator counter at the end of reception, µs, 32-bit; class A downlinks are timed from it */
  tmst?: number;
  freq: number;
  chan?: number;
  rfch?: number;
  /** CRC: 1 OK, -1 failed, 0 none */
  stat: number;
  modu: 'LORA' | 'FSK';
  datr: string | number;
  codr?: string;
  rssi: number;
  lsnr?: number;
  size?: number;
  data: string;
}

/** Gateway status (`stat`), sent every stat interval. */
export interface GatewayStat {
  time?: string;
  lati?: number;
  long?: number;
  alti?: number;
  rxnb?: number;
  rxok?: number;
  rxfw?: number;
  ackr?: number;
  dwnb?: number;
  txnb?: number;
}

export const STAT_COUNTERS = ['rxnb', 'rxok', 'rxfw', 'ackr', 'dwnb', 'txnb', 'lati', 'long', 'alti'] as const;

/** One packet to transmit (`txpk`). */
export interface TxPacket {
  imme?: boolean;
  tmst?: number;
  tmms?: number;
  freq: number;
  rfch: number;
  powe: number;
  modu: 'LORA' | 'FSK';
  datr: string | number;
  codr?: string;
  fdev?: number;
  ipol?: boolean;
  prea?: number;
  size: number;
  data: string;
  ncrc?: boolean;
}

export const TX_ACK_ERRORS = ['NONE', 'TOO_LATE', 'TOO_EARLY', 'COLLISION_PACKET', 'COLLISION_BEACON', 'TX_FREQ', 'TX_POWER', 'GPS_UNLOCKED'] as const;

export interface Header {
  version: number;
  token: number;
  ident: number;
}

/** Check the fixed header; returns it or the reason the datagram is not one of ours. */
export function readHeader(msg: Buffer): Header | string {
  if (msg.length < 4) return 'truncated';
  const version = msg[0]!;
  if (!SUPPORTED_VERSIONS.has(version)) return 'bad_version';
  const ident = msg[3]!;
  if (ident > TX_ACK) return 'unknown_identifier';
  if (ident === PUSH_ACK || ident === PULL_RESP || ident === PULL_ACK) return 'server_identifier';
  if (msg.length < GATEWAY_HEADER) return 'truncated';
  if (ident === PULL_DATA && msg.length !== GATEWAY_HEADER) return 'pull_data_length';
  return { version, token: msg.readUInt16BE(1), ident };
}

export function gatewayEui(msg: Buffer): string {
  return msg.toString('hex', 4, 12);
}

/** PUSH_ACK / PULL_ACK: four bytes echoing the version and token. */
export function encodeAck(version: number, token: number, ident: typeof PUSH_ACK | typeof PULL_ACK): Buffer {
  const b = Buffer.allocUnsafe(4);
  b[0] = version;
  b.writeUInt16BE(token, 1);
  b[3] = ident;
  return b;
}

export function encodePullResp(version: number, token: number, txpk: TxPacket): Buffer {
  const json = Buffer.from(JSON.stringify({ txpk }));
  const b = Buffer.allocUnsafe(4 + json.length);
  b[0] = version;
  b.writeUInt16BE(token, 1);
  b[3] = PULL_RESP;
  json.copy(b, 4);
  return b;
}

/** A gateway-originated datagram (PUSH_DATA, PULL_DATA, TX_ACK), as a packet forwarder sends it. */
export function encodeGatewayDatagram(ident: number, token: number, eui: string, body?: unknown, version = PROTOCOL_VERSION): Buffer {
  const json = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
  const b = Buffer.allocUnsafe(GATEWAY_HEADER + json.length);
  b[0] = version;
  b.writeUInt16BE(token, 1);
  b[3] = ident;
  Buffer.from(eui, 'hex').copy(b, 4, 0, 8);
  json.copy(b, GATEWAY_HEADER);
  return b;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

export function isBase64(s: string): boolean {
  return s.length > 0 && BASE64.test(s);
}

export interface PushDataBody {
  rxpk: RxPacket[];
  stat?: GatewayStat;
  /** reasons for rxpk entries that were dropped (one per entry) */
  rejected: string[];
}

/** Parse the JSON of a PUSH_DATA. Returns the valid packets plus a reason for each dropped one, or one reason for the whole datagram. */
export function parsePushData(json: Buffer): PushDataBody | string {
  if (json.length === 0) return 'missing_json';
  let root: unknown;
  try {
    root = JSON.parse(json.toString('utf8'));
  } catch {
    return 'bad_json';
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root)) return 'json_not_object';
  const r = root as { rxpk?: unknown; stat?: unknown };
  if (r.rxpk === undefined && r.stat === undefined) return 'no_rxpk_or_stat';
  const out: PushDataBody = { rxpk: [], rejected: [] };
  if (r.rxpk !== undefined) {
    if (!Array.isArray(r.rxpk)) return 'rxpk_not_array';
    for (const p of r.rxpk) {
      const problem = rxpkProblem(p);
      if (problem) out.rejected.push(problem);
      else out.rxpk.push(p as RxPacket);
    }
  }
  if (r.stat !== undefined) {
    if (typeof r.stat !== 'object' || r.stat === null || Array.isArray(r.stat)) out.rejected.push('stat_not_object');
    else out.stat = knownStat(r.stat as Record<string, unknown>);
  }
  return out;
}

/**
 * The stat fields the protocol defines, and nothing else: the gateway table keeps each gateway's
 * last stat, and a datagram's JSON may hold thousands of other keys (up to 1000 gateways of them).
 */
function knownStat(s: Record<string, unknown>): GatewayStat {
  const out: GatewayStat = {};
  if (typeof s.time === 'string') out.time = s.time.slice(0, 64);
  for (const field of STAT_COUNTERS) {
    const v = s[field];
    if (typeof v === 'number' && Number.isFinite(v)) out[field] = v;
  }
  return out;
}

function isUint(v: unknown, max: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

/** Why an rxpk entry cannot be used, or null. A failed CRC is a reason too: the radio heard noise. */
export function rxpkProblem(p: unknown): string | null {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return 'rxpk_not_object';
  const x = p as Record<string, unknown>;
  if (x.stat === -1) return 'crc_failed';
  if (x.stat !== 1 && x.stat !== 0) return 'bad_crc_status';
  if (typeof x.data !== 'string') return 'missing_data';
  if (!isBase64(x.data)) return 'bad_base64';
  if (typeof x.freq !== 'number' || !(x.freq > 0) || !Number.isFinite(x.freq)) return 'bad_freq';
  if (x.modu === 'LORA') {
    if (typeof x.datr !== 'string' || !/^SF(?:[5-9]|1[0-2])BW(?:125|250|500)$/.test(x.datr)) return 'bad_datr';
  } else if (x.modu === 'FSK') {
    if (!isUint(x.datr, 1_000_000)) return 'bad_datr';
  } else return 'bad_modu';
  if (typeof x.rssi !== 'number' || !Number.isFinite(x.rssi)) return 'bad_rssi';
  if (x.lsnr !== undefined && (typeof x.lsnr !== 'number' || !Number.isFinite(x.lsnr))) return 'bad_lsnr';
  if (x.tmst !== undefined && !isUint(x.tmst, 0xffffffff)) return 'bad_tmst';
  if (x.size !== undefined) {
    if (!isUint(x.size, 255)) return 'bad_size';
    if (base64Length(x.data) !== x.size) return 'size_mismatch';
  }
  if (x.chan !== undefined && !isUint(x.chan, 255)) return 'bad_chan';
  if (x.rfch !== undefined && !isUint(x.rfch, 255)) return 'bad_rfch';
  return null;
}

function base64Length(s: string): number {
  let pad = 0;
  if (s.endsWith('==')) pad = 2;
  else if (s.endsWith('=')) pad = 1;
  const unpadded = s.length - pad;
  return Math.floor((unpadded * 3) / 4);
}

/** TX_ACK's optional JSON: the error named, or NONE when there is no JSON (the protocol's "no error"). */
export function parseTxAck(json: Buffer): string {
  if (json.length === 0) return 'NONE';
  let root: unknown;
  try {
    root = JSON.parse(json.toString('utf8'));
  } catch {
    return 'BAD_JSON';
  }
  const ack = (root as { txpk_ack?: { error?: unknown } } | null)?.txpk_ack;
  if (typeof ack !== 'object' || ack === null) return 'BAD_JSON';
  // Some forwarders send {"txpk_ack":{"warn":...}} without an error: that was scheduled.
  if (ack.error === undefined) return 'NONE';
  return typeof ack.error === 'string' && (TX_ACK_ERRORS as readonly string[]).includes(ack.error) ? ack.error : 'UNKNOWN';
}

// LoRaWAN 1.0.x PHYPayload layout (section 4): MHDR | MACPayload | MIC. Parsing here only reads
// the header fields (no crypto, no copies) so that a frame can be routed to its session cheaply;
// a frame that does not fit the layout gets a reason, never an exception.
import { Cmac, cryptPayload, dataMic, DOWN, type SessionCrypto } from './crypto.ts';

export const MTYPE = {
  JoinRequest: 0,
  JoinAccept: 1,
  UnconfirmedDataUp: 2,
  UnconfirmedDataDown: 3,
  ConfirmedDataUp: 4,
  ConfirmedDataDown: 5,
  RejoinRequest: 6,
  Proprietary: 7,
} as const;

export const FCTRL_ADR = 0x80;
export const FCTRL_ACK = 0x20;

export interface DataFrame {
  kind: 'data';
  confirmed: boolean;
  devAddr: number;
  fCtrl: number;
  /** the 16 bits on air */
  fCnt16: number;
  fOpts: Buffer;
  fPort: number | null;
  /** still encrypted */
  frmPayload: Buffer;
  /** MHDR..FRMPayload: what the MIC covers */
  msg: Buffer;
  mic: number;
}

export interface JoinRequestFrame {
  kind: 'join-request';
  /** hex, most significant byte first, as operators write them */
  joinEui: string;
  devEui: string;
  devNonce: number;
  msg: Buffer;
  mic: number;
}

export type UplinkFrame = DataFrame | JoinRequestFrame;

/** Parse an uplink PHYPayload; returns the frame or a short reason it is not one. */
export function parseUplink(phy: Buffer): UplinkFrame | string {
  if (phy.length < 5) return 'too_short';
  const mhdr = phy[0]!;
  if ((mhdr & 0x03) !== 0) return 'unsupported_major';
  const mtype = mhdr >> 5;
  if (mtype === MTYPE.UnconfirmedDataUp || mtype === MTYPE.ConfirmedDataUp) {
    // MHDR 1 + DevAddr 4 + FCtrl 1 + FCnt 2 + MIC 4
    if (phy.length < 12) return 'too_short';
    const fCtrl = phy[5]!;
    const fOptsLen = fCtrl & 0x0f;
    const macEnd = phy.length - 4;
    const fhdrEnd = 8 + fOptsLen;
    if (fhdrEnd > macEnd) return 'bad_fopts_length';
    let fPort: number | null = null;
    let frmPayload = phy.subarray(macEnd, macEnd);
    if (macEnd > fhdrEnd) {
      fPort = phy[fhdrEnd]!;
      frmPayload = phy.subarray(fhdrEnd + 1, macEnd);
      // MAC commands go either in FOpts or in a port-0 payload, never both (section 4.3.1.6)
      if (fPort === 0 && fOptsLen > 0) return 'fopts_with_port_0';
    }
    return {
      kind: 'data',
      confirmed: mtype === MTYPE.ConfirmedDataUp,
      devAddr: phy.readUInt32LE(1),
      fCtrl,
      fCnt16: phy.readUInt16LE(6),
      fOpts: phy.subarray(8, fhdrEnd),
      fPort,
      frmPayload,
      msg: phy.subarray(0, macEnd),
      mic: phy.readUInt32BE(macEnd),
    };
  }
  if (mtype === MTYPE.JoinRequest) {
    if (phy.length !== 23) return 'bad_join_request_length';
    return {
      kind: 'join-request',
      joinEui: reversedHex(phy, 1, 9),
      devEui: reversedHex(phy, 9, 17),
      devNonce: phy.readUInt16LE(17),
      msg: phy.subarray(0, 19),
      mic: phy.readUInt32BE(19),
    };
  }
  if (mtype === MTYPE.RejoinRequest) return 'rejoin_not_supported';
  if (mtype === MTYPE.Proprietary) return 'proprietary';
  return 'downlink_frame';
}

function reversedHex(buf: Buffer, start: number, end: number): string {
  let s = '';
  for (let i = end - 1; i >= start; i--) s += (buf[i]! < 16 ? '0' : '') + buf[i]!.toString(16);
  return s;
}

/** DevAddr as 8 hex digits, most significant first (the way it is configured). */
export function devAddrHex(devAddr: number): string {
  return (devAddr >>> 0).toString(16).padStart(8, '0');
}

export interface DataFrameOptions {
  confirmed?: boolean;
  devAddr: number;
  fCnt32: number;
  ack?: boolean;
  fPending?: boolean;
  /** uplinks: the ADR bit */
  adr?: boolean;
  fOpts?: Buffer;
  fPort?: number;
  payload?: Buffer;
}

/** Build a data downlink (an ACK, MAC commands or application data), encrypted and with its MIC. */
export function buildDataDown(o: DataFrameOptions, keys: SessionCrypto): Buffer {
  return buildDataFrame(DOWN, o, keys);
}

/**
 * Build a data frame in either direction. Uplinks are what a node sends: the simulator and the
 * benchmark use this to make frames fast (frame.test.ts checks it against lora-packet byte for byte).
 */
export function buildDataFrame(dir: 0 | 1, o: DataFrameOptions, keys: SessionCrypto): Buffer {
  const fOpts = o.fOpts ?? Buffer.alloc(0);
  if (fOpts.length > 15) throw new RangeError('FOpts holds at most 15 bytes');
  const hasPort = o.fPort !== undefined;
  const payload = o.payload ?? Buffer.alloc(0);
  if (!hasPort && payload.length > 0) throw new RangeError('a payload needs an FPort');
  const len = 1 + 7 + fOpts.length + (hasPort ? 1 + payload.length : 0);
  const msg = Buffer.alloc(len);
  const mtype = dir === DOWN
    ? (o.confirmed ? MTYPE.ConfirmedDataDown : MTYPE.UnconfirmedDataDown)
    : (o.confirmed ? MTYPE.ConfirmedDataUp : MTYPE.UnconfirmedDataUp);
  msg[0] = mtype << 5;
  msg.writeUInt32LE(o.devAddr >>> 0, 1);
  msg[5] = (o.adr ? FCTRL_ADR : 0) | (o.ack ? FCTRL_ACK : 0) | (o.fPending ? 0x10 : 0) | fOpts.length;
  msg.writeUInt16LE(o.fCnt32 & 0xffff, 6);
  fOpts.copy(msg, 8);
  if (hasPort) {
    msg[8 + fOpts.length] = o.fPort!;
    const key = o.fPort === 0 ? keys.nwkAes : keys.app;
    cryptPayload(key, dir, o.devAddr, o.fCnt32, payload).copy(msg, 9 + fOpts.length);
  }
  const out = Buffer.alloc(len + 4);
  msg.copy(out);
  out.writeUInt32BE(dataMic(keys.nwk, dir, o.devAddr, o.fCnt32, msg), len);
  return out;
}

/** Join-request MIC check: CMAC(AppKey, MHDR | JoinEUI | DevEUI | DevNonce). */
export function joinRequestMicValid(frame: JoinRequestFrame, appKey: Cmac): boolean {
  return appKey.mic(frame.msg) === frame.mic;
}

// Simulated LoRaWAN nodes: real LoRaWAN 1.0.x frames built with lora-packet (encrypted payloads,
// MICs, JoinRequests), and the JoinAccepts and ACKs the server sends back opened again. No radio.
import { randomInt } from 'node:crypto';
import { Cmac } from '../lorawan/crypto.ts';
import { loraPacket } from '../lorawan/join.ts';
import { FCTRL_ACK, MTYPE } from '../lorawan/frame.ts';
import { type RxPacket } from '../semtech/packets.ts';

export interface AbpKeys {
  devAddr: string;
  nwkSKey: string;
  appSKey: string;
}

export interface OtaaKeys {
  devEui: string;
  joinEui: string;
  appKey: string;
}

export interface UplinkOptions {
  fPort?: number;
  confirmed?: boolean;
  /** use this counter instead of the next one (replays, gaps) */
  fCnt?: number;
  /** acknowledge the confirmed downlink received last (the FCtrl ACK bit) */
  ack?: boolean;
}

export interface DecodedDownlink {
  mtype: number;
  ack: boolean;
  fCnt: number;
  fPort: number | null;
  payload: Buffer;
}

/** One simulated end device: keeps its session and frame counter as a real node does. */
export class SimulatedNode {
  private session: AbpKeys | null;
  private fCntUp = 0;
  private lastDevNonce: number | null = null;

  readonly otaa: OtaaKeys | null;

  private constructor(
    session: AbpKeys | null,
    otaa: OtaaKeys | null,
  ) {
    this.otaa = otaa;
    this.session = session;
  }

  static abp(keys: AbpKeys): SimulatedNode {
    return new SimulatedNode({ ...keys }, null);
  }

  static otaa(keys: OtaaKeys): SimulatedNode {
    return new SimulatedNode(null, { ...keys });
  }

  get joined(): boolean {
    return this.session !== null;
  }

  get keys(): AbpKeys | null {
    return this.session ? { ...this.session } : null;
  }

  /** The counter the next uplink will carry. */
  get nextFCnt(): number {
    return this.fCntUp;
  }

  set nextFCnt(n: number) {
    this.fCntUp = n;
  }

  /** A data uplink (PHYPayload), encrypted and MIC'd with the session keys. */
  uplink(payload: Buffer, o: UplinkOptions = {}): Buffer {
    const s = this.session;
    if (!s) throw new Error('node has not joined');
    const fCnt = o.fCnt ?? this.fCntUp++;
    const msb = Buffer.alloc(2);
    msb.writeUInt16LE(Math.floor(fCnt / 0x10000) & 0xffff);
    const packet = loraPacket.fromFields(
      {
        MType: o.confirmed ? 'Confirmed Data Up' : 'Unconfirmed Data Up',
        DevAddr: Buffer.from(s.devAddr, 'hex'),
        FCtrl: { ADR: false, ACK: o.ack === true, ADRACKReq: false, FPending: false },
        FCnt: fCnt & 0xffff,
        FPort: o.fPort ?? 1,
        payload,
      },
      Buffer.from(s.appSKey, 'hex'),
      Buffer.from(s.nwkSKey, 'hex'),
      undefined,
      msb,
    );
    return packet.getPHYPayload() as Buffer;
  }

  /** A JoinRequest with a fresh random DevNonce (or the one given, to replay). */
  joinRequest(devNonce?: number): Buffer {
    const k = this.otaa;
    if (!k) throw new Error('an ABP node does not join');
    const nonce = devNonce ?? randomInt(0, 0x10000);
    this.lastDevNonce = nonce;
    const n = Buffer.alloc(2);
    n.writeUInt16BE(nonce);
    const packet = loraPacket.fromFields(
      { MType: 'Join Request', AppEUI: Buffer.from(k.joinEui, 'hex'), DevEUI: Buffer.from(k.devEui, 'hex'), DevNonce: n },
      undefined,
      undefined,
      Buffer.from(k.appKey, 'hex'),
    );
    return packet.getPHYPayload() as Buffer;
  }

  /** Open a JoinAccept as the device does: decrypt, check the MIC, derive the session keys. */
  acceptJoin(phy: Buffer): AbpKeys {
    const k = this.otaa;
    if (!k || this.lastDevNonce === null) throw new Error('no JoinRequest outstanding');
    const appKey = Buffer.from(k.appKey, 'hex');
    if (phy.length < 17 || phy[0]! >> 5 !== MTYPE.JoinAccept) throw new Error('not a JoinAccept');
    const clearBytes = loraPacket.decryptJoinAccept(loraPacket.fromWire(phy), appKey);
    // The LoRaWAN 1.0 MIC, checked directly: with a wrong key the decrypted DLSettings is noise, and
    // lora-packet would read its OptNeg bit as a 1.1 JoinAccept and ask for 1.1 fields.
    const micAt = clearBytes.length - 4;
    if (new Cmac(appKey).mic(clearBytes.subarray(0, micAt)) !== clearBytes.readUInt32BE(micAt)) throw new Error('JoinAccept MIC does not verify with the AppKey');
    const clear = loraPacket.fromWire(clearBytes);
    const nonce = Buffer.alloc(2);
    nonce.writeUInt16BE(this.lastDevNonce);
    const keys = loraPacket.generateSessionKeys10(appKey, clear.NetID!, clear.AppNonce!, nonce);
    this.session = { devAddr: clear.DevAddr!.toString('hex'), nwkSKey: keys.NwkSKey.toString('hex'), appSKey: keys.AppSKey.toString('hex') };
    this.fCntUp = 0;
    return { ...this.session };
  }

  /** Check and decode a data downlink addressed to this node. */
  decodeDownlink(phy: Buffer): DecodedDownlink {
    const s = this.session;
    if (!s) throw new Error('node has not joined');
    const p = loraPacket.fromWire(phy);
    if (p.getDir() !== 'down' || !p.DevAddr || p.DevAddr.toString('hex') !== s.devAddr) throw new Error('downlink is not for this node');
    const nwk = Buffer.from(s.nwkSKey, 'hex');
    if (!loraPacket.verifyMIC(p, nwk)) throw new Error('downlink MIC does not verify');
    const fPort = p.getFPort();
    const payload = fPort === null || !p.FRMPayload || p.FRMPayload.length === 0 ? Buffer.alloc(0) : loraPacket.decrypt(p, Buffer.from(s.appSKey, 'hex'), nwk);
    return { mtype: phy[0]! >> 5, ack: (phy[5]! & FCTRL_ACK) !== 0, fCnt: p.getFCnt()!, fPort, payload };
  }
}

/** An rxpk entry as a packet forwarder reports a frame it heard. */
export function rxpkFor(phy: Buffer, o: Partial<RxPacket> = {}): RxPacket {
  return {
    time: new Date().toISOString(),
    tmst: randomInt(0, 0xffffffff),
    chan: 0,
    rfch: 0,
    freq: 868.1,
    stat: 1,
    modu: 'LORA',
    datr: 'SF7BW125',
    codr: '4/5',
    rssi: -57,
    lsnr: 9.5,
    size: phy.length,
    data: phy.toString('base64'),
    ...o,
  };
}

// ---------------------------------------------------------------------------------- forwarder

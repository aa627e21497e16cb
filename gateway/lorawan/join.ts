// Over-the-air activation, LoRaWAN 1.0.x section 6.2: the JoinRequest's MIC under the AppKey, the
// JoinAccept (encrypted with AES decryption under the AppKey, so that the device needs only AES
// encryption) and the session keys both sides derive from the nonces. Joins are rare, so this goes
// through lora-packet as it stands.
import * as loraPacketModule from 'lora-packet';

// lora-packet is CommonJS and replaces module.exports with its API object; its typings describe
// that object as a `default` export inside module.exports, one level deeper than it really is.
export const loraPacket = loraPacketModule.default as unknown as typeof loraPacketModule.default.default;

export interface JoinAcceptFields {
  appKey: Buffer;
  /** 3 bytes, most significant first */
  appNonce: Buffer;
  netId: Buffer;
  devAddr: Buffer;
  /** RX1DROffset (bits 6..4) and RX2 data rate (bits 3..0) */
  dlSettings: number;
  /** seconds, 1..15 */
  rxDelay: number;
}

export function joinRequestMicValid(phy: Buffer, appKey: Buffer): boolean {
  const packet = loraPacket.fromWire(phy);
  return loraPacket.verifyMIC(packet, undefined, appKey);
}

/** The JoinAccept PHYPayload as it goes on air: MHDR in clear, the rest encrypted. */
export function buildJoinAccept(f: JoinAcceptFields): Buffer {
  const packet = loraPacket.fromFields(
    {
      MType: 'Join Accept',
      AppNonce: f.appNonce,
      NetID: f.netId,
      DevAddr: f.devAddr,
      // lora-packet treats 0 as "absent", so pass the byte itself
      DLSettings: Buffer.from([f.dlSettings]),
      RxDelay: Buffer.from([f.rxDelay]),
      CFList: Buffer.alloc(0),
    },
    undefined,
    undefined,
    f.appKey,
  );
  return packet.getPHYPayload() as Buffer;
}

/** NwkSKey and AppSKey: aes128_encrypt(AppKey, 0x01|0x02 | AppNonce | NetID | DevNonce | pad16). */
export function deriveSessionKeys(appKey: Buffer, netId: Buffer, appNonce: Buffer, devNonce: number): { nwkSKey: Buffer; appSKey: Buffer } {
  const nonce = Buffer.alloc(2);
  nonce.writeUInt16BE(devNonce);
  const keys = loraPacket.generateSessionKeys10(appKey, netId, appNonce, nonce);
  return { nwkSKey: keys.NwkSKey, appSKey: keys.AppSKey };
}

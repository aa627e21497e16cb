// The message a device's current key signs to endorse its successor in the operator's device key
// registry on chain (rotate_device_key in move/sources/anchor.move), byte for byte as the module
// builds it; docs/spec/proofs.md specifies it. The device signs it with the key it is giving up,
// the operator submits it, and anyone can check it again from the registry's events.
import { isHex } from './hash.ts';
import { isValidName } from './records.ts';
import { signBytes, verifyBytes, type DeviceKey } from './signature.ts';

export const ROTATION_DOMAIN = 'FIELDPROOF::DeviceKeyRotation';

export interface KeyRotation {
  /** the operator's Aptos account address: 0x and 1 to 64 hex digits */
  operator: string;
  device: string;
  /** the key giving way, and its successor: 64 hex digits each */
  oldKey: string;
  newKey: string;
  /** the successor counts for batches created from this time on, ms since the epoch */
  validFromMs: number;
}

/** An Aptos address as its 32 bytes (short forms are padded with zeros on the left). */
export function addressBytes(address: string): Buffer {
  const hex = /^0x([0-9a-fA-F]{1,64})$/.exec(address)?.[1];
  if (!hex) throw new Error(`not an Aptos account address: ${address}`);
  return Buffer.from(hex.toLowerCase().padStart(64, '0'), 'hex');
}

function uleb128(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

export function rotationMessage(r: KeyRotation): Buffer {
  if (!isValidName(r.device)) throw new Error(`not a device name: ${r.device}`);
  if (!isHex(r.oldKey, 32) || !isHex(r.newKey, 32)) throw new Error('keys must be 64-digit lowercase hex Ed25519 public keys');
  if (!Number.isSafeInteger(r.validFromMs) || r.validFromMs < 0) throw new Error('validFromMs must be a non-negative integer');
  const device = Buffer.from(r.device, 'utf8');
  const time = Buffer.alloc(8);
  time.writeBigUInt64LE(BigInt(r.validFromMs));
  return Buffer.concat([
    Buffer.from(ROTATION_DOMAIN, 'ascii'), addressBytes(r.operator), uleb128(device.length), device,
    Buffer.from(r.oldKey, 'hex'), Buffer.from(r.newKey, 'hex'), time,
  ]);
}

/** The endorsement, hex: `oldKey`'s signature over the rotation to `rotation.newKey`. */
export function endorseRotation(oldKey: DeviceKey, rotation: Omit<KeyRotation, 'oldKey'>): string {
  return signBytes(oldKey, rotationMessage({ ...rotation, oldKey: oldKey.public }));
}

export function endorsementHolds(rotation: KeyRotation, endorsementHex: string): boolean {
  return verifyBytes(rotation.oldKey, rotationMessage(rotation), endorsementHex);
}

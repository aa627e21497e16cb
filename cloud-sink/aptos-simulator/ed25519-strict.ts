// Ed25519 as the Move natives of aptos_std::ed25519 check it, for the simulator's device key
// rules: a validated public key decodes to a curve point that is not of small order
// (new_validated_public_key_from_bytes); a strict signature has a canonical S, and neither its R
// nor the public key is of small order (signature_verify_strict). @noble/curves does the curve
// arithmetic, in RFC 8032 mode (zip215: false), which also refuses non-canonical point encodings:
// the simulator is at least as strict as a node there, never less.
import { ed25519 } from '@noble/curves/ed25519';

const Point = ed25519.ExtendedPoint;

function pointOf(bytes: Uint8Array): InstanceType<typeof Point> | null {
  if (bytes.length !== 32) return null;
  try {
    return Point.fromHex(bytes, false);
  } catch {
    return null;
  }
}

/** The bytes encode an Ed25519 public key a node accepts as validated. */
export function isValidatedPublicKey(bytes: Uint8Array): boolean {
  const p = pointOf(bytes);
  return p !== null && !p.isSmallOrder();
}

export function verifyStrict(signature: Uint8Array, publicKey: Uint8Array, message: Uint8Array): boolean {
  if (signature.length !== 64 || !isValidatedPublicKey(publicKey)) return false;
  const r = pointOf(signature.subarray(0, 32));
  if (r === null || r.isSmallOrder()) return false;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

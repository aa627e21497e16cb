// Ed25519 (RFC 8032) through node:crypto. Keys travel as raw 32-byte values in lowercase hex;
// node wants DER, so the fixed PKCS#8 / SPKI prefixes for Ed25519 are added and stripped here.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface DeviceKey {
  /** 32-byte seed, hex */
  secret: string;
  /** 32-byte public key, hex */
  public: string;
  privateKey: KeyObject;
}

export function keyFromSeed(seedHex: string): DeviceKey {
  const seed = Buffer.from(seedHex, 'hex');
  if (seed.length !== 32) throw new Error('an Ed25519 seed is 32 bytes');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { secret: seedHex, public: spki.subarray(SPKI_PREFIX.length).toString('hex'), privateKey };
}

export function generateKey(): DeviceKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return keyFromSeed(der.subarray(PKCS8_PREFIX.length).toString('hex'));
}

export function signBytes(key: DeviceKey, message: Buffer | Uint8Array): string {
  return sign(null, message, key.privateKey).toString('hex');
}

const publicKeyCache = new Map<string, KeyObject>();

function publicKeyObject(publicHex: string): KeyObject | null {
  let k = publicKeyCache.get(publicHex);
  if (k) return k;
  const raw = Buffer.from(publicHex, 'hex');
  if (raw.length !== 32 || raw.toString('hex') !== publicHex.toLowerCase()) return null;
  try {
    k = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  } catch {
    return null;
  }
  if (publicKeyCache.size > 10_000) publicKeyCache.clear();
  publicKeyCache.set(publicHex, k);
  return k;
}

export function verifyBytes(publicHex: string, message: Buffer | Uint8Array, signatureHex: string): boolean {
  const key = publicKeyObject(publicHex);
  if (!key) return false;
  const sig = Buffer.from(signatureHex, 'hex');
  if (sig.length !== 64 || sig.toString('hex') !== signatureHex.toLowerCase()) return false;
  try {
    return verify(null, message, key, sig);
  } catch {
    return false;
  }
}

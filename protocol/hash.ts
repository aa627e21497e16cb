import { createHash } from 'node:crypto';

export const ZERO_HASH = '0'.repeat(64);

export function sha256(...parts: (Buffer | Uint8Array | string)[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

export function isHex(s: unknown, bytes?: number): s is string {
  if (typeof s !== 'string' || s.length % 2 !== 0) return false;
  if (bytes !== undefined && s.length !== bytes * 2) return false;
  return /^[0-9a-f]*$/.test(s);
}

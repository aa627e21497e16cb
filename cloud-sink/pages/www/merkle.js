// RFC 6962 Merkle tree hashing and the RFC 9162 section 2.1.3.2 inclusion check, for the proof
// page, on WebCrypto's SHA-256: the same algorithm as protocol/merkle.ts. docs/spec/merkle.md.

export function toHex(bytes) {
  let out = '';
  for (const b of new Uint8Array(bytes)) out += b.toString(16).padStart(2, '0');
  return out;
}

/** Bytes of lowercase hex already checked to be hex. */
export function fromHex(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

function prefixed(prefix, ...parts) {
  const out = new Uint8Array(1 + parts.reduce((n, p) => n + p.length, 0));
  out[0] = prefix;
  let at = 1;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** SHA-256(0x00 || bytes) */
export function leafHash(bytes) {
  return sha256(prefixed(0x00, bytes));
}

/** SHA-256(0x01 || left || right) */
export function nodeHash(left, right) {
  return sha256(prefixed(0x01, left, right));
}

/** The root that `leaf` at `index` of a tree of `size` leaves and its `path` lead to, or null when they cannot. */
export async function rootFromInclusionPath(leaf, index, size, path) {
  if (!Number.isInteger(index) || !Number.isInteger(size) || index < 0 || index >= size) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

export async function verifyInclusion(leaf, index, size, path, rootHex) {
  const r = await rootFromInclusionPath(leaf, index, size, path);
  return r !== null && toHex(r) === rootHex;
}

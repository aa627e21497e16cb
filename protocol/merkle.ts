// RFC 6962 section 2.1 Merkle Tree Hash, with inclusion proofs generated as in 2.1.1 and verified
// with the iterative algorithm of RFC 9162 section 2.1.3.2.
import { createHash, hash } from 'node:crypto';

const LEAF_PREFIX = Buffer.from([0x00]);

// crypto.hash is the one-shot API: several times cheaper than createHash().update().digest() for
// small inputs, and leaf hashing is on the path of every record. For a string, the 0x00 prefix is
// the NUL character, whose UTF-8 encoding is that one byte.
export function leafHash(data: Buffer | Uint8Array | string): Buffer {
  if (typeof data === 'string') return hash('sha256', '\0' + data, 'buffer') as unknown as Buffer;
  return createHash('sha256').update(LEAF_PREFIX).update(data).digest();
}

export function nodeHash(left: Buffer, right: Buffer): Buffer {
  const buf = Buffer.allocUnsafe(65);
  buf[0] = 0x01;
  left.copy(buf, 1);
  right.copy(buf, 33);
  return hash('sha256', buf, 'buffer') as unknown as Buffer;
}

/** Largest power of two strictly smaller than n (n >= 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k << 1 < n) k <<= 1;
  return k;
}

/** MTH over already-computed leaf hashes. The empty tree hashes to SHA-256 of nothing. */
export function rootFromLeafHashes(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return createHash('sha256').digest();
  // Bottom-up pairing gives the same tree as the recursive RFC 6962 split: a level's odd last node
  // is carried up unchanged, which is exactly where the split puts the incomplete right subtree.
  let level: Buffer[] = leaves.slice();
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i]!, level[i + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0]!;
}

export function merkleRoot(items: readonly (Buffer | Uint8Array | string)[]): Buffer {
  return rootFromLeafHashes(items.map(leafHash));
}

/** PATH(m, D[n]) of RFC 6962 2.1.1, over leaf hashes; ordered from the leaf up. */
export function inclusionPath(leaves: readonly Buffer[], index: number): Buffer[] {
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length) {
    throw new RangeError(`leaf index ${index} outside a tree of ${leaves.length}`);
  }
  const path: Buffer[] = [];
  let lo = 0;
  let hi = leaves.length;
  // Walk down from the root, collecting the sibling subtree at each split; reverse at the end.
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index - lo < k) {
      path.push(rootFromLeafHashes(leaves.slice(lo + k, hi)));
      hi = lo + k;
    } else {
      path.push(rootFromLeafHashes(leaves.slice(lo, lo + k)));
      lo = lo + k;
    }
  }
  return path.reverse();
}

/** RFC 9162 2.1.3.2: recompute the root from a leaf hash and its inclusion path. */
export function rootFromInclusionPath(leaf: Buffer, index: number, size: number, path: readonly Buffer[]): Buffer | null {
  if (!Number.isInteger(index) || !Number.isInteger(size) || index < 0 || index >= size) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

export function verifyInclusion(leaf: Buffer, index: number, size: number, path: readonly Buffer[], root: Buffer): boolean {
  const r = rootFromInclusionPath(leaf, index, size, path);
  return r !== null && r.equals(root);
}

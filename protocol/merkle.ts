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

/**
 * Every level of the tree over `leaves`, bottom-up, each one buffer of 32-byte hashes: the same
 * bottom-up pairing as rootFromLeafHashes, a level's odd last node carried up unchanged. Built
 * once in O(n), it answers any leaf's inclusion path in O(log n) (levelsPath).
 */
export function merkleLevels(leaves: readonly Buffer[]): Buffer[] {
  const levels = [Buffer.concat(leaves as Buffer[])];
  for (let level = levels[0]!; level.length > 32; ) {
    const count = level.length / 32;
    const next = Buffer.allocUnsafe(Math.ceil(count / 2) * 32);
    for (let i = 0; i + 1 < count; i += 2) nodeHash(level.subarray(i * 32, i * 32 + 32), level.subarray(i * 32 + 32, i * 32 + 64)).copy(next, (i / 2) * 32);
    if (count % 2 === 1) level.copy(next, next.length - 32, level.length - 32);
    levels.push(next);
    level = next;
  }
  return levels;
}

/** PATH(m, D[n]) from the levels of merkleLevels: at each level the sibling, where there is one. */
export function levelsPath(levels: readonly Buffer[], index: number): Buffer[] {
  const size = levels[0]!.length / 32;
  if (!Number.isInteger(index) || index < 0 || index >= size) throw new RangeError(`leaf index ${index} outside a tree of ${size}`);
  const path: Buffer[] = [];
  let m = index;
  for (let k = 0; k + 1 < levels.length; k++, m = Math.floor(m / 2)) {
    const sibling = m % 2 === 0 ? m + 1 : m - 1;
    // no sibling: the node is its level's odd last one, carried up unchanged, with no path entry
    if ((sibling + 1) * 32 <= levels[k]!.length) path.push(levels[k]!.subarray(sibling * 32, sibling * 32 + 32));
  }
  return path;
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

// The RFC 6962 root of a batch's records from their lines joined by newlines (canonical JSON never
// holds a raw newline), which is also the text the stores keep: the lines are flattened and UTF-8
// encoded once for both. Every record of every batch is hashed here, so the hashing works in
// place: each hash input is a slice of one buffer whose byte before it is overwritten with the
// RFC 6962 prefix (0x00 for a leaf, 0x01 for a node) once what that byte held has been used,
// rather than a fresh buffer per hash with the data copied into it. The result is the protocol's
// rootFromLeafHashes(lines.map(leafHash)) (leaves.test.ts).
import { createHash, hash } from 'node:crypto';

/**
 * SHA-256 of data, written into out at offset. The digest comes back as a 'binary' (latin1)
 * string, one character a byte, and is written as such: in Node 20 that costs about half of
 * asking for a Buffer and copying it, and the call's overhead, not the hashing, is most of a small hash's cost.
 */
function sha256Into(data: Buffer, out: Buffer, offset: number): void {
  out.write(hash('sha256', data, 'binary'), offset, 'binary');
}

/** Leaf hashes of the lines, laid out 32 bytes apart from offset 1 of the returned buffer. */
function leafLevel(joined: string, count: number): Buffer {
  // one byte before the first line, so that every line has a byte before it to take the prefix
  const text = Buffer.allocUnsafe(Buffer.byteLength(joined, 'utf8') + 1);
  text.write(joined, 1, 'utf8');
  const level = Buffer.allocUnsafe(1 + 32 * count);
  let start = 1;
  for (let i = 0; i < count; i++) {
    let end = text.indexOf(10, start);
    if (end < 0) end = text.length;
    text[start - 1] = 0x00; // the newline ending the previous line, already hashed
    sha256Into(text.subarray(start - 1, end), level, 1 + 32 * i);
    start = end + 1;
  }
  return level;
}

/** The Merkle root over a batch's joined lines; `count` lines (the empty tree for none). */
export function rootOfJoined(joined: string, count: number): Buffer {
  if (count === 0) return createHash('sha256').digest();
  let level = leafLevel(joined, count);
  let n = count;
  // Bottom-up pairing, a level's odd last node carried up unchanged: the RFC 6962 tree (as in
  // protocol/merkle.ts). Pair i sits at 1 + 64i; the byte before it ends node 2i-1, already used.
  while (n > 1) {
    const pairs = n >> 1;
    const next = Buffer.allocUnsafe(1 + 32 * (pairs + (n & 1)));
    for (let i = 0; i < pairs; i++) {
      level[64 * i] = 0x01;
      sha256Into(level.subarray(64 * i, 64 * i + 65), next, 1 + 32 * i);
    }
    if (n & 1) level.copy(next, 1 + 32 * pairs, 1 + 32 * (n - 1), 1 + 32 * n);
    level = next;
    n = pairs + (n & 1);
  }
  return level.subarray(1, 33);
}

// Leaf hashes of a batch's records from their lines joined by newlines (canonical JSON never holds
// a raw newline), which is also the text the stores keep: the lines are flattened and UTF-8 encoded
// once for both, rather than once per line for hashing and again for storing.
import { hash } from 'node:crypto';

export function leafHashesOfJoined(joined: string, count: number): Buffer[] {
  const buf = Buffer.from(joined, 'utf8');
  const leaves: Buffer[] = new Array(count);
  let scratch = Buffer.allocUnsafe(1024);
  let start = 0;
  for (let i = 0; i < count; i++) {
    let end = buf.indexOf(10, start);
    if (end < 0) end = buf.length;
    const len = end - start;
    if (len + 1 > scratch.length) scratch = Buffer.allocUnsafe(2 * (len + 1));
    scratch[0] = 0x00; // RFC 6962 leaf prefix
    buf.copy(scratch, 1, start, end);
    leaves[i] = hash('sha256', scratch.subarray(0, len + 1), 'buffer') as unknown as Buffer;
    start = end + 1;
  }
  return leaves;
}

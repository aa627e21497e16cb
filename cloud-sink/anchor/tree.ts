// The anchor tree: RFC 6962 over the hashes of the batch headers an anchor covers, each header
// hash (32 bytes) being one leaf, as protocol/proof.ts checks it.
import { inclusionPath, leafHash, rootFromLeafHashes } from '../../protocol/merkle.ts';

export function anchorLeaves(headerHashes: readonly string[]): Buffer[] {
  return headerHashes.map((h) => leafHash(Buffer.from(h, 'hex')));
}

export function anchorRoot(headerHashes: readonly string[]): string {
  return rootFromLeafHashes(anchorLeaves(headerHashes)).toString('hex');
}

export function anchorPath(leaves: readonly Buffer[], index: number): string[] {
  return inclusionPath(leaves, index).map((b) => b.toString('hex'));
}

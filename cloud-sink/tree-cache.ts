// The Merkle trees proofs are cut from, kept whole (protocol/merkle.ts merkleLevels) for the last
// trees asked about, within a bound on their bytes. Building a tree costs a hash per node, O(n),
// and a path from it O(log n): without the tree, every proof of a record in a batch of 100 000,
// or of a batch in an anchor of a million headers, would hash the whole tree again, on the event
// loop, for whoever asks.
import { merkleLevels } from '../protocol/merkle.ts';

/** Most bytes of trees kept: a million-leaf anchor tree is 64 MiB, a 100 000-record batch 6.4 MiB. */
export const MAX_TREE_CACHE_BYTES = 96 * 1024 * 1024;

const bytesOf = (levels: readonly Buffer[]) => levels.reduce((n, l) => n + l.length, 0);

export class TreeCache {
  /** key -> the tree's levels, least recently used first */
  private readonly trees = new Map<string, Buffer[]>();
  /** trees being built, so that a run of proofs of one tree builds it once */
  private readonly building = new Map<string, Promise<Buffer[]>>();
  private bytes = 0;
  private readonly maxBytes: number;

  constructor(maxBytes = MAX_TREE_CACHE_BYTES) {
    this.maxBytes = maxBytes;
  }

  /** The levels of the tree named `key` (trees never change once stored), building it from `leaves` when not kept. */
  async levels(key: string, leaves: () => Promise<Buffer[]>): Promise<Buffer[]> {
    const kept = this.trees.get(key);
    if (kept) {
      this.trees.delete(key);
      this.trees.set(key, kept);
      return kept;
    }
    let pending = this.building.get(key);
    if (!pending) {
      pending = leaves().then((l) => merkleLevels(l)).finally(() => this.building.delete(key));
      this.building.set(key, pending);
      void pending.then((levels) => this.keep(key, levels), () => undefined);
    }
    return pending;
  }

  private keep(key: string, levels: Buffer[]): void {
    if (this.trees.has(key)) return;
    this.trees.set(key, levels);
    this.bytes += bytesOf(levels);
    // The newest stays even over the bound: it is the one being asked about.
    for (const [k, l] of this.trees) {
      if (this.bytes <= this.maxBytes || k === key) break;
      this.trees.delete(k);
      this.bytes -= bytesOf(l);
    }
  }
}

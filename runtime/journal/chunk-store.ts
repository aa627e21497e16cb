// The journal's records on disk: chunks of consecutive canonical lines, one per group commit and
// never straddling a batch boundary (layout.ts), the in-memory index of the chunks held, and a
// one-chunk read cache.
//
// A chunk is never changed once written and a durable seq is never written again, so an index
// entry or a cached chunk never goes stale: what changes is only whether a chunk is still held.
// Acknowledging and pruning replace the index array, which is why nothing walks it across an
// await: a reader copies the entries it needs first (covering) and asks afterwards whether a
// chunk it found gone was released or lost.
import type { Level } from 'level';
import { chunkKey, decodeIndex, encodeIndex, indexKey, parseNumberKey, RANGE, type ChunkIndex, type WriteOp } from './layout.ts';

/** The records of one group commit that go into one chunk. */
export interface ChunkDraft {
  first: number;
  lines: string[];
  bytes: number;
  minTs: number;
  maxTs: number;
}

/** Where the index stood before a commit, to roll it back to if the commit's write fails. */
export interface ChunkIndexMark {
  index: ChunkIndex[];
  length: number;
  records: number;
}

export class ChunkStore {
  /** the chunks held, by first seq, in order */
  private index: ChunkIndex[] = [];
  /** the records in the chunks held, kept as chunks come and go */
  private held = 0;
  private cache: { first: number; lines: string[] } | null = null;

  private readonly db: Level<string, string>;

  constructor(db: Level<string, string>) {
    this.db = db;
  }

  async load(): Promise<void> {
    for await (const [key, value] of this.db.iterator(RANGE.index)) this.index.push(decodeIndex(parseNumberKey(key), value));
    this.held = countRecords(this.index);
  }

  /** How many records the chunks held hold. */
  get records(): number {
    return this.held;
  }

  /** Write a commit's chunk into `ops` and index it now; the commit rolls the index back if its write fails. */
  put(d: ChunkDraft, ops: WriteOp[]): ChunkIndex {
    const c: ChunkIndex = { first: d.first, last: d.first + d.lines.length - 1, minTs: d.minTs, maxTs: d.maxTs, bytes: d.bytes };
    ops.push({ type: 'put', key: chunkKey(c.first), value: d.lines.join('\n') }, { type: 'put', key: indexKey(c.first), value: encodeIndex(c) });
    this.index.push(c);
    this.held += d.lines.length;
    return c;
  }

  /** The entries of the chunks holding any of seqs first..last, copied: safe to walk across awaits. */
  covering(first: number, last: number): ChunkIndex[] {
    const from = this.firstEndingAtOrAfter(first);
    let to = from;
    while (to < this.index.length && this.index[to]!.first <= last) to++;
    return this.index.slice(from, to);
  }

  /** The held chunk that holds `seq`, or else the first held after it. */
  at(seq: number): ChunkIndex | undefined {
    return this.index[this.firstEndingAtOrAfter(seq)];
  }

  /**
   * The first seq of the first held chunk with a record at or after `ts` (by its newest record's
   * time), or the seq after the last held chunk when none has: where a reader of "the last hours"
   * starts, without reading the chunks before it.
   */
  firstSeqSince(ts: number): number {
    for (const c of this.index) if (c.maxTs >= ts) return c.first;
    const last = this.index[this.index.length - 1];
    return last ? last.last + 1 : 1;
  }

  /** Whether the index still holds chunk `c`. */
  holds(c: ChunkIndex): boolean {
    return this.at(c.first)?.first === c.first;
  }

  /** The chunks that end at or before `seq`: what acknowledging through it deletes, a prefix. */
  endingBy(seq: number): ChunkIndex[] {
    return this.index.slice(0, this.firstEndingAtOrAfter(seq + 1));
  }

  /** An acknowledgement through `seq` is durable: forget its chunks. */
  forgetThrough(seq: number): void {
    const from = this.firstEndingAtOrAfter(seq + 1);
    this.held -= countRecords(this.index.slice(0, from));
    this.index = this.index.slice(from);
    this.cache = null;
  }

  /** Drop the chunks that end at or before `seq` (the disk bound): deleted in `ops`, gone from the index now. */
  dropThrough(seq: number, ops: WriteOp[]): ChunkIndex[] {
    const dropped = this.endingBy(seq);
    deleteChunks(dropped, ops);
    this.forgetThrough(seq);
    return dropped;
  }

  /** Drop the chunks wholly inside first..last (a pruned batch): deleted in `ops`, gone from the index now. */
  dropWithin(first: number, last: number, ops: WriteOp[]): ChunkIndex[] {
    const dropped: ChunkIndex[] = [];
    const kept: ChunkIndex[] = [];
    for (const c of this.index) (c.first >= first && c.last <= last ? dropped : kept).push(c);
    deleteChunks(dropped, ops);
    this.held -= countRecords(dropped);
    this.index = kept;
    this.cache = null;
    return dropped;
  }

  /** A chunk's lines, or undefined when LevelDB no longer holds it (the caller tells why). */
  async read(first: number): Promise<string[] | undefined> {
    if (this.cache?.first === first) return this.cache.lines;
    const text = await this.db.get(chunkKey(first));
    if (text === undefined) return undefined;
    const lines = text.split('\n');
    this.cache = { first, lines };
    return lines;
  }

  /**
   * A commit only appends to the index, or swaps in a filtered copy when it prunes, so the array
   * and its length are enough to undo it, however long the backlog.
   */
  mark(): ChunkIndexMark {
    return { index: this.index, length: this.index.length, records: this.held };
  }

  rollback(m: ChunkIndexMark): void {
    m.index.length = m.length;
    this.index = m.index;
    this.held = m.records;
    this.cache = null;
  }

  /** Binary search: the position of the first held chunk whose last seq is >= seq. */
  private firstEndingAtOrAfter(seq: number): number {
    let lo = 0;
    let hi = this.index.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.index[mid]!.last < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function countRecords(chunks: readonly ChunkIndex[]): number {
  let n = 0;
  for (const c of chunks) n += c.last - c.first + 1;
  return n;
}

export function deleteChunks(chunks: readonly ChunkIndex[], ops: WriteOp[]): void {
  for (const c of chunks) ops.push({ type: 'del', key: chunkKey(c.first) }, { type: 'del', key: indexKey(c.first) });
}

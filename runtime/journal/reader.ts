// Reading what the journal holds (a sealed batch, every batch, every record) while commits,
// acknowledgements and pruning go on: the uplink reads the next batches while the ones before
// them are acknowledged. A read never walks the chunk index across an await (ChunkStore.covering
// copies what it needs), and a chunk found gone is told apart: released (acknowledged, pruned,
// or being either) is "no longer held", anything else is damage.
import type { BatchHeader } from '../../protocol/batch.ts';
import type { JournalRecord } from '../../protocol/records.ts';
import type { Acknowledgement } from './acknowledgement.ts';
import type { ChunkStore } from './chunk-store.ts';
import type { HeldBatches } from './held-batches.ts';
import type { ChunkIndex } from './layout.ts';
import type { JournalStateCell } from './state.ts';

export interface BatchLines {
  header: BatchHeader;
  /** the records' canonical JSON, in seq order; empty when pruned */
  lines: string[];
  pruned: boolean;
}

export interface StoredBatch {
  header: BatchHeader;
  records: JournalRecord[];
  pruned?: true;
}

export interface ReaderDeps {
  cell: JournalStateCell;
  held: HeldBatches;
  chunks: ChunkStore;
  ack: Acknowledgement;
}

export class JournalReader {
  private readonly deps: ReaderDeps;

  constructor(deps: ReaderDeps) {
    this.deps = deps;
  }

  /**
   * The canonical lines of a sealed batch still held (empty when pruned), or null when not held:
   * acknowledged (or being acknowledged) before or during the read, or not sealed.
   */
  async readBatchLines(batch: number): Promise<BatchLines | null> {
    const { held, chunks, ack } = this.deps;
    const header = held.header(batch);
    if (!header || ack.releasedBatch(batch)) return null;
    if (held.isPruned(batch)) return { header, lines: [], pruned: true };
    const lines: string[] = [];
    for (const c of chunks.covering(header.first, header.last)) {
      const chunk = await chunks.read(c.first);
      if (!chunk) return this.afterShortRead(batch, header, `journal chunk ${c.first} is missing`);
      const from = Math.max(header.first, c.first) - c.first;
      const to = Math.min(header.last, c.last) - c.first;
      for (let i = from; i <= to; i++) lines.push(chunk[i]!);
    }
    if (lines.length !== header.count) return this.afterShortRead(batch, header, `journal holds ${lines.length} of batch ${batch}'s ${header.count} records`);
    return { header, lines, pruned: false };
  }

  async readBatch(batch: number): Promise<StoredBatch | null> {
    const b = await this.readBatchLines(batch);
    if (!b) return null;
    const records = b.lines.map((l) => JSON.parse(l) as JournalRecord);
    return b.pruned ? { header: b.header, records, pruned: true } : { header: b.header, records };
  }

  /**
   * Every sealed batch still held, oldest first. Each step starts from the acknowledgement cursor
   * as it is then, so batches acknowledged meanwhile are passed over rather than reported missing.
   */
  async *batches(): AsyncGenerator<BatchLines> {
    const { cell, ack } = this.deps;
    for (let b = ack.firstUnreleased; b <= cell.durable.lastBatch; b = Math.max(b + 1, ack.firstUnreleased)) {
      const held = await this.readBatchLines(b);
      if (held) yield held;
    }
  }

  /**
   * Every durable record still held, in seq order, sealed or not. The walk keeps a seq, not a
   * place in the chunk index, and finds the chunk holding it afresh after every wait: records
   * acknowledged or dropped while it waits are passed over. `from` skips the records before it
   * without reading their chunks (a consumer resuming from its own cursor).
   */
  async *records(from = 1): AsyncGenerator<{ seq: number; line: string }> {
    const { cell, chunks } = this.deps;
    let next = Math.max(1, from);
    for (;;) {
      const c = chunks.at(next);
      if (!c || c.first > cell.durable.lastSeq) return;
      const lines = await chunks.read(c.first);
      if (!lines && this.stillHeld(c)) throw new Error(`journal chunk ${c.first} is missing; the journal is damaged`);
      for (let i = Math.max(next, c.first) - c.first; lines && i < lines.length; i++) yield { seq: c.first + i, line: lines[i]! };
      next = c.last + 1;
    }
  }

  /**
   * A batch read came up short. Acknowledging or pruning it while it was read deletes its chunks
   * by design; only a batch the journal still holds in full is damaged.
   */
  private afterShortRead(batch: number, header: BatchHeader, problem: string): BatchLines | null {
    const { held, ack } = this.deps;
    if (ack.releasedBatch(batch) || !held.header(batch)) return null;
    if (held.isPruned(batch)) return { header, lines: [], pruned: true };
    throw new Error(`${problem}; the journal is damaged`);
  }

  /** Whether chunk `c` is still held: neither acknowledged, nor dropped, nor being either. */
  private stillHeld(c: ChunkIndex): boolean {
    return !this.deps.ack.releasedSeq(c.last) && this.deps.chunks.holds(c);
  }
}

// The sealed batches the journal still holds, in memory: their headers by number, and which of
// them the disk bound pruned (header kept, records dropped). Loaded at open, added to by sealing,
// marked by pruning, emptied from the front by acknowledgement.
import type { Level } from 'level';
import type { BatchHeader } from '../../protocol/batch.ts';
import { canonicalize } from '../../protocol/canonical.ts';
import { headerKey, parseNumberKey, prunedKey, RANGE, type WriteOp } from './layout.ts';
import { parseJson } from './open.ts';

export class HeldBatches {
  private readonly headers = new Map<number, BatchHeader>();
  private readonly pruned = new Set<number>();

  async load(db: Level<string, string>): Promise<void> {
    for await (const [key, value] of db.iterator(RANGE.header)) {
      const header = parseJson<BatchHeader>(value, `journal header ${key} is corrupt`);
      this.headers.set(header.batch, header);
    }
    for await (const key of db.keys(RANGE.pruned)) this.pruned.add(parseNumberKey(key));
  }

  header(batch: number): BatchHeader | undefined {
    return this.headers.get(batch);
  }

  add(header: BatchHeader): void {
    this.headers.set(header.batch, header);
  }

  isPruned(batch: number): boolean {
    return this.pruned.has(batch);
  }

  /** The disk bound dropped the batch's records: mark it in `ops` and in memory now. */
  markPruned(batch: number, ops: WriteOp[]): void {
    ops.push({ type: 'put', key: prunedKey(batch), value: '1' });
    this.pruned.add(batch);
  }

  /** Delete batches from..through in `ops` (memory follows with forget()); returns their header bytes. */
  deleteInto(from: number, through: number, ops: WriteOp[]): number {
    let bytes = 0;
    for (let b = from; b <= through; b++) {
      const h = this.headers.get(b);
      if (h) bytes += canonicalize(h).length;
      ops.push({ type: 'del', key: headerKey(b) });
      if (this.pruned.has(b)) ops.push({ type: 'del', key: prunedKey(b) });
    }
    return bytes;
  }

  /** An acknowledgement of batches from..through is durable: forget them. */
  forget(from: number, through: number): void {
    for (let b = from; b <= through; b++) {
      this.headers.delete(b);
      this.pruned.delete(b);
    }
  }

  /** The pruned batches up to `lastBatch` and the records they had: what the unsent count leaves out. */
  prunedUpTo(lastBatch: number): { batches: number; records: number } {
    let batches = 0;
    let records = 0;
    for (const b of this.pruned) {
      if (b > lastBatch) continue;
      batches++;
      records += this.headers.get(b)?.count ?? 0;
    }
    return { batches, records };
  }

  /** A commit only adds headers and pruned marks, so the count of marks is enough to undo it. */
  mark(): number {
    return this.pruned.size;
  }

  /** Undo a commit that sealed the batches after `lastBatch` and pruned since `mark`. */
  rollback(mark: number, lastBatch: number, sealedThrough: number): void {
    for (let b = lastBatch + 1; b <= sealedThrough; b++) this.headers.delete(b);
    const extra = this.pruned.size - mark;
    // Sets iterate in insertion order: the marks added since are the last ones.
    if (extra > 0) for (const b of [...this.pruned].slice(-extra)) this.pruned.delete(b);
  }
}

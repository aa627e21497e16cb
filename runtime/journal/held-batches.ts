// The sealed batches the journal still holds, in memory: their headers by number, and which of
// them the disk bound pruned (header kept, records dropped). Loaded at open, added to by sealing,
// marked by pruning, emptied from the front by acknowledgement. A pruned batch also knows the seq
// of the gap record that announces it (its cover, 0 while that record is not written yet).
import type { Level } from 'level';
import { headerHash, type BatchHeader } from '../../protocol/batch.ts';
import { canonicalize } from '../../protocol/canonical.ts';
import type { Receipt } from '../../protocol/receipt.ts';
import { headerKey, parseNumberKey, prunedKey, RANGE, receiptKey, type WriteOp } from './layout.ts';
import { parseJson } from './open.ts';

export class HeldBatches {
  private readonly headers = new Map<number, BatchHeader>();
  /** pruned batch -> seq of the gap record naming it (0: not written yet) */
  private readonly pruned = new Map<number, number>();
  /** what the commit under way changed in `pruned`, to undo it if its write fails */
  private undo: { batch: number; before: number | undefined }[] = [];
  /** the sink's receipts for held batches: bounded by the headers held, gone with them */
  private readonly receipts = new Map<number, Receipt>();

  async load(db: Level<string, string>): Promise<void> {
    for await (const [key, value] of db.iterator(RANGE.header)) {
      const header = parseJson<BatchHeader>(value, `journal header ${key} is corrupt`);
      this.headers.set(header.batch, header);
    }
    // An older journal wrote "1" for every mark: its batches have no cover yet.
    for await (const [key, value] of db.iterator(RANGE.pruned)) this.pruned.set(parseNumberKey(key), value.startsWith('{') ? coverOf(value) : 0);
    for await (const [key, value] of db.iterator(RANGE.receipt)) {
      const batch = parseNumberKey(key);
      if (this.headers.has(batch)) this.receipts.set(batch, parseJson<Receipt>(value, `journal receipt ${key} is corrupt`));
    }
  }

  header(batch: number): BatchHeader | undefined {
    return this.headers.get(batch);
  }

  add(header: BatchHeader): void {
    this.headers.set(header.batch, header);
  }

  receipt(batch: number): Receipt | undefined {
    return this.receipts.get(batch);
  }

  /** Keep the sink's receipt for held batch `batch` (in `ops`, and in memory now). */
  keepReceipt(receipt: Receipt, ops: WriteOp[]): boolean {
    const header = this.headers.get(receipt.batch);
    // only the receipt for this very header: a batch number names another batch in another epoch
    if (!header || this.receipts.has(receipt.batch) || headerHash(header) !== receipt.header) return false;
    ops.push({ type: 'put', key: receiptKey(receipt.batch), value: JSON.stringify(receipt) });
    this.receipts.set(receipt.batch, receipt);
    return true;
  }

  isPruned(batch: number): boolean {
    return this.pruned.has(batch);
  }

  /** The disk bound dropped the batch's records: mark it in `ops` and in memory now. */
  markPruned(batch: number, ops: WriteOp[]): void {
    this.setCover(batch, 0, ops);
  }

  /** The seq of the gap record that names a pruned batch, 0 while none is written. */
  coverSeq(batch: number): number {
    return this.pruned.get(batch) ?? 0;
  }

  /** A gap record at `seq` names the pruned `batch` (0: its cover was itself dropped, announce it again). */
  setCover(batch: number, seq: number, ops: WriteOp[]): void {
    ops.push({ type: 'put', key: prunedKey(batch), value: JSON.stringify({ cover: seq }) });
    this.undo.push({ batch, before: this.pruned.get(batch) });
    this.pruned.set(batch, seq);
  }

  /** The pruned batches whose cover lies in seqs first..last: dropping those seqs drops their covers. */
  coveredWithin(first: number, last: number): number[] {
    const out: number[] = [];
    for (const [b, seq] of this.pruned) if (seq >= first && seq <= last) out.push(b);
    return out;
  }

  /** Delete batches from..through in `ops` (memory follows with forget()); returns their header bytes. */
  deleteInto(from: number, through: number, ops: WriteOp[]): number {
    let bytes = 0;
    for (let b = from; b <= through; b++) {
      const h = this.headers.get(b);
      if (h) bytes += canonicalize(h).length;
      ops.push({ type: 'del', key: headerKey(b) });
      if (this.pruned.has(b)) ops.push({ type: 'del', key: prunedKey(b) });
      if (this.receipts.has(b)) ops.push({ type: 'del', key: receiptKey(b) });
    }
    return bytes;
  }

  /** An acknowledgement of batches from..through is durable: forget them. */
  forget(from: number, through: number): void {
    for (let b = from; b <= through; b++) {
      this.headers.delete(b);
      this.pruned.delete(b);
      this.receipts.delete(b);
    }
  }

  /** The pruned batches up to `lastBatch` and the records they had: what the unsent count leaves out. */
  prunedUpTo(lastBatch: number): { batches: number; records: number } {
    let batches = 0;
    let records = 0;
    for (const b of this.pruned.keys()) {
      if (b > lastBatch) continue;
      batches++;
      records += this.headers.get(b)?.count ?? 0;
    }
    return { batches, records };
  }

  /** A commit starts: from here on its changes to the marks are logged, to be undone if need be. */
  mark(): number {
    this.undo = [];
    return 0;
  }

  /** Undo a commit that sealed the batches after `lastBatch` and changed marks since `mark`. */
  rollback(_mark: number, lastBatch: number, sealedThrough: number): void {
    for (let b = lastBatch + 1; b <= sealedThrough; b++) this.headers.delete(b);
    for (const { batch, before } of this.undo.reverse()) {
      if (before === undefined) this.pruned.delete(batch);
      else this.pruned.set(batch, before);
    }
    this.undo = [];
  }
}

function coverOf(value: string): number {
  const cover = (JSON.parse(value) as { cover?: unknown }).cover;
  return Number.isSafeInteger(cover) ? (cover as number) : 0;
}

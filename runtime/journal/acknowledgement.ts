// Acknowledgement: a sink holds batches 1..n, so their headers leave the journal in one synced
// write that also moves the cursor, and so do their records as far as every publisher's hold
// (holds.ts) is past them too; the rest go when the last hold moves past them. The new state is
// worked out aside and nothing in memory changes until that write is durable, except the release
// mark that readers consult.
import type { Level } from 'level';
import { headerHash } from '../../protocol/batch.ts';
import type { Receipt } from '../../protocol/receipt.ts';
import { deleteChunks, type ChunkStore } from './chunk-store.ts';
import type { HeldBatches } from './held-batches.ts';
import type { Holds } from './holds.ts';
import type { JournalMetrics } from './journal-metrics.ts';
import { LAST_RECEIPT_KEY, STATE_KEY, type JournalState, type WriteOp } from './layout.ts';
import { copyState, type JournalStateCell } from './state.ts';

export interface AcknowledgementDeps {
  db: Level<string, string>;
  cell: JournalStateCell;
  held: HeldBatches;
  chunks: ChunkStore;
  holds: Holds;
  metrics: JournalMetrics;
  /** the acknowledgement is durable (the journal publishes its gauges) */
  onDurable: () => void;
}

export class Acknowledgement {
  /**
   * Batches (and seqs) through these are acknowledged or being acknowledged. Raised before the
   * write, while memory still holds the batches: LevelDB may delete their chunks under a read
   * before the journal forgets them, and a reader that finds a chunk gone asks this to tell an
   * acknowledgement from damage.
   */
  private released: { batch: number; seq: number };

  private readonly deps: AcknowledgementDeps;

  constructor(deps: AcknowledgementDeps) {
    this.deps = deps;
    this.released = { batch: deps.cell.current.ackedBatch, seq: deps.cell.current.ackedSeq };
  }

  /** Whether `batch` is acknowledged or being acknowledged. */
  releasedBatch(batch: number): boolean {
    return batch <= this.released.batch;
  }

  /** Whether `seq` is acknowledged or being acknowledged. */
  releasedSeq(seq: number): boolean {
    return seq <= this.released.seq;
  }

  /** The first batch not released: where a walk over the held batches starts. */
  get firstUnreleased(): number {
    return this.released.batch + 1;
  }

  /**
   * A sink holds batches 1..throughBatch: delete their records and headers. Idempotent; the cursor
   * never goes back. The caller runs it in the journal's write chain.
   */
  async acknowledge(throughBatch: number): Promise<void> {
    const { cell, held, chunks, holds } = this.deps;
    if (throughBatch <= cell.current.ackedBatch) return;
    if (throughBatch > cell.current.lastBatch) throw new RangeError(`cannot acknowledge batch ${throughBatch}: the last sealed batch is ${cell.current.lastBatch}`);
    const header = held.header(throughBatch)!;
    const state = copyState(cell.current);
    const ops: WriteOp[] = [];
    // chunks acknowledged and behind every hold: a prefix
    const floor = Math.min(header.last, holds.floor());
    const gone = chunks.endingBy(floor);
    // The receipt of the last batch acknowledged outlives its header: the sink's word for the chain through it.
    const receipt = held.receipt(throughBatch);
    if (receipt) ops.push({ type: 'put', key: LAST_RECEIPT_KEY, value: JSON.stringify(receipt) });
    deleteChunks(gone, ops);
    state.bytes -= gone.reduce((s, c) => s + c.bytes, 0);
    state.bytes -= held.deleteInto(state.ackedBatch + 1, throughBatch, ops);
    state.ackedBatch = throughBatch;
    state.ackedSeq = header.last;
    state.ackedHeaderHash = headerHash(header);
    this.released = { batch: throughBatch, seq: header.last };
    try {
      await this.write(ops, state);
    } catch (err) {
      this.released = { batch: cell.current.ackedBatch, seq: cell.current.ackedSeq };
      throw err;
    }
    held.forget(cell.current.ackedBatch + 1, throughBatch);
    this.forget(floor, state);
  }

  /**
   * Keep a receipt the sink gave for a held batch, with the batch's header, unless the batch is
   * released meanwhile. Not synced: a receipt lost to a power cut is asked for again. The caller
   * runs it in the journal's write chain.
   */
  async keepReceipt(receipt: Receipt): Promise<void> {
    if (this.releasedBatch(receipt.batch)) return;
    const ops: WriteOp[] = [];
    if (this.deps.held.keepReceipt(receipt, ops)) await this.deps.db.batch(ops as never);
  }

  /** The receipt of the last acknowledged batch, if the sink gave one (kept by acknowledge). */
  async lastReceipt(): Promise<Receipt | null> {
    const text = await this.deps.db.get(LAST_RECEIPT_KEY);
    return text ? (JSON.parse(text) as Receipt) : null;
  }

  /**
   * The publisher holding `name` has every record through `through`: records acknowledged by the
   * sink and now behind every hold are deleted. Without any to delete, the hold goes with the
   * next write. The caller runs it in the journal's write chain.
   */
  async hold(name: string, through: number): Promise<void> {
    if (this.deps.holds.set(name, through)) await this.release(false);
  }

  /** Only the holds of the publishers named stay (holds.ts); written at once, with what that frees. */
  async keepHolds(names: readonly string[]): Promise<void> {
    this.deps.holds.keepOnly(names);
    await this.release(true);
  }

  /** Deletes what the sink has and every hold is past; writes the state even without, when `always`. */
  private async release(always: boolean): Promise<void> {
    const { cell, chunks, holds } = this.deps;
    const floor = Math.min(cell.current.ackedSeq, holds.floor());
    const gone = chunks.endingBy(floor);
    if (gone.length === 0 && !always) return;
    const state = copyState(cell.current);
    const ops: WriteOp[] = [];
    deleteChunks(gone, ops);
    state.bytes -= gone.reduce((s, c) => s + c.bytes, 0);
    await this.write(ops, state);
    this.forget(floor, state);
  }

  private async write(ops: WriteOp[], state: JournalState): Promise<void> {
    ops.push({ type: 'put', key: STATE_KEY, value: JSON.stringify(state) });
    try {
      await this.deps.db.batch(ops as never, { sync: true });
    } catch (err) {
      this.deps.metrics.writeErrors.inc();
      throw err;
    }
  }

  /** The write is durable: the chunks through `floor` are gone and `state` is the journal's. */
  private forget(floor: number, state: JournalState): void {
    const { cell, chunks } = this.deps;
    chunks.forgetThrough(floor);
    cell.current = state;
    cell.markDurable();
    this.deps.onDurable();
  }
}

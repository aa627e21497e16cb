// Acknowledgement: a sink holds batches 1..n, so their records and headers leave the journal in
// one synced write that also moves the cursor. The new state is worked out aside and nothing in
// memory changes until that write is durable, except the release mark that readers consult.
import type { Level } from 'level';
import { headerHash } from '../../protocol/batch.ts';
import { deleteChunks, type ChunkStore } from './chunk-store.ts';
import type { HeldBatches } from './held-batches.ts';
import type { JournalMetrics } from './journal-metrics.ts';
import { LAST_RECEIPT_KEY, STATE_KEY, type WriteOp } from './layout.ts';
import { copyState, type JournalStateCell } from './state.ts';

export interface AcknowledgementDeps {
  db: Level<string, string>;
  cell: JournalStateCell;
  held: HeldBatches;
  chunks: ChunkStore;
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
    const { db, cell, held, chunks, metrics } = this.deps;
    if (throughBatch <= cell.current.ackedBatch) return;
    if (throughBatch > cell.current.lastBatch) throw new RangeError(`cannot acknowledge batch ${throughBatch}: the last sealed batch is ${cell.current.lastBatch}`);
    const header = held.header(throughBatch)!;
    const state = copyState(cell.current);
    const ops: WriteOp[] = [];
    const gone = chunks.endingBy(header.last); // chunks wholly acknowledged: a prefix
    // The receipt of the last batch acknowledged outlives its header: the sink's word for the chain through it.
    const receipt = held.receipt(throughBatch);
    if (receipt) ops.push({ type: 'put', key: LAST_RECEIPT_KEY, value: JSON.stringify(receipt) });
    deleteChunks(gone, ops);
    state.bytes -= gone.reduce((s, c) => s + c.bytes, 0);
    state.bytes -= held.deleteInto(state.ackedBatch + 1, throughBatch, ops);
    state.ackedBatch = throughBatch;
    state.ackedSeq = header.last;
    state.ackedHeaderHash = headerHash(header);
    ops.push({ type: 'put', key: STATE_KEY, value: JSON.stringify(state) });
    this.released = { batch: throughBatch, seq: header.last };
    try {
      await db.batch(ops as never, { sync: true });
    } catch (err) {
      this.released = { batch: cell.current.ackedBatch, seq: cell.current.ackedSeq };
      metrics.writeErrors.inc();
      throw err;
    }
    held.forget(cell.current.ackedBatch + 1, throughBatch);
    chunks.forgetThrough(header.last);
    cell.current = state;
    cell.markDurable();
    this.deps.onDurable();
  }
}

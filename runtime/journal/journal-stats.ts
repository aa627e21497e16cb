// What the journal reports about itself: `fieldproof journal stats`, the status page, and the
// journal's gauges. The cursors are the durable ones, so no figure counts a write a power cut
// could still undo.
import type { ChunkStore } from './chunk-store.ts';
import type { HeldBatches } from './held-batches.ts';
import type { Holds } from './holds.ts';
import type { JournalMetrics } from './journal-metrics.ts';
import type { HoldState, PendingGap } from './layout.ts';
import type { JournalStateCell } from './state.ts';

export interface JournalStats {
  device: string;
  /** the recovery epoch of the chain held (docs/spec/batches.md#epochs) */
  epoch: number;
  lastSeq: number;
  sealedSeq: number;
  lastBatch: number;
  ackedBatch: number;
  ackedSeq: number;
  /** records the sink has not acknowledged (whatever the publishers' holds keep) */
  unsentRecords: number;
  /** records the sink has acknowledged that the journal still keeps for a publisher's hold */
  heldRecords: number;
  /** per publisher: through which seq its broker has the records, and how many it lost to the disk bound */
  holds: Record<string, HoldState>;
  unsentBatches: number;
  prunedBatches: number;
  pendingGap: PendingGap | null;
  bytes: number;
  maxBytes: number;
}

/** The parts of the journal the figures come from. */
export interface JournalStatsSources {
  device: string;
  maxBytes: number;
  cell: JournalStateCell;
  held: HeldBatches;
  chunks: ChunkStore;
  holds: Holds;
}

export function journalStats(from: JournalStatsSources): JournalStats {
  const d = from.cell.durable;
  const pruned = from.held.prunedUpTo(d.lastBatch);
  const unsentRecords = d.lastSeq - d.ackedSeq - pruned.records;
  return {
    device: from.device,
    epoch: d.epoch ?? 1,
    lastSeq: d.lastSeq,
    sealedSeq: d.sealedSeq,
    lastBatch: d.lastBatch,
    ackedBatch: d.ackedBatch,
    ackedSeq: d.ackedSeq,
    unsentRecords,
    heldRecords: Math.max(0, from.chunks.records - unsentRecords),
    holds: from.holds.view(),
    unsentBatches: d.lastBatch - d.ackedBatch,
    prunedBatches: pruned.batches,
    pendingGap: d.pendingGap,
    bytes: d.bytes,
    maxBytes: from.maxBytes,
  };
}

export function publishJournalGauges(metrics: JournalMetrics, s: JournalStats): void {
  metrics.bytes.set(s.bytes);
  metrics.unsent.set(s.unsentRecords);
  metrics.held.set(s.heldRecords);
  metrics.lastSeq.set(s.lastSeq);
}

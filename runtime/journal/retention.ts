// The disk bound and the gaps: the journal keeps its logical size (records and headers held) under
// journal.maxBytes, by dropping the oldest records (drop-oldest) or refusing new readings
// (reject-new). Drop-oldest drops records the sink has and only a publisher's hold keeps
// (holds.ts) first, oldest first, and only then the oldest unsent batches: the sink's signed chain
// matters most. Every reading lost either way, or lost before it reached the journal (an
// overloaded pipeline, a failed write), is counted into a pending gap, which the next commit
// writes as a signed gap record: nothing is dropped silently. A pruned batch is named, with its
// header hash, in that record's `batches`: the device's signature on the prune.
import type { Logger } from 'pino';
import { headerHash } from '../../protocol/batch.ts';
import { ThrottledWarn } from '../../kernel/log-throttle.ts';
import type { ChunkStore } from './chunk-store.ts';
import { JournalFullError } from './errors.ts';
import type { HeldBatches } from './held-batches.ts';
import type { Holds } from './holds.ts';
import type { JournalMetrics } from './journal-metrics.ts';
import type { PendingGap, WriteOp } from './layout.ts';
import type { JournalStateCell } from './state.ts';

export type RetentionPolicy = 'drop-oldest' | 'reject-new';

export interface RetentionDeps {
  maxBytes: number;
  policy: RetentionPolicy;
  cell: JournalStateCell;
  held: HeldBatches;
  chunks: ChunkStore;
  holds: Holds;
  metrics: JournalMetrics;
  log: Logger;
}

export class Retention {
  private readonly deps: RetentionDeps;
  private readonly heldLog: ThrottledWarn;

  constructor(deps: RetentionDeps) {
    this.deps = deps;
    this.heldLog = new ThrottledWarn(deps.log);
  }

  /**
   * How many of `incoming` readings of about `lineBytes` each the bound has room for. Under
   * drop-oldest it first prunes to make room; the bound is checked before encoding, with the
   * recent mean record size as the estimate.
   */
  room(incoming: number, lineBytes: number, ops: WriteOp[]): number {
    const { maxBytes, policy, cell } = this.deps;
    const wanted = incoming * lineBytes;
    if (incoming === 0 || cell.current.bytes + wanted <= maxBytes) return incoming;
    if (policy === 'drop-oldest') {
      const need = cell.current.bytes + wanted - maxBytes;
      const freed = this.dropHeld(need, ops);
      if (freed < need) this.pruneOldest(need - freed, ops);
    }
    return Math.min(incoming, Math.max(0, Math.floor((maxBytes - cell.current.bytes) / lineBytes)));
  }

  /** The error a reading refused for want of room gets. */
  fullError(): JournalFullError {
    return new JournalFullError(`journal is full (${this.deps.cell.current.bytes} of ${this.deps.maxBytes} bytes) and the policy is ${this.deps.policy}`);
  }

  /** Count readings with these timestamps into the pending gap. */
  addGap(timestamps: readonly number[], reason: string): void {
    if (timestamps.length === 0) return;
    const state = this.deps.cell.current;
    const gap = state.pendingGap ?? { dropped: 0, from: Infinity, to: -Infinity, reason };
    gap.dropped += timestamps.length;
    for (const ts of timestamps) {
      if (ts < gap.from) gap.from = ts;
      if (ts > gap.to) gap.to = ts;
    }
    state.pendingGap = gap;
    this.deps.metrics.dropped.inc({ reason }, timestamps.length);
  }

  /** The pending gap, now to be written as a record: the state no longer carries it. */
  takeGap(): PendingGap | null {
    const state = this.deps.cell.current;
    const gap = state.pendingGap;
    state.pendingGap = null;
    return gap;
  }

  /**
   * Free up to `need` bytes by dropping the oldest records the sink has acknowledged but a
   * publisher's hold still keeps. No gap record: the sink holds them, signed. Each hold behind
   * them counts what it lost (holds.ts). Returns the bytes freed.
   */
  private dropHeld(need: number, ops: WriteOp[]): number {
    const { cell, chunks, holds } = this.deps;
    const state = cell.current;
    const acknowledged = chunks.endingBy(state.ackedSeq);
    if (acknowledged.length === 0) return 0;
    let freed = 0;
    let count = 0;
    while (count < acknowledged.length && freed < need) freed += acknowledged[count++]!.bytes;
    const dropped = chunks.dropThrough(acknowledged[count - 1]!.last, ops);
    state.bytes -= freed;
    holds.dropped(dropped);
    // a full journal drops at every commit: one line per interval, the holds count every record
    this.heldLog.warn('disk_full_held', { first: dropped[0]!.first, last: dropped[dropped.length - 1]!.last }, 'journal full: dropped the oldest records the sink has but a publisher had not yet');
    return freed;
  }

  /**
   * Free at least `need` bytes by dropping the oldest sealed batches that no sink has
   * acknowledged. Their headers stay (the chain stays whole); their records go, and the pending
   * gap tells how many and from when.
   */
  private pruneOldest(need: number, ops: WriteOp[]): void {
    const { cell, held, chunks, holds, metrics, log } = this.deps;
    const state = cell.current;
    let freed = 0;
    for (let b = state.ackedBatch + 1; b <= state.lastBatch && freed < need; b++) {
      if (held.isPruned(b)) continue;
      const h = held.header(b)!;
      const dropped = chunks.dropWithin(h.first, h.last, ops);
      const bytes = dropped.reduce((s, c) => s + c.bytes, 0);
      freed += bytes;
      state.bytes -= bytes;
      // The gap records inside this batch go with it: the batches they named are named again.
      const uncovered = held.coveredWithin(h.first, h.last);
      for (const p of uncovered) held.setCover(p, 0, ops);
      held.markPruned(b, ops);
      if (dropped.length > 0) holds.dropped(dropped); // the publishers lose them too
      const gap = state.pendingGap ?? { dropped: 0, from: Infinity, to: -Infinity, reason: 'disk_full' };
      const named = [...uncovered, b].map((n) => ({ batch: n, hash: headerHash(held.header(n)!) }));
      gap.batches = [...(gap.batches ?? []).filter((r) => !uncovered.includes(r.batch)), ...named];
      gap.dropped += h.count;
      gap.from = Math.min(gap.from, ...dropped.map((c) => c.minTs));
      gap.to = Math.max(gap.to, ...dropped.map((c) => c.maxTs));
      state.pendingGap = gap;
      metrics.dropped.inc({ reason: 'disk_full' }, h.count);
      log.warn({ batch: b, records: h.count }, 'journal full: dropped the oldest unsent batch');
    }
  }
}

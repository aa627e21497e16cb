// What the device itself says it lost in the period: its signed gap records (readings dropped
// before they were journaled: overload, a full disk, a failed write) and the batches it dropped
// before sending (only their signed headers reached the sink). Each counts for the time it
// describes, shared in proportion to time like energy, so consecutive periods add up.
import type { GapEntry, PrunedEntry } from '../store/types.ts';
import { share } from './apportion.ts';
import { firstOfCarried } from './epochs.ts';

function inPeriod(count: number, t0: number, t1: number, from: number, to: number): number {
  if (t1 > t0) return share(count, t0, t1, from, to);
  return t0 >= from && t0 < to ? count : 0;
}

export function dataLoss(gaps: readonly GapEntry[], pruned: readonly PrunedEntry[], from: number, to: number) {
  // a gap record a later recovery epoch carried over is the loss the earlier epoch's record counted already
  const gapRecords = firstOfCarried(gaps, (g) => `${g.from}:${g.to}:${g.dropped}:${g.reason}`)
    .map((g) => ({ epoch: g.epoch ?? 1, seq: g.seq, from: g.from, to: g.to, reason: g.reason, dropped: g.dropped, droppedInPeriod: inPeriod(g.dropped, g.from, g.to, from, to) }))
    .filter((g) => g.droppedInPeriod > 0 || (g.from < to && g.to >= from));
  const prunedBatches = pruned
    .map((p) => {
      // the time it covered lies between the readings held on either side of it
      const t0 = p.afterTs ?? p.created;
      const t1 = p.untilTs ?? Math.max(t0, p.created);
      return { epoch: p.epoch ?? 1, batch: p.batch, first: p.first, last: p.last, records: p.count, from: t0, to: t1, recordsInPeriod: inPeriod(p.count, t0, t1, from, to) };
    })
    .filter((p) => p.recordsInPeriod > 0 || (p.from < to && p.to >= from));
  return {
    gapRecords,
    droppedOnDevice: gapRecords.reduce((s, g) => s + g.droppedInPeriod, 0),
    prunedBatches,
    prunedRecords: prunedBatches.reduce((s, p) => s + p.recordsInPeriod, 0),
  };
}

export type DataLoss = ReturnType<typeof dataLoss>;

// What the report can say of the device clock behind its readings: each batch header states
// whether the device's clock was synchronised when it was sealed (its signed `clock`), and the
// sink flagged, on arrival, batches created in the future or earlier than the batch before them.
// The readings of the period in batches sealed while the clock was not synchronised are counted,
// so that a verifier can weigh their timestamps; nothing is credited differently for it.
import { epochOf } from '../../../protocol/batch.ts';
import type { SinkStore, StoredBatchRow } from '../../store/types.ts';

export interface TimeQuality {
  /** readings in the period whose batch's header says the clock was not synchronised */
  unsyncedReadings: number;
  /** batches of the period: sealed with the clock not synchronised, without a stated clock, flagged future, flagged backwards */
  unsyncedBatches: number;
  unstatedBatches: number;
  futureBatches: number;
  backwardsBatches: number;
}

/** Over the stored batches `rows` that meet [from, to): only unsynced batches' records are read. */
export async function timeQuality(store: SinkStore, device: string, rows: readonly StoredBatchRow[], from: number, to: number): Promise<TimeQuality> {
  const q: TimeQuality = { unsyncedReadings: 0, unsyncedBatches: 0, unstatedBatches: 0, futureBatches: 0, backwardsBatches: 0 };
  for (const r of rows) {
    if (r.timeFlags?.includes('future')) q.futureBatches++;
    if (r.timeFlags?.includes('backwards')) q.backwardsBatches++;
    if (r.pruned) continue;
    if (!r.header.clock) {
      q.unstatedBatches++;
      continue;
    }
    if (r.header.clock.synced) continue;
    q.unsyncedBatches++;
    for (const line of await store.records(device, r.header.batch, epochOf(r.header))) {
      const rec = JSON.parse(line) as { kind?: string; ts?: number };
      if (rec.kind === 'reading' && typeof rec.ts === 'number' && rec.ts >= from && rec.ts < to) q.unsyncedReadings++;
    }
  }
  return q;
}

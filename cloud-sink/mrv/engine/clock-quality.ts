// What the report can say of the device clock behind its readings: each batch header states
// whether the device's clock was synchronised when it was sealed (its signed `clock`), and the
// sink flagged, on arrival, batches created in the future or earlier than the batch before them.
// The readings of the period in batches sealed while the clock was not synchronised are counted,
// so that a verifier can weigh their timestamps; nothing is credited differently for it. A reading
// a later recovery epoch carried, at an instant an earlier epoch's batch holds for its series, is
// the same reading signed twice and is counted once, as the register index counts it.
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

interface ReadingLine {
  kind?: string;
  sensor?: string;
  metric?: string;
  ts?: number;
}

/** Over the stored batches `rows` that meet [from, to): only unsynced batches' records are read. */
export async function timeQuality(store: SinkStore, device: string, rows: readonly StoredBatchRow[], from: number, to: number): Promise<TimeQuality> {
  const q: TimeQuality = { unsyncedReadings: 0, unsyncedBatches: 0, unstatedBatches: 0, futureBatches: 0, backwardsBatches: 0 };
  const earlier = new EarlierEpochs(store, device, rows);
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
    const epoch = epochOf(r.header);
    for (const line of await store.records(device, r.header.batch, epoch)) {
      const rec = JSON.parse(line) as ReadingLine;
      if (rec.kind !== 'reading' || typeof rec.ts !== 'number' || rec.ts < from || rec.ts >= to) continue;
      if (epoch > 1 && (await earlier.holds(rec, epoch))) continue;
      q.unsyncedReadings++;
    }
  }
  return q;
}

/** batches of earlier epochs kept decoded at once: carried readings come in time order, so a few suffice */
const DECODED_BATCHES = 4;

/**
 * Whether a batch of an earlier epoch among `rows` holds a reading of the same series at the same
 * instant. Read only for readings of later epochs' unsynced batches, and a batch at a time.
 */
class EarlierEpochs {
  private readonly decoded = new Map<StoredBatchRow, Set<string>>();
  private readonly store: SinkStore;
  private readonly device: string;
  private readonly rows: readonly StoredBatchRow[];

  constructor(store: SinkStore, device: string, rows: readonly StoredBatchRow[]) {
    this.store = store;
    this.device = device;
    this.rows = rows;
  }

  async holds(rec: ReadingLine, epoch: number): Promise<boolean> {
    const ts = rec.ts!;
    const id = instant(rec);
    for (const r of this.rows) {
      if (r.pruned || r.minTs === null || r.maxTs === null || ts < r.minTs || ts > r.maxTs || epochOf(r.header) >= epoch) continue;
      if ((await this.instants(r)).has(id)) return true;
    }
    return false;
  }

  private async instants(r: StoredBatchRow): Promise<Set<string>> {
    let set = this.decoded.get(r);
    if (set) return set;
    set = new Set();
    for (const line of await this.store.records(this.device, r.header.batch, epochOf(r.header))) {
      const rec = JSON.parse(line) as ReadingLine;
      if (rec.kind === 'reading' && typeof rec.ts === 'number') set.add(instant(rec));
    }
    if (this.decoded.size >= DECODED_BATCHES) this.decoded.delete(this.decoded.keys().next().value!);
    this.decoded.set(r, set);
    return set;
  }
}

function instant(rec: ReadingLine): string {
  return `${rec.sensor}\u0000${rec.metric}\u0000${rec.ts}`;
}

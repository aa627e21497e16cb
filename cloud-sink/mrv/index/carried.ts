// Readings of a later recovery epoch at instants their series already holds. A device restored
// from an older copy of its journal carries into the new epoch what it believes the sink lacks
// (docs/spec/batches.md#epochs), and may carry readings the sink holds under the old epoch's
// numbers: the same reading (sensor, metric, ts, value), signed twice. The index keeps the earlier
// epoch's copy and tallies the later one, so that a reading is counted once and the report can say
// which copy it used; a reading at a held instant with another value is a conflict, tallied apart,
// the earlier copy kept too. A later-epoch reading at an instant not held, yet not after the
// series' last, is left out as within one epoch (a clock set back, most likely by the restore),
// and tallied with its time so that the report can say so.
import { decodeChunk, F, lowerBound, type SeriesPoints } from './chunk-codec.ts';
import type { CarriedTally, IndexerState, IndexSession, OutOfOrderTally } from '../store/types.ts';

export interface LateReading {
  key: string;
  sensor: string;
  metric: string;
  ts: number;
  value: number | null;
  epoch: number;
}

interface HeldReading {
  value: number | null;
  epoch: number;
}

/** The index of the point at exactly ts in a ts-ordered series, or -1. */
function indexOfTs(p: SeriesPoints, ts: number): number {
  const k = lowerBound(p.ts, p.n, ts);
  return k < p.n && p.ts[k] === ts ? k : -1;
}

function heldAt(p: SeriesPoints, k: number): HeldReading {
  return { value: p.flags[k]! & F.NULL ? null : p.value[k]!, epoch: p.epoch[k]! };
}

export class CarriedReadings {
  private late: LateReading[] = [];
  /** the last committed chunk decoded per series while resolving (they are resolved in time order) */
  private readonly decoded = new Map<string, SeriesPoints>();

  private readonly state: IndexerState;
  private readonly session: IndexSession;

  constructor(state: IndexerState, session: IndexSession) {
    this.state = state;
    this.session = session;
  }

  add(r: LateReading): void {
    this.late.push(r);
  }

  /**
   * Tell each late reading apart, before the builder's pending points join their chunks.
   * @param inMemory a series' points not committed yet, or held decoded: its pending points and its open chunk
   */
  async resolve(inMemory: (key: string) => (SeriesPoints | undefined)[]): Promise<void> {
    // in series and time order, so that each committed chunk is decoded once however the late
    // readings came (the tallies are sums and bounds: their order does not matter)
    this.late.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.ts - b.ts));
    for (const r of this.late) {
      const held = await this.find(r, inMemory(r.key));
      if (!held || held.epoch >= r.epoch) {
        this.state.clockBackwards[r.key] = (this.state.clockBackwards[r.key] ?? 0) + 1;
        const tallies = ((this.state.outOfOrder ??= {})[r.key] ??= []);
        let t = tallies.find((x) => x.epoch === r.epoch);
        if (!t) tallies.push((t = { epoch: r.epoch, count: 0, minTs: r.ts, maxTs: r.ts } satisfies OutOfOrderTally));
        t.count++;
        t.minTs = Math.min(t.minTs, r.ts);
        t.maxTs = Math.max(t.maxTs, r.ts);
        continue;
      }
      const tallies = ((this.state.carried ??= {})[r.key] ??= []);
      let t = tallies.find((x) => x.epoch === r.epoch && x.keptEpoch === held.epoch);
      if (!t) tallies.push((t = { epoch: r.epoch, keptEpoch: held.epoch, duplicates: 0, conflicts: 0, minTs: r.ts, maxTs: r.ts } satisfies CarriedTally));
      if (held.value === r.value) t.duplicates++;
      else t.conflicts++;
      t.minTs = Math.min(t.minTs, r.ts);
      t.maxTs = Math.max(t.maxTs, r.ts);
    }
    this.late = [];
    this.decoded.clear();
  }

  private async find(r: LateReading, inMemory: (SeriesPoints | undefined)[]): Promise<HeldReading | null> {
    for (const p of inMemory) {
      const k = p ? indexOfTs(p, r.ts) : -1;
      if (k >= 0) return heldAt(p!, k);
    }
    let p = this.decoded.get(r.key);
    if (!p || p.n === 0 || r.ts < p.ts[0]! || r.ts > p.ts[p.n - 1]!) {
      const data = await this.session.chunkHolding(r.sensor, r.metric, r.ts);
      if (!data) return null;
      p = decodeChunk(data);
      this.decoded.set(r.key, p);
    }
    const k = indexOfTs(p, r.ts);
    return k >= 0 ? heldAt(p, k) : null;
  }
}

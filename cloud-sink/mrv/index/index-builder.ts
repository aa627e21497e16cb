// Turns stored batches, in order, into the MRV index: the plan, gap and pruned-batch records placed
// in time, each plan register's readings as compact chunks (chunk-codec.ts) with flags saying which
// readings can be credited, and tallies of energy readings no plan covers. A reading's fate is
// decided by the plan the device had declared when it journaled the reading (the latest plan before
// it in seq order); the report decides again under the plan in force at each time.
//
// Recovery epochs are read one after another into the same series: a meter's register is one
// physical count whichever chain carried its readings. A later epoch's reading at an instant the
// series already holds is a carried copy (carried.ts), counted once.
import type { PlanRecord } from '../../../protocol/plan.ts';
import type { JournalRecord } from '../../../protocol/records.ts';
import { epochOf, type BatchHeader } from '../../../protocol/batch.ts';
import { decodeChunk, emptyPoints, encodeChunk, F, pushPoint, summarize, type SeriesPoints } from './chunk-codec.ts';
import { CarriedReadings } from './carried.ts';
import { seriesKey, type IndexerState, type IndexSession, type IndexWrite, type PrunedEntry, type UnplannedTally } from '../store/types.ts';

/** points per chunk: a year of 1-minute polls is 65 chunks a register */
export const CHUNK_POINTS = 8192;

const ENERGY_UNITS = new Set(['Wh', 'kWh', 'MWh']);

/**
 * Quality flags that leave a register reading creditable: a retried read is as good as any, a
 * register that does not move (stuck) or follows a gap is still what the meter counted, and the
 * calibration of the meter is the plan's business. Every other flag disqualifies the reading.
 */
export const BENIGN_FLAGS = new Set(['retried', 'stuck', 'data_gap', 'weak_signal', 'battery_low', 'calibration_aging', 'calibration_stale', 'calibration_unknown']);

/** The device's own event flags on the reading that ends a step (drivers/ion7550/energy.ts). */
export const EVENT_FLAGS: Readonly<Record<string, number>> = {
  counter_reset: F.EV_RESET, counter_rollover: F.EV_ROLLOVER, counter_negative_wrap: F.EV_WRAP, counter_jump: F.EV_JUMP,
};

export interface BatchInput {
  header: BatchHeader;
  pruned: boolean;
  minTs: number | null;
}

type RegisterMeta = { bits: unknown; scale: unknown; signed: unknown; type: unknown };
/** A plan register: the unit its readings must carry, and what their meta must say (none for power). */
type PlanRegister = { unit: unknown; meta: RegisterMeta | null };

/** The flags that keep a register value from being credited, or undefined when there are none. */
function disqualifying(flags: readonly string[]): string[] | undefined {
  const bad = flags.filter((f) => EVENT_FLAGS[f] === undefined && !BENIGN_FLAGS.has(f));
  return bad.length > 0 ? bad : undefined;
}

export function emptyIndexerState(): IndexerState {
  return { series: {}, lastReadingTs: null, openPruned: [], clockBackwards: {} };
}

/**
 * Whether a value is one the plan's register cannot show: outside the range its type and width
 * allow (a uint32 register in Wh never reads 9e9 kWh). Such a value is not that register's count,
 * whatever the step from it would say.
 */
function outsideRegister(value: number, reg: RegisterMeta): boolean {
  if (typeof reg.scale !== 'number' || typeof reg.bits !== 'number') return false;
  const counts = value / reg.scale;
  if (reg.type === 'float32') return !(Math.abs(counts) <= 3.4028234663852886e38);
  if (reg.type === 'm10k') return !(counts > -0.5 && counts < 1e8 - 0.5);
  const [lo, hi] = reg.signed ? [-(2 ** (reg.bits - 1)), 2 ** (reg.bits - 1) - 1] : [0, 2 ** reg.bits - 1];
  return !(counts > lo - 0.5 && counts < hi + 0.5);
}

/** The registers a plan names, with the unit and the meta their readings must carry. */
function planRegisters(p: PlanRecord): Record<string, PlanRegister> {
  const out: Record<string, PlanRegister> = {};
  for (const c of [p.export, p.import]) {
    if (c && typeof c.metric === 'string') out[c.metric] = { unit: c.unit, meta: { bits: c.bits, scale: c.scale, signed: c.signed, type: c.type } };
  }
  if (p.power && typeof p.power.metric === 'string') out[p.power.metric] = { unit: p.power.unit, meta: null };
  return out;
}

export class IndexBuilder {
  private write: IndexWrite = { chunks: [], plans: [], gaps: [], pruned: [], unplanned: [] };
  private readonly pending = new Map<string, { sensor: string; metric: string; points: SeriesPoints }>();
  private readonly unplanned = new Map<string, UnplannedTally>();
  /** per sensor, the registers of its plan: kept beside the state, which holds only their names */
  private readonly registers = new Map<string, Record<string, PlanRegister>>();
  /** decoded open chunks, so that flushing twice in a session decodes them once */
  private readonly openChunks = new Map<string, SeriesPoints>();
  private pointsPending = 0;
  private readonly carried: CarriedReadings;

  private readonly state: IndexerState;
  private readonly session: IndexSession;

  constructor(
    state: IndexerState,
    session: IndexSession,
    planned: Map<string, PlanRecord>,
  ) {
    this.state = state;
    this.session = session;
    this.carried = new CarriedReadings(state, session);
    for (const [sensor, plan] of planned) this.registers.set(sensor, planRegisters(plan));
  }

  get pendingPoints(): number {
    return this.pointsPending;
  }

  addBatch(row: BatchInput, lines: readonly string[]): void {
    const h = row.header;
    const epoch = epochOf(h);
    if (row.pruned) {
      const entry: PrunedEntry = { ...inEpoch(epoch), batch: h.batch, first: h.first, last: h.last, count: h.count, created: h.created, afterTs: this.state.lastReadingTs, untilTs: null };
      this.state.openPruned.push(entry);
      this.putPruned(entry);
      return;
    }
    if (row.minTs !== null && this.state.openPruned.length > 0) this.closePruned(row.minTs);
    for (const line of lines) this.addRecord(JSON.parse(line) as JournalRecord, epoch);
  }

  /** Pruned batches waiting for a reading after them: now they have one. */
  private closePruned(untilTs: number): void {
    for (const e of this.state.openPruned) this.putPruned({ ...e, untilTs });
    this.state.openPruned = [];
  }

  private putPruned(e: PrunedEntry): void {
    const i = this.write.pruned.findIndex((p) => p.batch === e.batch && p.epoch === e.epoch);
    if (i >= 0) this.write.pruned[i] = e;
    else this.write.pruned.push(e);
  }

  private addRecord(r: JournalRecord, epoch: number): void {
    if (r.kind === 'plan') {
      this.write.plans.push({ ...inEpoch(epoch), seq: r.seq, record: r });
      this.registers.set(r.sensor, planRegisters(r));
      return;
    }
    if (r.kind === 'gap') {
      this.write.gaps.push({ ...inEpoch(epoch), seq: r.seq, from: r.from, to: r.to, dropped: r.dropped, reason: r.reason });
      return;
    }
    if (r.kind !== 'reading') return;
    if (this.state.lastReadingTs === null || r.ts > this.state.lastReadingTs) this.state.lastReadingTs = r.ts;
    const regs = this.registers.get(r.sensor);
    if (!regs) {
      if (ENERGY_UNITS.has(r.unit)) this.tally(seriesKey(r.sensor, r.metric), r.sensor, r.ts, epoch);
      return;
    }
    if (!(r.metric in regs)) return;
    const key = seriesKey(r.sensor, r.metric);
    const s = (this.state.series[key] ??= { chunk: 0, count: 0, lastTs: -Infinity });
    if (r.ts <= s.lastTs) {
      // in a later epoch, most likely a reading carried over that the series holds already: told apart at the flush
      if (epoch > 1) {
        this.carried.add({ key, sensor: r.sensor, metric: r.metric, ts: r.ts, value: r.value, epoch });
        this.pointsPending++;
      } else this.state.clockBackwards[key] = (this.state.clockBackwards[key] ?? 0) + 1;
      return;
    }
    s.lastTs = r.ts;
    // a failed read's flag says why it failed: it is a failed read, not a flagged value
    const bad = r.value === null ? undefined : disqualifying(r.quality.flags);
    let flags = r.value === null ? F.NULL : bad ? F.BAD : 0;
    for (const f of r.quality.flags) flags |= EVENT_FLAGS[f] ?? 0;
    // a value in another unit than the plan's register (Wh under a kWh register), with other register
    // meta, or beyond the register's range is not that register's count
    const { unit, meta: expected } = regs[r.metric]!;
    const meta = (r.meta as { register?: RegisterMeta } | undefined)?.register;
    const metaOdds = expected !== null && meta !== undefined && (meta.bits !== expected.bits || meta.scale !== expected.scale || meta.signed !== expected.signed || meta.type !== expected.type);
    if (r.unit !== unit || metaOdds || (expected !== null && r.value !== null && outsideRegister(r.value, expected))) {
      flags |= F.META_MISMATCH;
    }
    let p = this.pending.get(key);
    if (!p) this.pending.set(key, (p = { sensor: r.sensor, metric: r.metric, points: emptyPoints(256) }));
    pushPoint(p.points, r.ts, r.value ?? 0, r.seq, flags, bad, epoch);
    this.pointsPending++;
  }

  private tally(series: string, sensor: string, ts: number, epoch: number): void {
    // a later epoch's reading not after the series' last is a carried copy of one counted already
    // (or stamped back by a restore): counted once, as the plan's registers count their readings
    const last = (this.state.unplannedLastTs ??= {})[series] ?? -Infinity;
    if (ts <= last && epoch > 1) return;
    if (ts > last) this.state.unplannedLastTs[series] = ts;
    const day = Math.floor(ts / 86_400_000) * 86_400_000;
    const key = `${sensor}\u0000${day}`;
    const t = this.unplanned.get(key);
    if (!t) this.unplanned.set(key, { sensor, day, count: 1, minTs: ts, maxTs: ts });
    else {
      t.count++;
      if (ts < t.minTs) t.minTs = ts;
      if (ts > t.maxTs) t.maxTs = ts;
    }
  }

  /** Fold the pending points into their series' chunks and commit everything with the progress. */
  async flush(epoch: number, batch: number): Promise<void> {
    // before the pending points join their chunks: a carried reading's copy may be among them
    await this.carried.resolve((key) => [this.pending.get(key)?.points, this.openChunks.get(key)]);
    for (const [key, p] of this.pending) await this.appendToChunks(key, p.sensor, p.metric, p.points);
    this.pending.clear();
    this.pointsPending = 0;
    this.write.unplanned = [...this.unplanned.values()];
    this.unplanned.clear();
    await this.session.commit({ ...inEpoch(epoch), batch, state: this.state }, this.write);
    this.write = { chunks: [], plans: [], gaps: [], pruned: [], unplanned: [] };
  }

  private async appendToChunks(key: string, sensor: string, metric: string, fresh: SeriesPoints): Promise<void> {
    const s = this.state.series[key]!;
    let cur = this.openChunks.get(key);
    if (!cur) {
      const held = s.count > 0 && s.count < CHUNK_POINTS ? await this.session.chunkData(sensor, metric, s.chunk) : null;
      cur = held ? decodeChunk(held) : emptyPoints(Math.min(CHUNK_POINTS, fresh.n));
    }
    if (s.count >= CHUNK_POINTS) {
      // the chunk filled up in an earlier flush: start the next
      s.chunk++;
      cur = emptyPoints(Math.min(CHUNK_POINTS, fresh.n));
    }
    const emit = (pts: SeriesPoints, chunk: number) => {
      this.write.chunks.push({ sensor, metric, chunk, minTs: pts.ts[0]!, maxTs: pts.ts[pts.n - 1]!, count: pts.n, summary: summarize(pts), data: encodeChunk(pts) });
    };
    for (let i = 0; i < fresh.n; i++) {
      if (cur.n === CHUNK_POINTS) {
        emit(cur, s.chunk);
        s.chunk++;
        cur = emptyPoints(Math.min(CHUNK_POINTS, fresh.n - i));
      }
      pushPoint(cur, fresh.ts[i]!, fresh.value[i]!, fresh.seq[i]!, fresh.flags[i]!, fresh.flagNames.get(i), fresh.epoch[i]!);
    }
    if (cur.n > 0) emit(cur, s.chunk);
    s.count = cur.n;
    this.openChunks.set(key, cur);
  }
}

/** An entry's epoch as the stores keep it: absent for epoch 1, as in entries from before epochs. */
function inEpoch(epoch: number): { epoch?: number } {
  return epoch === 1 ? {} : { epoch };
}

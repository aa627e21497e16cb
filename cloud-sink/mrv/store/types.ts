// What the MRV report engine keeps beside the batches, in the same store: an index of the
// monitoring plans' register readings (so that a year of a meter is a few hundred compact chunks
// rather than millions of JSON lines), the plan, gap and pruned-batch records placed in time, and
// the operators' notes on meter events. Everything but the notes is derived from the stored
// batches and can be rebuilt from them.
import type { PlanRecord } from '../../../protocol/plan.ts';
import type { ChunkSummary } from '../index/chunk-codec.ts';
import type { OperatorNote } from '../notes.ts';

/** One chunk of a series (sensor, metric): consecutive readings, ts-ordered, encoded by chunk-codec.ts. */
export interface ChunkEntry {
  chunk: number;
  minTs: number;
  maxTs: number;
  count: number;
  summary: ChunkSummary;
}

export interface ChunkWrite extends ChunkEntry {
  sensor: string;
  metric: string;
  data: Buffer;
}

/**
 * Plans, gaps and pruned batches are placed by (epoch, seq) or (epoch, batch): the numbers start
 * again in each recovery epoch. `epoch` is absent (1) in entries written before epochs.
 */
export interface PlanEntry {
  epoch?: number;
  seq: number;
  record: PlanRecord;
}

export interface GapEntry {
  epoch?: number;
  seq: number;
  from: number;
  to: number;
  dropped: number;
  reason: string;
}

/** A batch the device dropped before sending: its signed count, and the time it must have covered. */
export interface PrunedEntry {
  epoch?: number;
  batch: number;
  first: number;
  last: number;
  count: number;
  created: number;
  /** the last reading time held before it, and the first after it (null until known) */
  afterTs: number | null;
  untilTs: number | null;
}

/** Energy readings of a sensor with no plan in force, tallied by UTC day. */
export interface UnplannedTally {
  sensor: string;
  day: number;
  count: number;
  minTs: number;
  maxTs: number;
}

/** How far the index has got for a device, and the indexer's state to carry on from there. */
export interface IndexProgress {
  /** the epoch whose chain the index is reading, and its last batch indexed (absent epoch: 1) */
  epoch?: number;
  batch: number;
  state: IndexerState;
}

/** The last batch indexed: the epochs are indexed one after another, each from its batch 1. */
export interface IndexedThrough {
  epoch: number;
  batch: number;
}

/**
 * Readings of a later epoch that a series already held from an earlier one, at the same instant:
 * a carried copy (same value, counted once, the earlier epoch's kept) or a conflict (another
 * value; the earlier epoch's kept too). One tally per series, later epoch and kept epoch.
 */
export interface CarriedTally {
  epoch: number;
  keptEpoch: number;
  duplicates: number;
  conflicts: number;
  minTs: number;
  maxTs: number;
}

export interface IndexerState {
  /** per series key (sensor \u0000 metric): the chunk being filled, how full it is, the last ts */
  series: Record<string, { chunk: number; count: number; lastTs: number }>;
  /** the latest reading time indexed, for placing pruned batches */
  lastReadingTs: number | null;
  /** pruned batches still waiting for the first reading after them */
  openPruned: PrunedEntry[];
  /** readings dropped from a series for a timestamp not after the one before (device clock stepped back) */
  clockBackwards: Record<string, number>;
  /** per series key, readings of later epochs at instants an earlier epoch holds (absent before epochs) */
  carried?: Record<string, CarriedTally[]>;
  /** per series key, readings of later epochs before the series' last reading at instants no epoch holds */
  outOfOrder?: Record<string, OutOfOrderTally[]>;
  /** per series key of an energy sensor without a plan, its last reading tallied: a later epoch's copy of a tallied reading is not tallied again */
  unplannedLastTs?: Record<string, number>;
}

/** Readings of a later epoch left out for a time not after their series' last: a clock set back after the restore. */
export interface OutOfOrderTally {
  epoch: number;
  count: number;
  minTs: number;
  maxTs: number;
}

/** The indexer's tallies of what later epochs brought that the series could not take, per series key. */
export interface EpochTallies {
  carried: Record<string, CarriedTally[]>;
  outOfOrder: Record<string, OutOfOrderTally[]>;
}

export interface IndexWrite {
  chunks: ChunkWrite[];
  plans: PlanEntry[];
  gaps: GapEntry[];
  /** inserted or replaced whole, by batch */
  pruned: PrunedEntry[];
  /** added to what is held for the same sensor and day */
  unplanned: UnplannedTally[];
}

/** One device's indexing, under a lock no other indexer of the device holds at the same time. */
export interface IndexSession {
  progress(): Promise<IndexProgress | null>;
  /** the data of one chunk of a series, to append to */
  chunkData(sensor: string, metric: string, chunk: number): Promise<Buffer | null>;
  /** the data of the committed chunk of a series whose time span holds ts, if any: a carried reading's earlier copy */
  chunkHolding(sensor: string, metric: string, ts: number): Promise<Buffer | null>;
  /** store the write and the new progress atomically */
  commit(progress: IndexProgress, write: IndexWrite): Promise<void>;
}

export interface MrvStore {
  /** run fn holding the device's index lock (in this process, and across processes for PostgreSQL) */
  indexSession<T>(device: string, fn: (s: IndexSession) => Promise<T>): Promise<T>;
  indexedThrough(device: string): Promise<IndexedThrough>;
  /** the chunks of a series, in time order (small entries, no data) */
  directory(device: string, sensor: string, metric: string): Promise<ChunkEntry[]>;
  chunks(device: string, sensor: string, metric: string, chunkNos: number[]): Promise<Map<number, Buffer>>;
  /** in journal order: by epoch, then seq */
  plans(device: string): Promise<PlanEntry[]>;
  gaps(device: string): Promise<GapEntry[]>;
  pruned(device: string): Promise<PrunedEntry[]>;
  /** the indexer's tallies of carried and out-of-order readings of later epochs */
  epochTallies(device: string): Promise<EpochTallies>;
  unplanned(device: string, fromTs: number, toTs: number): Promise<UnplannedTally[]>;
  /** false when a note with the same id is held already */
  addNote(note: OperatorNote): Promise<boolean>;
  notes(device: string): Promise<OperatorNote[]>;
}

export function seriesKey(sensor: string, metric: string): string {
  return `${sensor}\u0000${metric}`;
}

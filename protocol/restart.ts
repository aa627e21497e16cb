// The restart record: the first record of a recovery epoch (docs/spec/records.md#a-restart). A
// device that lost its journal, or found it behind the chain the sink holds, starts its numbers
// afresh in a new epoch; this record, signed like any other, says why and names the last batch of
// the earlier chain that the device could prove, so that the two chains join at one known point.
import { isHex } from './hash.ts';

/** What of its batch's header a restart record's place depends on (batch.ts BatchHeader has it). */
export interface RestartPlace {
  batch: number;
  first: number;
  prev: string;
  epoch?: number;
}

/** Why a device started a new epoch. */
export const RESTART_REASONS = ['journal_lost', 'journal_behind_sink', 'operator'] as const;
export type RestartReason = (typeof RESTART_REASONS)[number];

/** The last batch of the earlier chain that the new epoch continues from. */
export interface ProvableBatch {
  epoch: number;
  batch: number;
  hash: string;
}

export interface RestartRecord {
  v: 1;
  kind: 'restart';
  device: string;
  /** always 1: the restart record opens its epoch */
  seq: number;
  epoch: number;
  reason: RestartReason;
  from: ProvableBatch;
  /** how many records of the earlier journal, never acknowledged by a sink, this epoch carries again */
  rejournaled: number;
  ts: number;
}

export function restartRecord(device: string, epoch: number, reason: RestartReason, from: ProvableBatch, rejournaled: number, ts: number): RestartRecord {
  return { device, epoch, from: { batch: from.batch, epoch: from.epoch, hash: from.hash }, kind: 'restart', reason, rejournaled, seq: 1, ts, v: 1 } as RestartRecord;
}

/** The fields of a restart record beyond those of every record (recordProblem calls it). */
export function restartFieldsProblem(r: Record<string, unknown>): string | null {
  if (!Number.isSafeInteger(r.epoch) || (r.epoch as number) < 2) return 'restart.epoch must be an integer >= 2';
  if (r.seq !== 1) return 'restart.seq must be 1: a restart record opens its epoch';
  if (typeof r.reason !== 'string' || !(RESTART_REASONS as readonly string[]).includes(r.reason)) return `restart.reason must be one of ${RESTART_REASONS.join(', ')}`;
  if (!Number.isSafeInteger(r.ts)) return 'restart.ts must be integer milliseconds';
  if (!Number.isSafeInteger(r.rejournaled) || (r.rejournaled as number) < 0) return 'restart.rejournaled must be a non-negative integer';
  const f = r.from as Record<string, unknown> | null;
  if (typeof f !== 'object' || f === null || Array.isArray(f)) return 'restart.from must be an object';
  if (Object.keys(f).some((k) => k !== 'epoch' && k !== 'batch' && k !== 'hash')) return 'restart.from has an unknown field';
  if (!Number.isSafeInteger(f.epoch) || (f.epoch as number) < 1 || (f.epoch as number) >= (r.epoch as number)) return 'restart.from.epoch must be an earlier epoch';
  if (!Number.isSafeInteger(f.batch) || (f.batch as number) < 1) return 'restart.from.batch must be a positive integer';
  if (!isHex(f.hash, 32)) return 'restart.from.hash must be 64 lowercase hex digits';
  return null;
}

/**
 * Where a restart record must sit: seq 1 of batch 1 of its own epoch, whose `prev` is the hash
 * of the batch the record names. Anything else would let a restart claim a join it did not sign.
 */
export function restartPlacementProblem(record: RestartRecord, header: RestartPlace): string | null {
  const epoch = header.epoch ?? 1;
  if (record.epoch !== epoch) return `the restart record opens epoch ${record.epoch} but its batch is of epoch ${epoch}`;
  if (header.batch !== 1 || header.first !== 1) return 'a restart record must be the first record of batch 1 of its epoch';
  if (header.prev !== record.from.hash) return "the restart record names a batch other than the one its batch's prev chains to";
  return null;
}

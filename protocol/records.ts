// The record kinds of the journal: readings, gaps and monitoring plans (plan.ts). Field names and
// meaning are fixed by docs/spec/records.md; records may carry more fields (driver metadata under
// `meta`), all covered by the hash.
import type { JsonValue } from './canonical.ts';
import type { PlanRecord } from './plan.ts';
import { isHex } from './hash.ts';
import { restartFieldsProblem, type RestartRecord } from './restart.ts';
import { isValidName } from './names.ts';

export { isValidName };

export interface Quality {
  score: number;
  flags: string[];
}

export interface ReadingRecord {
  v: 1;
  kind: 'reading';
  device: string;
  seq: number;
  sensor: string;
  metric: string;
  ts: number;
  value: number | null;
  unit: string;
  quality: Quality;
  /** what the source said in words, when it said more than a number (a leak sensor's LEAK); see docs/spec/records.md */
  state?: string;
  meta?: { [key: string]: JsonValue };
}

export interface GapRecord {
  v: 1;
  kind: 'gap';
  device: string;
  seq: number;
  dropped: number;
  from: number;
  to: number;
  reason: string;
  /**
   * The batches the device dropped at its disk bound that this record announces, each with its
   * header hash: what lets a sink hold such a batch as pruned (docs/spec/batches.md).
   */
  batches?: PrunedBatchRef[];
}

/** One batch named by a gap record: its number and its header hash. */
export interface PrunedBatchRef {
  batch: number;
  hash: string;
}

/** Most batches one gap record may name: a bound for whoever reads one. */
export const MAX_GAP_BATCHES = 4096;

export type JournalRecord = ReadingRecord | GapRecord | PlanRecord | RestartRecord;

/** What a driver, the gateway or the simulator hands to the pipeline; the journal adds the rest. */
export interface ReadingInput {
  sensor: string;
  metric: string;
  ts: number;
  value: number | null;
  unit: string;
  quality?: Quality;
  /** text the source gave for this reading, beside or instead of a number */
  state?: string;
  meta?: { [key: string]: JsonValue };
}

/** Build a reading record with its keys in canonical (sorted) order, so JCS need not sort them. */
export function readingRecord(device: string, seq: number, r: ReadingInput, quality: Quality): ReadingRecord {
  const q = { flags: quality.flags, score: quality.score };
  if (r.state !== undefined) {
    const rec: Record<string, unknown> = { device, kind: 'reading' };
    if (r.meta !== undefined) rec.meta = r.meta;
    Object.assign(rec, { metric: r.metric, quality: q, sensor: r.sensor, seq, state: r.state, ts: r.ts, unit: r.unit, v: 1, value: r.value });
    return rec as unknown as ReadingRecord;
  }
  if (r.meta === undefined) {
    return { device, kind: 'reading', metric: r.metric, quality: q, sensor: r.sensor, seq, ts: r.ts, unit: r.unit, v: 1, value: r.value } as ReadingRecord;
  }
  return { device, kind: 'reading', meta: r.meta, metric: r.metric, quality: q, sensor: r.sensor, seq, ts: r.ts, unit: r.unit, v: 1, value: r.value } as ReadingRecord;
}

export function gapRecord(device: string, seq: number, dropped: number, from: number, to: number, reason: string, batches?: readonly PrunedBatchRef[]): GapRecord {
  if (batches && batches.length > 0) {
    const refs = batches.map((b) => ({ batch: b.batch, hash: b.hash }));
    return { batches: refs, device, dropped, from, kind: 'gap', reason, seq, to, v: 1 } as GapRecord;
  }
  return { device, dropped, from, kind: 'gap', reason, seq, to, v: 1 } as GapRecord;
}

/** What is wrong with a gap record's `batches`, or null (absent is fine). */
function gapBatchesProblem(batches: unknown): string | null {
  if (batches === undefined) return null;
  if (!Array.isArray(batches) || batches.length === 0 || batches.length > MAX_GAP_BATCHES) return `gap.batches must be a list of 1 to ${MAX_GAP_BATCHES} batches`;
  for (const b of batches) {
    if (typeof b !== 'object' || b === null || Array.isArray(b)) return 'gap.batches holds {"batch","hash"} objects';
    const x = b as Record<string, unknown>;
    if (Object.keys(x).length !== 2 || !Number.isSafeInteger(x.batch) || (x.batch as number) < 1 || !isHex(x.hash, 32)) {
      return 'each of gap.batches is exactly {"batch": integer >= 1, "hash": 64 lowercase hex}';
    }
  }
  return null;
}

/**
 * Most bytes of a record's canonical form. A proof of it adds a header, two paths of at most 64
 * hashes and an anchor, a few kilobytes, and must stay within the 1 MiB a verifier reads
 * (proof-input.ts); a gap record naming MAX_GAP_BATCHES batches is under 400 KiB.
 */
export const MAX_RECORD_BYTES = 512 * 1024;

/** Why a record's canonical bytes are too many for a proof of it to be read, or null. */
export function recordSizeProblem(canonical: string): string | null {
  // A UTF-16 unit is at most 3 UTF-8 bytes: most records are decided without counting.
  if (canonical.length * 3 <= MAX_RECORD_BYTES) return null;
  const bytes = Buffer.byteLength(canonical);
  return bytes > MAX_RECORD_BYTES ? `the record is ${bytes} bytes, more than the ${MAX_RECORD_BYTES} a proof of it may carry` : null;
}

/** Longest `state` text of a reading, in UTF-16 code units. */
export const MAX_STATE_CHARS = 256;


/** Device, sensor and metric identifiers: short, printable, safe in keys, topics and URLs. */

/** Structural check of a record received from elsewhere (the sink, the verifier). Returns a reason or null. */
export function recordProblem(rec: unknown): string | null {
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return 'record is not an object';
  const r = rec as Record<string, unknown>;
  if (r.v !== 1) return 'record.v must be 1';
  if (!isValidName(r.device)) return 'record.device is not a valid name';
  if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 1) return 'record.seq must be a positive integer';
  if (r.kind === 'reading') {
    if (typeof r.sensor !== 'string' || typeof r.metric !== 'string' || typeof r.unit !== 'string') return 'reading needs sensor, metric and unit strings';
    if (!Number.isSafeInteger(r.ts)) return 'reading.ts must be integer milliseconds';
    if (r.value !== null && (typeof r.value !== 'number' || !Number.isFinite(r.value))) return 'reading.value must be a finite number or null';
    if (r.state !== undefined && (typeof r.state !== 'string' || r.state.length > MAX_STATE_CHARS)) return `reading.state must be a string of at most ${MAX_STATE_CHARS} characters`;
    const q = r.quality as Record<string, unknown> | undefined;
    if (typeof q !== 'object' || q === null || typeof q.score !== 'number' || !Array.isArray(q.flags)) return 'reading.quality must have score and flags';
    return null;
  }
  if (r.kind === 'gap') {
    if (!Number.isSafeInteger(r.dropped) || (r.dropped as number) < 0) return 'gap.dropped must be a non-negative integer';
    if (!Number.isSafeInteger(r.from) || !Number.isSafeInteger(r.to)) return 'gap.from and gap.to must be integer milliseconds';
    if (typeof r.reason !== 'string') return 'gap.reason must be a string';
    return gapBatchesProblem(r.batches);
  }
  if (r.kind === 'plan') {
    // Only what places the plan; whether it can be used for crediting is the report's question
    // (plan.ts planProblem), never a reason to refuse a signed batch.
    if (!isValidName(r.sensor)) return 'plan.sensor is not a valid name';
    if (!Number.isSafeInteger(r.ts)) return 'plan.ts must be integer milliseconds';
    return null;
  }
  if (r.kind === 'restart') return restartFieldsProblem(r);
  return `unknown record kind ${JSON.stringify(r.kind)}`;
}

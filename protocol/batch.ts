// Batch headers: a signed Merkle root over consecutive records, chained to the previous header.
import { CanonicalizationError, canonicalize } from './canonical.ts';
import { isHex, sha256, ZERO_HASH } from './hash.ts';
import { leafHash, rootFromLeafHashes } from './merkle.ts';
import { isValidName, recordProblem, type JournalRecord } from './records.ts';
import { signBytes, verifyBytes, type DeviceKey } from './signature.ts';

export interface BatchHeader {
  v: 1;
  device: string;
  batch: number;
  first: number;
  last: number;
  count: number;
  root: string;
  prev: string;
  created: number;
  /** the device clock's sync state as its OS reported it when the batch was sealed (optional) */
  clock?: ClockState;
  key: string;
  sig: string;
  /** the device's recovery epoch, 2 or more; absent means 1 (docs/spec/batches.md#epochs) */
  epoch?: number;
}

/** What the device's OS said of its clock: synchronised or not, by which daemon, and its offset where known. */
export interface ClockState {
  synced: boolean;
  source: ClockSource;
  /** the clock's offset from the daemon's reference, ms (positive: the device clock is ahead) */
  offsetMs?: number;
}

export type ClockSource = 'chrony' | 'timesyncd' | 'unknown';
const CLOCK_SOURCES: readonly string[] = ['chrony', 'timesyncd', 'unknown'];

export type UnsignedHeader = Omit<BatchHeader, 'sig'>;

export interface Batch {
  header: BatchHeader;
  records: JournalRecord[];
}

export function signHeader(fields: Omit<UnsignedHeader, 'v' | 'key'>, key: DeviceKey): BatchHeader {
  const unsigned: UnsignedHeader = { v: 1, ...fields, key: key.public };
  if (unsigned.epoch === undefined || unsigned.epoch === 1) delete unsigned.epoch;
  const sig = signBytes(key, Buffer.from(canonicalize(unsigned), 'utf8'));
  return { ...unsigned, sig };
}

/** Records (consecutive seqs of one device) and the signed header over them. */
export function signBatch(device: string, key: DeviceKey, batch: number, records: JournalRecord[], prev: string, created: number, epoch = 1): Batch {
  const leaves = records.map((r) => leafHash(canonicalize(r)));
  const header = signHeader({
    device, batch, first: records[0]!.seq, last: records[records.length - 1]!.seq, count: records.length,
    root: rootFromLeafHashes(leaves).toString('hex'), prev, created, epoch,
  }, key);
  return { header, records };
}

/** The recovery epoch a header belongs to: its `epoch` field, 1 when absent. */
export function epochOf(header: Pick<BatchHeader, 'epoch'>): number {
  return header.epoch ?? 1;
}

/** SHA-256 of the header's canonical bytes, signature included: what the next header's `prev` holds. */
export function headerHash(header: BatchHeader): string {
  return sha256(canonicalize(header)).toString('hex');
}

export function headerProblem(h: unknown): string | null {
  if (typeof h !== 'object' || h === null || Array.isArray(h)) return 'header is not an object';
  const x = h as Record<string, unknown>;
  if (x.v !== 1) return 'header.v must be 1';
  if (!isValidName(x.device)) return 'header.device is not a valid name';
  for (const f of ['batch', 'first', 'last', 'count', 'created'] as const) {
    if (!Number.isSafeInteger(x[f]) || (x[f] as number) < (f === 'created' ? 0 : 1)) return `header.${f} must be a positive integer`;
  }
  if ((x.last as number) - (x.first as number) + 1 !== x.count) return 'header.count does not match first..last';
  if (!isHex(x.root, 32)) return 'header.root must be 64 lowercase hex digits';
  if (!isHex(x.prev, 32)) return 'header.prev must be 64 lowercase hex digits';
  if (!isHex(x.key, 32)) return 'header.key must be 64 lowercase hex digits';
  if (!isHex(x.sig, 64)) return 'header.sig must be 128 lowercase hex digits';
  if (x.clock !== undefined) {
    const cp = clockProblem(x.clock);
    if (cp) return cp;
  }
  // Epoch 1 is written by leaving the field out, so that a header has one form only.
  if (x.epoch !== undefined && (!Number.isSafeInteger(x.epoch) || (x.epoch as number) < 2)) return 'header.epoch must be an integer >= 2 (absent means 1)';
  const known = new Set(['v', 'device', 'batch', 'first', 'last', 'count', 'root', 'prev', 'created', 'clock', 'key', 'sig', 'epoch']);
  for (const k of Object.keys(x)) if (!known.has(k)) return `header has an unknown field ${k}`;
  return null;
}

/** `clock` exactly as docs/spec/batches.md has it: {"synced", "source", "offsetMs"?}, nothing else. */
function clockProblem(c: unknown): string | null {
  const shape = 'header.clock must be {"synced": boolean, "source": "chrony"|"timesyncd"|"unknown", "offsetMs"?: number}';
  if (typeof c !== 'object' || c === null || Array.isArray(c)) return shape;
  const x = c as Record<string, unknown>;
  for (const k of Object.keys(x)) if (k !== 'synced' && k !== 'source' && k !== 'offsetMs') return `header.clock has an unknown field ${k}`;
  if (typeof x.synced !== 'boolean' || typeof x.source !== 'string' || !CLOCK_SOURCES.includes(x.source)) return shape;
  if (x.offsetMs !== undefined && (typeof x.offsetMs !== 'number' || !Number.isFinite(x.offsetMs))) return 'header.clock.offsetMs must be a finite number';
  return null;
}

export function verifyHeaderSignature(header: BatchHeader): boolean {
  const { sig, ...unsigned } = header;
  return verifyBytes(header.key, Buffer.from(canonicalize(unsigned), 'utf8'), sig);
}

/**
 * The leaf hash of a record received from elsewhere, or why it has none: a value JSON cannot
 * carry (1e999 parses to Infinity), which no device signed; refused as the record's fault, not
 * thrown as the checker's.
 */
export function recordLeaf(rec: unknown): Buffer | string {
  try {
    return leafHash(canonicalize(rec));
  } catch (err) {
    if (err instanceof CanonicalizationError) return `the record has no canonical encoding: ${err.message}`;
    throw err;
  }
}

export type BatchCheck = { ok: true; leaves: Buffer[] } | { ok: false; reason: string };

/**
 * Everything the sink checks about one batch except the registry and the chain position:
 * shape, signature, records exactly first..last of this device, and the recomputed root.
 */
export function checkBatch(header: unknown, records: unknown): BatchCheck {
  const hp = headerProblem(header);
  if (hp) return { ok: false, reason: hp };
  const h = header as BatchHeader;
  if (!verifyHeaderSignature(h)) return { ok: false, reason: 'signature does not verify' };
  return checkRecords(h, records);
}

/** The records of a header already checked and verified: exactly first..last of its device, hashing to its root. */
export function checkRecords(h: BatchHeader, records: unknown): BatchCheck {
  if (!Array.isArray(records)) return { ok: false, reason: 'records must be an array' };
  if (records.length !== h.count) return { ok: false, reason: `expected ${h.count} records, got ${records.length}` };
  const leaves: Buffer[] = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const rec = records[i] as JournalRecord;
    const rp = recordProblem(rec);
    if (rp) return { ok: false, reason: `record ${i}: ${rp}` };
    if (rec.device !== h.device) return { ok: false, reason: `record ${i} belongs to device ${rec.device}` };
    if (rec.seq !== h.first + i) return { ok: false, reason: `record ${i} has seq ${rec.seq}, expected ${h.first + i}` };
    const leaf = recordLeaf(rec);
    if (typeof leaf === 'string') return { ok: false, reason: `record ${i}: ${leaf}` };
    leaves[i] = leaf;
  }
  if (rootFromLeafHashes(leaves).toString('hex') !== h.root) return { ok: false, reason: 'root does not match the records' };
  return { ok: true, leaves };
}

/** The `prev` a batch must carry, given the header before it (or none for batch 1). */
export function expectedPrev(previous: BatchHeader | null): string {
  return previous ? headerHash(previous) : ZERO_HASH;
}

/**
 * Verify a whole chain of headers of one device and epoch, in order, starting at batch 1 or after
 * `before`. Batch 1 of epoch 1 chains to 64 zeros; batch 1 of a later epoch to the last batch its
 * restart record names (`startHash`).
 */
export function chainProblem(headers: readonly BatchHeader[], before: BatchHeader | null = null, startHash = ZERO_HASH): string | null {
  let prev = before;
  for (const h of headers) {
    const expectedNumber = prev ? prev.batch + 1 : 1;
    if (h.batch !== expectedNumber) return `batch ${h.batch} follows batch ${prev?.batch ?? 0}`;
    if (prev && epochOf(h) !== epochOf(prev)) return `batch ${h.batch} is of epoch ${epochOf(h)}, batch ${prev.batch} of epoch ${epochOf(prev)}`;
    if (prev && h.first !== prev.last + 1) return `batch ${h.batch} starts at seq ${h.first}, expected ${prev.last + 1}`;
    if (h.prev !== (prev ? headerHash(prev) : startHash)) return `batch ${h.batch} does not chain to batch ${prev?.batch ?? 0}`;
    if (!verifyHeaderSignature(h)) return `batch ${h.batch} signature does not verify`;
    prev = h;
  }
  return null;
}

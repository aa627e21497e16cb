import type { PrunedBatchRef } from '../../protocol/records.ts';

// Key layout of the journal's LevelDB. Keys sort as strings, so numbers are fixed-width hex.
//
//   meta           {"format":1,"device":...,"key":...,"created":...}  identity, written once
//   state          JournalState (below), rewritten by every write; it carries the publishers' holds
//   c!<first>      a chunk: the canonical JSON of consecutive records, one per line
//   i!<first>      the chunk's index entry: last seq, min and max ts, byte size
//   b!<batch>      a sealed batch header, canonical JSON
//   p!<batch>      present when the batch's records were dropped under the disk bound:
//                  {"cover": seq of the gap record naming it, 0 until written} ("1" before covers)
//   r!<batch>      the sink's receipt for a held batch (kept until the header goes)
//   receipt        the receipt of the last acknowledged batch: the sink's signed word for the
//                  whole chain through it
//
// One group commit writes its chunk(s), any headers it sealed and the new state in one atomic,
// synced LevelDB batch: after a crash the journal is exactly as of some completed commit.
// Chunks never straddle a batch boundary, so deleting a batch's data deletes whole chunks.

export const FORMAT = 1;
export const META_KEY = 'meta';
export const STATE_KEY = 'state';

const hex16 = (n: number) => n.toString(16).padStart(16, '0');

export const chunkKey = (first: number) => `c!${hex16(first)}`;
export const indexKey = (first: number) => `i!${hex16(first)}`;
export const headerKey = (batch: number) => `b!${hex16(batch)}`;
export const prunedKey = (batch: number) => `p!${hex16(batch)}`;
export const receiptKey = (batch: number) => `r!${hex16(batch)}`;
export const LAST_RECEIPT_KEY = 'receipt';
export const parseNumberKey = (key: string) => parseInt(key.slice(2), 16);

export const RANGE = {
  chunk: { gte: 'c!', lt: 'c"' },
  index: { gte: 'i!', lt: 'i"' },
  header: { gte: 'b!', lt: 'b"' },
  pruned: { gte: 'p!', lt: 'p"' },
  receipt: { gte: 'r!', lt: 'r"' },
};

/** One operation of the atomic LevelDB write a commit or an acknowledgement builds. */
export interface WriteOp {
  type: 'put' | 'del';
  key: string;
  value?: string;
}

export interface JournalMeta {
  format: number;
  device: string;
  key: string;
  created: number;
}

export interface PendingGap {
  dropped: number;
  from: number;
  to: number;
  reason: string;
  /** pruned batches the gap record will name (replaced, never changed in place: states are copied shallowly) */
  batches?: PrunedBatchRef[];
}

export interface JournalState {
  /** the recovery epoch the journal's chain belongs to (epoch.ts); absent means 1 */
  epoch?: number;
  lastSeq: number;
  /** last seq inside a sealed batch; records after it are the unsealed tail */
  sealedSeq: number;
  lastBatch: number;
  /** SHA-256 of the last sealed header: the next header's `prev` */
  lastHeaderHash: string;
  ackedBatch: number;
  ackedSeq: number;
  /** SHA-256 of the last acknowledged header, which is deleted: batch ackedBatch+1's `prev` */
  ackedHeaderHash: string;
  /** logical bytes held: chunks plus headers */
  bytes: number;
  /** when the first record of the unsealed tail was committed (device clock) */
  tailOpenedAt: number | null;
  /** readings dropped but not yet recorded by a gap record */
  pendingGap: PendingGap | null;
  /** last durable value of each stream a source asked to be remembered, by `sensor/metric` */
  lastValues?: Record<string, LastValue>;
  /** the publishers' holds on acknowledged records, by publisher (holds.ts) */
  holds?: Record<string, HoldState>;
}

export interface HoldState {
  /** the publisher's broker has every record through this seq (its saved cursor) */
  through: number;
  /** records the disk bound dropped before the publisher had them, since the hold was made */
  lost: number;
}

export interface LastValue {
  value: number;
  ts: number;
}

export interface ChunkIndex {
  first: number;
  last: number;
  minTs: number;
  maxTs: number;
  bytes: number;
}

export function encodeIndex(c: ChunkIndex): string {
  return `${c.last},${c.minTs},${c.maxTs},${c.bytes}`;
}

export function decodeIndex(first: number, value: string): ChunkIndex {
  const [last, minTs, maxTs, bytes] = value.split(',').map(Number) as [number, number, number, number];
  return { first, last, minTs, maxTs, bytes };
}

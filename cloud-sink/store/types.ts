// What the sink keeps, behind one interface with two implementations: LevelDB (embedded, one
// process) and PostgreSQL (several sink processes over one database). Both keep a batch as one
// row: its signed header, its records' canonical lines, and where it sits in an anchor tree.
import type { BatchHeader } from '../../protocol/batch.ts';
import type { PruneCover } from '../../protocol/prune-cover.ts';
import type { ProvableBatch } from '../../protocol/restart.ts';
import type { MrvStore } from '../mrv/store/types.ts';
import type { ReadingRow, ReadingsIndex } from '../readings/types.ts';

export interface BatchToStore {
  header: BatchHeader;
  /** SHA-256 of the header's canonical bytes: the next batch's `prev`, an anchor tree's leaf */
  hash: string;
  /** the records' canonical (RFC 8785) JSON lines joined by newlines, in seq order; '' when pruned */
  text: string;
  /** the device dropped the records before sending (disk bound); only the header is kept */
  pruned: boolean;
  /** for a pruned batch, the device's signed gap record naming it, as checked on arrival */
  cover?: PruneCover;
  /** what the sink saw wrong with the device's clock on arrival (accepted all the same) */
  timeFlags?: TimeFlag[];
  /** earliest and latest reading timestamp in the batch, for reports; null without readings */
  minTs: number | null;
  maxTs: number | null;
  receivedAt: number;
  /**
   * the batch's readings as decoded on arrival (cloud-sink/readings/arrival.ts), those the readings
   * index holds; absent, the store reads them from `text`
   */
  readings?: ReadingRow[];
}

/**
 * What the sink saw of a batch's time: created in the future by the sink's clock (beyond its
 * tolerance), created earlier than the batch before it in the device's chain, or sealed while the
 * device's clock was not synchronised (its header's `clock.synced` false).
 */
export type TimeFlag = 'future' | 'backwards' | 'unsynced';
export const TIME_FLAGS: readonly TimeFlag[] = ['future', 'backwards', 'unsynced'];

/** Per device, how many of its stored batches carry each time flag. */
export type TimeFlagCounts = Record<TimeFlag, number>;

export type CommitOutcome =
  | { status: 'stored' }
  | { status: 'duplicate' }
  /** a different batch under a number already held: the device equivocates */
  | { status: 'equivocation'; storedHash: string }
  /** not the next batch of the chain the sink holds */
  | { status: 'out_of_order'; have: number; reason: string }
  /** a batch of an epoch other than the device's current one, not held: a closed or not yet accepted chain */
  | { status: 'other_epoch'; epoch: number };

export interface Head {
  /** the device's current epoch: the one whose chain the sink extends (1 until a restart is accepted) */
  epoch: number;
  /** the last batch held for the device, 0 before any */
  batch: number;
  /** its header hash (64 zeros before any): what the next batch's `prev` must be */
  hash: string;
  /** its last seq */
  last: number;
}

export interface StoredBatchRow {
  header: BatchHeader;
  hash: string;
  pruned: boolean;
  /** a pruned batch's cover (absent for batches stored as pruned before covers existed) */
  cover?: PruneCover;
  timeFlags?: TimeFlag[];
  minTs: number | null;
  maxTs: number | null;
  receivedAt: number;
  anchorId: number | null;
  anchorIndex: number | null;
}

export type AnchorState = 'pending' | 'submitted' | 'committed';

export interface AnchorRow {
  id: number;
  /** RFC 6962 root over the covered header hashes, in anchor-index order */
  root: string;
  size: number;
  /** earliest and latest `created` of the covered headers */
  firstTs: number;
  lastTs: number;
  createdAt: number;
  state: AnchorState;
  chain: string | null;
  module: string | null;
  sender: string | null;
  tx: string | null;
  version: number | null;
  /** submission details kept across restarts: the signed transaction, its expiry, last error */
  detail: AnchorDetail;
}

export interface AnchorDetail {
  /** the BCS raw transaction and its authenticator, hex: resubmitted as they are after a restart */
  transactionHex?: string;
  authenticatorHex?: string;
  expiresAtSecs?: number;
  sequenceNumber?: string;
  attempts?: number;
  lastError?: string;
  committedAt?: number;
}

export interface RegisteredDevice {
  id: string;
  key: string;
  addedAt: number;
  /** keys the device had before, each valid for batches created before `until` (a rotation's validFrom) */
  previous?: { key: string; until: number }[];
  /** keys revoked through the sink: no new batch of them is accepted */
  revoked?: { key: string; fromMs: number; at: number }[];
  /** when the key last changed through the sink (it then wins over the config's key) */
  changedAt?: number;
}

export interface EquivocationReport {
  device: string;
  /** the epoch of the batch offered (1 for reports stored before epochs existed) */
  epoch: number;
  batch: number;
  storedHash: string;
  offeredHash: string;
  offeredHeader: BatchHeader;
  reportedAt: number;
}

/** A new epoch a device asked for (its restart record, checked), and whether an admin accepted it. */
export interface RestartRow {
  device: string;
  epoch: number;
  reason: string;
  /** the last batch of the earlier chain, as the restart record names it (held by the sink) */
  from: ProvableBatch;
  /** the restart record's own time, by the device's clock */
  ts: number;
  /** how many records of the earlier journal the device carried into the new epoch */
  rejournaled: number;
  /** batch 1 of the new epoch, whose first record is the restart record */
  header: BatchHeader;
  seenAt: number;
  acceptedAt: number | null;
}

export type AcceptRestartOutcome =
  | { status: 'accepted'; head: Head }
  | { status: 'not_pending'; reason: string };

export interface SinkStore {
  readonly kind: 'level' | 'postgres';
  open(): Promise<void>;
  close(): Promise<void>;

  /**
   * Store the batch if it is the next of its device's chain, atomically with the chain check:
   * however many requests or sink processes race, a batch number is stored once.
   */
  commitBatch(batch: BatchToStore): Promise<CommitOutcome>;
  /** the head of the device's current epoch (batch 0 and the joined hash right after a restart is accepted) */
  head(device: string): Promise<Head>;
  /** batch numbers and seqs count within an epoch; `epoch` defaults to 1 */
  batch(device: string, batch: number, epoch?: number): Promise<StoredBatchRow | null>;
  /** the header hash stored under this batch number of the epoch, null when none: the duplicate check, one lookup */
  heldBatch(device: string, batch: number, epoch?: number): Promise<{ hash: string; pruned: boolean } | null>;
  /** the batch whose first..last holds seq */
  batchForSeq(device: string, seq: number, epoch?: number): Promise<StoredBatchRow | null>;
  /** canonical lines of a stored batch (empty when pruned) */
  records(device: string, batch: number, epoch?: number): Promise<string[]>;
  /** batches of one epoch in order, with their records, from batch `from` on */
  batches(device: string, from?: number, epoch?: number): AsyncIterable<{ row: StoredBatchRow; lines: string[] }>;
  /** the epochs of the device that hold batches, ascending */
  epochs(device: string): Promise<number[]>;
  /** batches of every epoch whose readings' time span meets [fromTs, toTs), by epoch then batch number */
  batchesOverlapping(device: string, fromTs: number, toTs: number): Promise<StoredBatchRow[]>;
  /** every device that has stored batches */
  devices(): Promise<string[]>;
  /** per device with any flagged batch, how many of its batches carry each time flag */
  timeFlagCounts(): Promise<Map<string, TimeFlagCounts>>;

  addDevice(device: RegisteredDevice): Promise<'added' | 'exists' | 'conflict'>;
  /** write a device's entry whole (a rotation or revocation through the sink) */
  putDevice(device: RegisteredDevice): Promise<void>;
  registeredDevices(): Promise<RegisteredDevice[]>;
  /** one device's registration (another sink process over the same store may have made it) */
  registeredDevice(id: string): Promise<RegisteredDevice | null>;

  /**
   * keep the report unless one for the same pair (device, epoch, batch, offered hash) is kept
   * ('known') or the chain (device, epoch) has `maxPerChain` reports kept already ('full')
   */
  reportEquivocation(report: EquivocationReport, maxPerChain: number): Promise<'new' | 'known' | 'full'>;
  equivocations(): Promise<EquivocationReport[]>;

  /**
   * note a device's request for a new epoch, once; a pending one of the same epoch is replaced by
   * another batch (level-restarts.ts supersedes). False when nothing changed.
   */
  noteRestart(restart: RestartRow): Promise<boolean>;
  /** restarts noted, pending and accepted, by device and epoch */
  restarts(device?: string): Promise<RestartRow[]>;
  /**
   * Make the pending restart the device's current epoch, atomically with the chain commits: from
   * now the sink extends the new chain from the batch the restart names, and the old one is closed.
   */
  acceptRestart(device: string, epoch: number, now: number): Promise<AcceptRestartOutcome>;

  /**
   * Run `fn` while holding the anchoring lock, or return null at once when another process holds
   * it: one anchor per interval however many sink processes share the store.
   */
  withAnchorLock<T>(fn: () => Promise<T>): Promise<T | null>;
  /**
   * Run `fn` once no other process sharing the store runs one: the operator's chain account sends
   * one transaction at a time (anchors and device key registrations from any process).
   */
  withChainAccountLock<T>(fn: () => Promise<T>): Promise<T>;
  /** the anchor that is not committed yet, if any (there is at most one) */
  openAnchor(): Promise<AnchorRow | null>;
  latestAnchor(): Promise<AnchorRow | null>;
  /**
   * Assign the unanchored batches (in acceptance order, among the first `max`) that `admit`
   * accepts (all of them without it) to a new pending anchor whose root `build` computes from
   * their header hashes; the others stay unanchored. Null when there is nothing to anchor.
   */
  createAnchor(max: number, now: number, build: (hashes: string[]) => string, admit?: (header: BatchHeader) => boolean): Promise<AnchorRow | null>;
  /** the devices of the first `max` unanchored batches: what the next anchor may cover */
  unanchoredDevices(max: number): Promise<string[]>;
  updateAnchor(id: number, patch: Partial<Pick<AnchorRow, 'state' | 'chain' | 'module' | 'sender' | 'tx' | 'version' | 'detail'>>): Promise<void>;
  anchor(id: number): Promise<AnchorRow | null>;
  anchors(limit: number): Promise<AnchorRow[]>;
  /** the header hashes of an anchor's tree, in index order */
  anchorLeaves(id: number): Promise<string[]>;
  unanchoredCount(): Promise<number>;

  /** the MRV report engine's index and the operators' notes, kept in the same store (cloud-sink/mrv/) */
  mrvStore(): MrvStore;
  /** the readings as time series (cloud-sink/readings/), kept with each accepted batch; null when the config turns it off */
  readings(): ReadingsIndex | null;
  /** whether the store keeps the readings index: without it, a batch's decoded readings are not handed over */
  readonly indexesReadings: boolean;
}

/** Batch numbers and seqs as fixed-width decimal, so that LevelDB's byte order is numeric order. */
export function pad(n: number, width = 16): string {
  return String(n).padStart(width, '0');
}

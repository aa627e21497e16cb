// How the device learns that its journal is not the chain the sink holds, and what it does then
// (docs/spec/wire.md#recovery-epochs). The sink's head answer carries the head batch's header,
// signed by this device's own key: a sink cannot make one up. When that head is beyond everything
// the journal ever sealed, or names a batch the journal holds differently, the journal was lost or
// restored from an older copy. The device then finds the last of its batches the sink holds as
// they are (asking for held batches by number, a binary search: the chain makes "held as is" hold
// for a prefix), and starts a new epoch joined to the sink's head, carrying everything after that
// batch over. Nothing is sent that would conflict with what the sink holds.
import type { Logger } from 'pino';
import { epochOf, headerHash, headerProblem, verifyHeaderSignature, type BatchHeader } from '../../protocol/batch.ts';
import { leafHash, rootFromLeafHashes } from '../../protocol/merkle.ts';
import type { RestartReason } from '../../protocol/restart.ts';
import type { Journal } from '../journal/journal.ts';

/** Where the journal stands against the sink's head. */
export type ChainRelation = 'same' | 'journal_ahead' | 'diverged';

export interface HeadAnswer {
  epoch: number;
  batch: number;
  hash: string;
  header: unknown;
  receipt: unknown;
}

export interface RecoveryDeps {
  journal: Journal;
  device: string;
  /** the device's public key: the head's header must be signed by it */
  deviceKey: string;
  /** a held batch's answer from the sink (with its records' lines when asked), or null when it does not hold it */
  heldBatch: (batch: number, epoch: number, records?: boolean) => Promise<{ hash: string; receipt: unknown; header?: unknown; lines?: unknown } | null>;
  /** a receipt from the trusted sink for this batch and hash */
  receiptHolds: (receipt: unknown, batch: number, hash: string) => boolean;
  log: Logger;
}

export function chainRelation(journal: Journal, head: Pick<HeadAnswer, 'epoch' | 'batch' | 'hash'>): ChainRelation {
  if (journal.epoch > head.epoch) return 'journal_ahead';
  if (journal.epoch < head.epoch) return 'diverged';
  if (head.batch === 0 || head.batch <= journal.ackedBatch) return 'same';
  const s = journal.stats();
  if (head.batch > s.lastBatch) return 'diverged';
  const mine = journal.header(head.batch);
  return mine && headerHash(mine) === head.hash ? 'same' : 'diverged';
}

export class EpochRecovery {
  private readonly deps: RecoveryDeps;

  constructor(deps: RecoveryDeps) {
    this.deps = deps;
  }

  /**
   * Start a new epoch joined to the sink's head. Returns null when done, or why not (the head
   * cannot be checked; the caller backs off and asks again).
   */
  async restartFrom(head: HeadAnswer): Promise<string | null> {
    const { journal, log } = this.deps;
    const problem = this.headProblem(head);
    if (problem) {
      log.error({ head: { epoch: head.epoch, batch: head.batch }, problem }, 'the sink holds a chain this journal did not write, and its head cannot be checked: nothing is sent');
      return 'head_unprovable';
    }
    const heldThrough = await this.lastHeldAsIs(head);
    // In another epoch than the sink's head, the sink's copy of the journal's chain ends where it ends.
    const heldRecords = await this.recordsHeldAfter(heldThrough, journal.epoch === head.epoch ? head.batch : Infinity);
    const reason: RestartReason = journal.epoch === 1 && journal.ackedBatch === 0 && heldThrough === 0 ? 'journal_lost' : 'journal_behind_sink';
    log.warn({ reason, sinkHead: { epoch: head.epoch, batch: head.batch }, heldThrough, heldRecords: heldRecords.size, epoch: journal.epoch }, 'the journal is behind the chain the sink holds: starting a new epoch');
    await journal.startEpoch({ reason, from: { epoch: head.epoch, batch: head.batch, hash: head.hash }, heldThrough, heldRecords });
    return null;
  }

  /**
   * The sink's records after the last batch held as is, by seq, as far as the journal's records
   * go: each batch's header signed by this device's key, its lines hashing to its root, and a
   * receipt from the trusted sink for it. A record the journal holds byte for byte under the same
   * seq is at the sink, and is not carried into the new epoch.
   */
  private async recordsHeldAfter(heldThrough: number, sinkHead: number): Promise<Map<number, string>> {
    const { journal } = this.deps;
    const out = new Map<number, string>();
    const lastSeq = journal.stats().lastSeq;
    for (let b = heldThrough + 1; b <= sinkHead; b++) {
      const theirs = await this.deps.heldBatch(b, journal.epoch, true);
      if (!theirs) break;
      const h = theirs.header as BatchHeader;
      const lines = theirs.lines;
      if (headerProblem(h) || h.key !== this.deps.deviceKey || h.batch !== b || epochOf(h) !== journal.epoch || !verifyHeaderSignature(h) || headerHash(h) !== theirs.hash) break;
      if (!Array.isArray(lines) || lines.length !== h.count || !lines.every((l) => typeof l === 'string')) break;
      if (rootFromLeafHashes((lines as string[]).map((l) => leafHash(l))).toString('hex') !== h.root) break;
      if (!this.deps.receiptHolds(theirs.receipt, b, theirs.hash)) break;
      // Only a copy's tail matches, and it is a prefix of what followed: a batch with no record
      // the journal holds as is ends the walk (a lost journal's first batch already does).
      const mine = new Map<number, string>();
      for await (const { seq, line } of journal.records(h.first)) {
        if (seq > h.last) break;
        mine.set(seq, line);
      }
      let matched = 0;
      for (const [i, l] of (lines as string[]).entries()) {
        if (mine.get(h.first + i) !== l) continue;
        out.set(h.first + i, l);
        matched++;
      }
      if (matched === 0 || h.last >= lastSeq) break;
    }
    return out;
  }

  /** The head header must be this device's own, signed, and be what the trusted sink's receipt names. */
  private headProblem(head: HeadAnswer): string | null {
    if (head.batch < 1) return 'the sink names no batch';
    if (!this.deps.receiptHolds(head.receipt, head.batch, head.hash)) return 'no receipt from the trusted sink for the head';
    const hp = headerProblem(head.header);
    if (hp) return hp;
    const h = head.header as BatchHeader;
    if (h.device !== this.deps.device || h.batch !== head.batch || epochOf(h) !== head.epoch) return 'the head header is of another batch';
    if (h.key !== this.deps.deviceKey) return 'the head header is signed by another key than this device\'s';
    if (!verifyHeaderSignature(h)) return 'the head header\'s signature does not verify';
    if (headerHash(h) !== head.hash) return 'the head header does not hash to the head';
    return null;
  }

  /** The last batch of the journal the sink holds as it is (acknowledged ones count): a binary search. */
  private async lastHeldAsIs(head: HeadAnswer): Promise<number> {
    const { journal } = this.deps;
    let lo = journal.ackedBatch;
    let hi = journal.epoch === head.epoch ? Math.min(journal.stats().lastBatch, head.batch) : journal.stats().lastBatch;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (await this.heldAsIs(mid)) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private async heldAsIs(batch: number): Promise<boolean> {
    const mine = this.deps.journal.header(batch);
    if (!mine) return false;
    const hash = headerHash(mine);
    const theirs = await this.deps.heldBatch(batch, this.deps.journal.epoch);
    return theirs !== null && theirs.hash === hash && this.deps.receiptHolds(theirs.receipt, batch, hash);
  }
}

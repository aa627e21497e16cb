// One group commit: the queued readings get their seqs and canonical lines, grouped into chunks;
// every batch that became due is sealed; and all of it goes with the new state into one synced
// LevelDB write. A reading counts as accepted only when that write has returned. The parts change
// their memory as the commit goes, so that the next commit builds on it without waiting; if the
// write fails, each part is rolled back to its mark and the readings are refused, counted in a
// pending gap record.
import type { Level } from 'level';
import type { Logger } from 'pino';
import type { BatchHeader } from '../../protocol/batch.ts';
import { canonicalize } from '../../protocol/canonical.ts';
import type { ReadingEncoder } from '../../protocol/reading-encoder.ts';
import { planRecord, type PlanInput } from '../../protocol/plan.ts';
import { gapRecord, MAX_GAP_BATCHES, readingRecord, type JournalRecord, type Quality, type ReadingInput } from '../../protocol/records.ts';
import type { ChunkDraft, ChunkIndexMark, ChunkStore } from './chunk-store.ts';
import type { Pending } from './commit-queue.ts';
import { JournalFullError } from './errors.ts';
import type { HeldBatches } from './held-batches.ts';
import type { JournalMetrics } from './journal-metrics.ts';
import type { LastValues } from './last-values.ts';
import { STATE_KEY, type JournalState, type WriteOp } from './layout.ts';
import type { JournalListeners } from './listeners.ts';
import type { Retention } from './retention.ts';
import type { Sealer, TailMark } from './sealer.ts';
import { copyState, type JournalStateCell } from './state.ts';

const DEFAULT_QUALITY: Quality = { score: 1, flags: [] };

export interface GroupCommitDeps {
  db: Level<string, string>;
  device: string;
  encoder: ReadingEncoder;
  cell: JournalStateCell;
  chunks: ChunkStore;
  held: HeldBatches;
  sealer: Sealer;
  retention: Retention;
  lastValues: LastValues;
  listeners: JournalListeners;
  metrics: JournalMetrics;
  log: Logger;
  /** told of every completed group commit: for benchmarks */
  onCommit?: (info: { records: number; ms: number }) => void;
  /** a commit is durable (the journal publishes its gauges) */
  onDurable: () => void;
}

/** A record the commit writes: a reading someone waits for, or a gap record. */
interface Written {
  seq: number;
  pending?: Pending;
  gap?: JournalRecord;
}

/** Lines on their way into the journal: each gets the next seq, joins the current chunk and the tail. */
class CommitLines {
  readonly ops: WriteOp[] = [];
  readonly sealed: BatchHeader[] = [];
  private draft: ChunkDraft | null = null;

  private readonly d: GroupCommitDeps;

  constructor(d: GroupCommitDeps) {
    this.d = d;
  }

  add(line: string, ts: number): number {
    const seq = ++this.d.cell.current.lastSeq;
    const draft = (this.draft ??= { first: seq, lines: [], bytes: 0, minTs: ts, maxTs: ts });
    const bytes = line.length + 1;
    draft.lines.push(line);
    draft.bytes += bytes;
    if (ts < draft.minTs) draft.minTs = ts;
    if (ts > draft.maxTs) draft.maxTs = ts;
    // A chunk never straddles a batch boundary: a full tail closes the chunk, then seals.
    if (this.d.sealer.push(line, bytes)) this.seal();
    return seq;
  }

  closeChunk(): void {
    if (!this.draft) return;
    this.d.cell.current.bytes += this.d.chunks.put(this.draft, this.ops).bytes;
    this.draft = null;
  }

  seal(): void {
    this.closeChunk();
    this.sealed.push(this.d.sealer.seal(this.ops));
  }
}

export class GroupCommit {
  /** the recent mean record size, for checking the disk bound before encoding */
  private meanLineBytes = 200;

  private readonly d: GroupCommitDeps;

  constructor(d: GroupCommitDeps) {
    this.d = d;
  }

  /** Commit `group`; with `forceSeal`, seal the tail (and write any pending gap) even when the group is empty. */
  async run(group: Pending[], forceSeal: boolean): Promise<void> {
    const { cell, sealer, retention } = this.d;
    const started = performance.now();
    const before = this.mark();
    const lines = new CommitLines(this.d);
    const room = retention.room(group.length, this.meanLineBytes, lines.ops);
    const accepted = room < group.length ? group.slice(0, room) : group;
    const refused = room < group.length ? group.slice(room) : [];

    const written: Written[] = [];
    // A gap record goes first: it tells of readings older than anything in this commit.
    if (cell.current.pendingGap && (accepted.length > 0 || forceSeal)) {
      const gap = retention.takeGap()!;
      // A record names at most MAX_GAP_BATCHES dropped batches (a bound for its readers); more go
      // into further records of the same gap, which count no readings again.
      const refs = gap.batches ?? [];
      for (let i = 0; i === 0 || i < refs.length; i += MAX_GAP_BATCHES) {
        const named = refs.slice(i, i + MAX_GAP_BATCHES);
        const rec = gapRecord(this.d.device, cell.current.lastSeq + 1, i === 0 ? gap.dropped : 0, gap.from, gap.to, gap.reason, named);
        const seq = lines.add(canonicalize(rec), gap.to);
        written.push({ seq, gap: rec });
        for (const ref of named) this.d.held.setCover(ref.batch, seq, lines.ops);
      }
    }
    // Readings refused now are newer than everything accepted: their gap record waits for room.
    retention.addGap(refused.map((p) => p.input.ts), 'disk_full');
    try {
      for (const p of accepted) {
        const input = p.input;
        if ('kind' in input) {
          written.push({ seq: lines.add(canonicalize(planRecord(this.d.device, cell.current.lastSeq + 1, input)), input.ts), pending: p });
          continue;
        }
        const line = this.d.encoder.encode(cell.current.lastSeq + 1, input, input.quality ?? DEFAULT_QUALITY);
        written.push({ seq: lines.add(line, input.ts), pending: p });
        this.d.lastValues.note(input);
      }
    } catch (err) {
      return this.withoutUnencodable(group, forceSeal, before, err as Error);
    }
    lines.closeChunk();
    if (accepted.length > 0 && sealer.length > 0) this.meanLineBytes = Math.max(64, sealer.meanLineBytes());
    if ((forceSeal || sealer.ageDue) && sealer.length > 0) lines.seal();

    lines.ops.push({ type: 'put', key: STATE_KEY, value: JSON.stringify(cell.current) });
    if (!(await this.write(lines.ops, group, before))) return;
    this.announce(written, refused, lines.sealed, performance.now() - started);
  }

  /**
   * An input the encoder cannot represent (a non-finite number) is a bug upstream, never a reason
   * to lose the rest of the group: drop the whole commit's changes and commit again without it.
   */
  private withoutUnencodable(group: Pending[], forceSeal: boolean, before: CommitMark, err: Error): Promise<void> {
    this.rollback(before);
    const bad = group.filter((p) => !encodable(p.input));
    for (const p of bad) p.reject?.(new Error(`${'kind' in p.input ? 'plan' : 'reading'} of ${p.input.sensor} cannot be encoded: ${err.message}`));
    this.d.metrics.dropped.inc({ reason: 'unencodable' }, bad.length);
    this.d.log.error({ sensor: bad[0]?.input.sensor, err: err.message }, 'unencodable reading refused');
    return this.run(group.filter((p) => encodable(p.input)), forceSeal);
  }

  /** The synced write. On failure: roll back, refuse the readings and count them into the pending gap. */
  private async write(ops: WriteOp[], group: Pending[], before: CommitMark): Promise<boolean> {
    try {
      await this.d.db.batch(ops as never, { sync: true });
      return true;
    } catch (err) {
      this.rollback(before);
      this.d.metrics.writeErrors.inc();
      this.d.log.error({ err: (err as Error).message, readings: group.length }, 'journal write failed; readings refused');
      this.d.retention.addGap(group.map((p) => p.input.ts), 'write_failed');
      const e = new JournalFullError(`journal write failed: ${(err as Error).message}`);
      for (const p of group) p.reject?.(e);
      return false;
    }
  }

  /** The write is durable: tell the waiting, the listeners and the metrics. */
  private announce(written: Written[], refused: Pending[], sealed: BatchHeader[], ms: number): void {
    const { cell, metrics, listeners } = this.d;
    cell.markDurable();
    metrics.commits.inc();
    metrics.committed.inc(written.length);
    metrics.commitSeconds.observe(ms / 1000);
    this.d.onCommit?.({ records: written.length, ms });
    this.d.onDurable();
    if (refused.length > 0) {
      const e = this.d.retention.fullError();
      for (const p of refused) p.reject?.(e);
    }
    for (const w of written) w.pending?.resolve?.(w.seq);
    if (listeners.wantsCommitted && written.length > 0) {
      // Built directly from the inputs, since encoding and parsing again costs more.
      listeners.committedRecords(written.map((w) => w.gap ?? toRecord(this.d.device, w.seq, w.pending!.input)));
    }
    for (const h of sealed) listeners.sealedBatch(h);
    this.d.sealer.armAgeTimer();
  }

  private mark(): CommitMark {
    return { state: copyState(this.d.cell.current), chunks: this.d.chunks.mark(), tail: this.d.sealer.mark(), pruned: this.d.held.mark() };
  }

  private rollback(m: CommitMark): void {
    this.d.held.rollback(m.pruned, m.state.lastBatch, this.d.cell.current.lastBatch);
    this.d.cell.current = m.state;
    this.d.sealer.rollback(m.tail);
    this.d.chunks.rollback(m.chunks);
  }
}

/** What a commit needs to undo itself, without copying what it does not touch. */
interface CommitMark {
  state: JournalState;
  chunks: ChunkIndexMark;
  tail: TailMark;
  pruned: number;
}

function toRecord(device: string, seq: number, input: ReadingInput | PlanInput): JournalRecord {
  return 'kind' in input ? planRecord(device, seq, input) : readingRecord(device, seq, input, input.quality ?? DEFAULT_QUALITY);
}

function encodable(r: ReadingInput | PlanInput): boolean {
  if ('kind' in r) {
    try {
      canonicalize(r);
      return Number.isSafeInteger(r.ts);
    } catch {
      return false;
    }
  }
  return Number.isFinite(r.ts) && (r.value === null || Number.isFinite(r.value)) && (r.quality === undefined || Number.isFinite(r.quality.score));
}

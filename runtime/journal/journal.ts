// The store-and-forward journal: every accepted reading, durable on local disk until a sink has
// acknowledged it, cut into signed, chained Merkle batches. docs/durability.md states the
// guarantees; layout.ts the key layout.
//
// This class is the journal's one face to the rest of the device. It holds the commit queue
// (commit-queue.ts) and the write chain every write runs in (write-chain.ts); the parts that hold
// one chain in memory are wired in journal-parts.ts: the group commit (commit.ts), sealing
// (sealer.ts), the disk bound and gap records (retention.ts), the chunks on disk (chunk-store.ts)
// and the headers held (held-batches.ts), the publishers' holds (holds.ts), acknowledgement and the
// sink's receipts (acknowledgement.ts), reads (reader.ts) and the drivers' remembered last values
// (last-values.ts). Recovery epochs: epoch.ts; the journal's figures: journal-stats.ts.
import type { Level } from 'level';
import type { Logger } from 'pino';
import type { BatchHeader } from '../../protocol/batch.ts';
import type { PlanInput } from '../../protocol/plan.ts';
import type { JournalRecord, ReadingInput } from '../../protocol/records.ts';
import type { PruneCover } from '../../protocol/prune-cover.ts';
import type { Receipt } from '../../protocol/receipt.ts';
import type { DeviceKey } from '../../protocol/signature.ts';
import { silentLogger } from '../../kernel/log.ts';
import { Registry as MetricsRegistry } from '../../kernel/metrics.ts';
import { epochSwitch, type EpochRequest } from './epoch.ts';
import { CommitQueue, type Pending } from './commit-queue.ts';
import { JournalClosedError, JournalOpenError } from './errors.ts';
import type { HoldLostListener } from './holds.ts';
import { journalMetrics, type JournalMetrics } from './journal-metrics.ts';
import { batchPolicy, type JournalOptions } from './journal-options.ts';
import { wireJournalParts, type JournalParts } from './journal-parts.ts';
import { journalStats, publishJournalGauges, type JournalStats } from './journal-stats.ts';
import type { JournalState, LastValue } from './layout.ts';
import { JournalListeners } from './listeners.ts';
import { openJournalDatabase } from './open.ts';
import type { BatchLines, StoredBatch } from './reader.ts';
import type { BatchPolicy } from './sealer.ts';
import { WriteChain } from './write-chain.ts';

export type { BatchPolicy, JournalOptions, JournalStats, StoredBatch };

export class Journal {
  private closed = false;
  private readonly writes = new WriteChain();
  private readonly metrics: JournalMetrics;
  private readonly maxBytes: number;
  private readonly listeners: JournalListeners;
  private readonly queue: CommitQueue;
  // The parts that hold the chain in memory (journal-parts.ts): built again from the database when
  // a new epoch replaces the chain (startEpoch), set by wire() before anything reads them.
  private parts!: JournalParts;
  private readonly holdListeners = new Map<string, HoldLostListener>();

  private readonly db: Level<string, string>;
  private readonly opts: JournalOptions;
  private readonly log: Logger;

  private constructor(
    db: Level<string, string>,
    opts: JournalOptions,
    state: JournalState,
    log: Logger,
  ) {
    this.db = db;
    this.opts = opts;
    this.log = log;
    this.metrics = journalMetrics(opts.metrics ?? new MetricsRegistry());
    this.maxBytes = opts.maxBytes ?? 8 * 1024 ** 3;
    this.listeners = new JournalListeners(log);
    this.queue = new CommitQueue({
      maxWaitMs: opts.commitMaxWaitMs ?? 20, maxRecords: opts.commitMaxRecords ?? 4096,
      commit: (group) => this.writes.run(() => this.parts.commit.run(group, false)),
    });
    this.wire(state);
  }

  private wire(state: JournalState): void {
    const { db, opts, log, metrics, maxBytes, listeners, holdListeners } = this;
    this.parts = wireJournalParts(state, {
      db, opts, log, metrics, maxBytes, listeners, holdListeners, sealByAge: () => this.sealByAge(), publishGauges: () => this.publishGauges(),
    });
  }

  // ---------------------------------------------------------------- opening

  /** Open (or create) the journal in `opts.dir`; refuses a data dir in use, foreign or damaged. */
  static async open(opts: JournalOptions): Promise<Journal> {
    const log = opts.log ?? silentLogger();
    const { db, state, meta, path } = await openJournalDatabase(opts);
    try {
      // Inspection takes the identity from the journal itself.
      const identity = opts.readOnly ? { ...opts, device: meta.device, key: { public: meta.key } as DeviceKey } : opts;
      const journal = new Journal(db, identity, state, log);
      await journal.load();
      log.info({ lastSeq: state.lastSeq, lastBatch: state.lastBatch, ackedBatch: state.ackedBatch, tail: journal.parts.sealer.length }, 'journal opened');
      return journal;
    } catch (err) {
      await db.close().catch(() => undefined);
      if (err instanceof JournalOpenError) throw err;
      throw new JournalOpenError(`${path}: cannot read the journal: ${(err as Error).message}`);
    }
  }

  /** Open an existing journal to read it (stats, verify, export): nothing is written or sealed. */
  static inspect(dir: string): Promise<Journal> {
    return Journal.open({ dir, readOnly: true, device: '', key: { public: '' } as DeviceKey });
  }

  private async load(): Promise<void> {
    await this.parts.chunks.load();
    await this.parts.held.load(this.db);
    await this.parts.sealer.rebuildTail(this.parts.chunks, this.opts.readOnly === true);
    this.publishGauges();
  }

  // ---------------------------------------------------------------- writing

  /** Queue a reading; it is accepted when its group commit is synced. Resolves with its seq. */
  append(input: ReadingInput): Promise<number> {
    return new Promise((resolve, reject) => this.enqueue({ input, resolve, reject }));
  }

  /** Queue several readings; resolves with the last one's seq. */
  async appendMany(inputs: readonly ReadingInput[]): Promise<number> {
    let last = 0;
    await Promise.all(inputs.map((input) => this.append(input).then((seq) => (last = Math.max(last, seq)))));
    return last;
  }

  /**
   * Queue a meter's monitoring plan (protocol/plan.ts): journaled, batched and signed like a
   * reading, ahead of the readings queued after it. Resolves with its seq.
   */
  appendPlan(plan: PlanInput): Promise<number> {
    return new Promise((resolve, reject) => this.enqueue({ input: plan, resolve, reject }, true));
  }

  /**
   * Queue a reading without waiting: the pipeline's path. Outcomes reach onCommitted listeners and
   * metrics. A flagged reading may raise an alert, which waits for its commit, so it does not wait
   * for company: its commit starts at the next turn of the event loop, together with whatever was
   * queued in this one.
   */
  write(input: ReadingInput): void {
    this.enqueue({ input }, input.quality !== undefined && input.quality.flags.length > 0);
  }

  private enqueue(p: Pending, urgent = false): void {
    if (this.closed || this.opts.readOnly) p.reject?.(new JournalClosedError());
    else this.queue.push(p, urgent);
  }

  /** How many readings are queued for the next commit: the pipeline's backpressure signal. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * From now on carry the last durable value of `sensor`'s `metric` in the journal's state (see
   * last-values.ts). Returns the value held from before, if any.
   */
  rememberLast(sensor: string, metric: string): LastValue | undefined {
    return this.parts.lastValues.remember(sensor, metric);
  }

  /**
   * Readings that never reached the journal (an overloaded pipeline): counted into the next gap
   * record, so that the loss is signed like everything else rather than silent.
   */
  noteDropped(timestamps: number[], reason: string): void {
    this.parts.retention.addGap(timestamps, reason);
  }

  /** Commit everything queued so far, without waiting for the commit timer. */
  flush(): Promise<void> {
    return this.queue.flush();
  }

  /** Seal whatever is in the tail now. Returns the new header, or null when the tail was empty. */
  async sealNow(): Promise<BatchHeader | null> {
    await this.flush();
    const before = this.parts.cell.current.lastBatch;
    await this.writes.run(() => (this.hasUnsealed() ? this.parts.commit.run([], true) : Promise.resolve()));
    const last = this.parts.cell.current.lastBatch;
    return last > before ? this.parts.held.header(last) ?? null : null;
  }

  private async sealByAge(): Promise<void> {
    if (this.closed) return;
    await this.writes.run(() => this.parts.commit.run([], true)).catch((err) => this.log.error({ err: (err as Error).message }, 'sealing by age failed'));
  }

  /** Records not in a sealed batch yet, or a gap not yet written as a record. */
  private hasUnsealed(): boolean {
    return this.parts.sealer.length > 0 || Boolean(this.parts.cell.current.pendingGap);
  }

  // ---------------------------------------------------------------- acknowledging

  /** A sink holds batches 1..n: delete their records and headers. Idempotent; n never goes back. */
  acknowledge(throughBatch: number): Promise<void> {
    return this.writes.run(() => this.parts.ack.acknowledge(throughBatch));
  }

  /**
   * Keep a receipt the sink gave for a held batch (checked by the caller: for this batch's hash,
   * under the trusted key), so that the operator can show the sink's signed acceptance later. It
   * goes with the batch's header. Not synced: a receipt lost to a power cut is asked for again.
   */
  keepReceipt(receipt: Receipt): Promise<void> {
    return this.writes.run(async () => {
      if (this.closed || this.opts.readOnly) return;
      await this.parts.ack.keepReceipt(receipt);
    });
  }

  /** The sink's receipt for held batch `batch`, if one was kept. */
  receipt(batch: number): Receipt | null {
    return this.parts.held.receipt(batch) ?? null;
  }

  /** The receipt of the last acknowledged batch, if the sink gave one. */
  lastReceipt(): Promise<Receipt | null> {
    return this.parts.ack.lastReceipt();
  }

  // ---------------------------------------------------------------- holds

  /**
   * The publishers configured now (holds.ts): their holds stay (a new one holds everything until
   * its publisher starts), any other is dropped and logged. Call once at start, before the uplink.
   */
  keepHolds(names: readonly string[]): Promise<void> {
    if (this.opts.readOnly) return Promise.resolve();
    return this.writes.run(() => this.parts.ack.keepHolds(names));
  }

  /**
   * The publisher `name` has every record through `through` from its broker, and its cursor saying
   * so is saved: records the sink has too and no other hold keeps are deleted.
   */
  hold(name: string, through: number): Promise<void> {
    if (this.closed || this.opts.readOnly) return Promise.resolve();
    return this.writes.run(() => this.parts.ack.hold(name, through));
  }

  /** Through which seq the hold `name` is, as of the latest write (durable or being written). */
  heldThrough(name: string): number | undefined {
    return this.parts.cell.current.holds?.[name]?.through;
  }

  /** Told when the disk bound dropped records under the hold `name` before its publisher had them. */
  onHoldLost(name: string, listener: HoldLostListener): void {
    this.parts.holds.onLost(name, listener);
  }

  // ---------------------------------------------------------------- recovery epochs

  /** The device's public key, which signs every header of this journal. */
  get publicKey(): string {
    return this.opts.key.public;
  }

  /** The recovery epoch of the chain the journal holds (1 until it first starts a new one). */
  get epoch(): number {
    return this.parts.cell.current.epoch ?? 1;
  }

  /**
   * Replace the chain with a new epoch's (epoch.ts): batches through `heldThrough` are the sink's
   * and go; the records after them are carried over behind a signed restart record, sealed at once.
   * Queued readings wait for it and are journaled in the new epoch. Returns the new epoch's headers.
   */
  startEpoch(req: EpochRequest): Promise<BatchHeader[]> {
    return this.writes.run(async () => {
      if (this.closed || this.opts.readOnly) throw new JournalClosedError();
      const s = this.parts.cell.current;
      if (req.heldThrough < s.ackedBatch || req.heldThrough > s.lastBatch) throw new RangeError(`batch ${req.heldThrough} is not a held batch of this journal`);
      const keepFrom = req.heldThrough < s.lastBatch ? this.parts.held.header(req.heldThrough + 1)!.first : s.sealedSeq + 1;
      this.parts.sealer.stop();
      const out = await epochSwitch({
        db: this.db, device: this.opts.device, key: this.opts.key, state: { ...s, pendingGap: s.pendingGap },
        keepFrom, records: this.parts.reader.records(keepFrom), maxRecords: batchPolicy(this.opts).maxRecords, now: (this.opts.now ?? Date.now)(),
        ...(this.opts.clockState ? { clock: this.opts.clockState() } : {}),
      }, req);
      await this.db.batch(out.ops as never, { sync: true });
      this.wire(out.state);
      await this.load();
      this.log.warn({ epoch: out.state.epoch, reason: req.reason, from: req.from, rejournaled: out.rejournaled, batches: out.headers.length }, 'journal started a new epoch');
      for (const h of out.headers) this.listeners.sealedBatch(h);
      return out.headers;
    });
  }

  // ---------------------------------------------------------------- reading

  stats(): JournalStats {
    const { cell, held, chunks, holds } = this.parts;
    return journalStats({ device: this.opts.device, maxBytes: this.maxBytes, cell, held, chunks, holds });
  }

  header(batch: number): BatchHeader | null {
    return this.parts.held.header(batch) ?? null;
  }

  /** Whether the disk bound dropped the records of held batch `batch`. */
  isPruned(batch: number): boolean {
    return this.parts.held.isPruned(batch);
  }

  /** The last durable seq. */
  lastSeq(): number {
    return this.parts.cell.durable.lastSeq;
  }

  get ackedBatch(): number {
    return this.parts.cell.current.ackedBatch;
  }

  /** What batch ackedBatch+1 chains to: the hash of the last acknowledged header (zeros before any). */
  get ackedHeaderHash(): string {
    return this.parts.cell.current.ackedHeaderHash;
  }

  /** The seq after which records are not yet in a sealed batch. */
  get sealedSeq(): number {
    return this.parts.cell.current.sealedSeq;
  }

  /** See JournalReader.readBatchLines: null when not held, also when acknowledged while being read. */
  readBatchLines(batch: number): Promise<BatchLines | null> {
    return this.parts.reader.readBatchLines(batch);
  }

  /** The signed gap record announcing pruned batch `batch`, with its path; null while none is sealed. */
  pruneCover(batch: number): Promise<PruneCover | null> {
    return this.parts.covers.of(batch);
  }

  readBatch(batch: number): Promise<StoredBatch | null> {
    return this.parts.reader.readBatch(batch);
  }

  /** Every sealed batch still held, oldest first. */
  batches(): AsyncGenerator<BatchLines> {
    return this.parts.reader.batches();
  }

  /** Every durable record still held from seq `from` on, in seq order, sealed or not: for `journal verify`, export and replays. */
  records(from = 1): AsyncGenerator<{ seq: number; line: string }> {
    return this.parts.reader.records(from);
  }

  /** Where the records of the last hours begin: the first held seq in a chunk with a record at or after `ts`. */
  firstSeqSince(ts: number): number {
    return this.parts.chunks.firstSeqSince(ts);
  }

  // ---------------------------------------------------------------- listeners, closing

  onCommitted(listener: (records: readonly JournalRecord[]) => void): () => void {
    return this.listeners.onCommitted(listener);
  }

  onSealed(listener: (header: BatchHeader) => void): () => void {
    return this.listeners.onSealed(listener);
  }

  private publishGauges(): void {
    publishJournalGauges(this.metrics, this.stats());
  }

  /** Commit what is queued, seal the tail (and any pending gap), and close the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.parts.sealer.stop();
    await this.flush();
    try {
      if (!this.opts.readOnly && this.hasUnsealed()) await this.writes.run(() => this.parts.commit.run([], true));
      await this.writes.idle();
    } finally {
      await this.db.close();
    }
    this.log.info({ lastSeq: this.parts.cell.current.lastSeq, lastBatch: this.parts.cell.current.lastBatch }, 'journal closed');
  }
}

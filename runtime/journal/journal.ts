// The store-and-forward journal: every accepted reading, durable on local disk until a sink has
// acknowledged it, cut into signed, chained Merkle batches.
//
// Writes go through one group-commit loop: readings queue up, and each commit assigns their seqs,
// encodes them canonically, seals any batch that became due, and writes it all with the new state
// in one synced LevelDB batch. A reading counts as accepted only when that write returned.
// docs/durability.md states the guarantees; layout.ts the key layout.
import type { Level } from 'level';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { canonicalize } from '../../protocol/canonical.ts';
import { headerHash, signHeader, type BatchHeader } from '../../protocol/batch.ts';
import { leafHash, rootFromLeafHashes } from '../../protocol/merkle.ts';
import { ReadingEncoder } from '../../protocol/reading-encoder.ts';
import { planRecord, type PlanInput } from '../../protocol/plan.ts';
import { gapRecord, readingRecord, type JournalRecord, type Quality, type ReadingInput } from '../../protocol/records.ts';
import type { DeviceKey } from '../../protocol/signature.ts';
import { silentLogger } from '../log.ts';
import { counter, gauge, histogram, Registry as MetricsRegistry } from '../metrics.ts';
import { JournalClosedError, JournalFullError, JournalOpenError } from './errors.ts';
import {
  chunkKey, decodeIndex, encodeIndex, headerKey, indexKey, parseNumberKey, prunedKey, RANGE, STATE_KEY,
  type ChunkIndex, type JournalState, type LastValue, type PendingGap,
} from './layout.ts';
import { openJournalDatabase, parseJson } from './open.ts';

export interface BatchPolicy {
  maxRecords: number;
  maxBytes: number;
  maxAgeMs: number;
}

export interface JournalOptions {
  /** the device's data dir; the journal lives in its `journal/` folder */
  dir: string;
  device: string;
  key: DeviceKey;
  /**
   * Inspect only (the CLI's stats, verify, export): nothing is written, close() seals nothing, and
   * a journal that does not exist is an error rather than made.
   */
  readOnly?: boolean;
  log?: Logger;
  metrics?: Registry;
  batch?: Partial<BatchPolicy>;
  /** bound on the logical size held (records and headers), bytes */
  maxBytes?: number;
  policy?: 'drop-oldest' | 'reject-new';
  /** how long the first reading after an idle spell waits for company before the commit starts */
  commitMaxWaitMs?: number;
  commitMaxRecords?: number;
  /** a clock for tests */
  now?: () => number;
  /** told of every completed group commit: for benchmarks */
  onCommit?: (info: { records: number; ms: number }) => void;
}

export interface JournalStats {
  device: string;
  lastSeq: number;
  sealedSeq: number;
  lastBatch: number;
  ackedBatch: number;
  ackedSeq: number;
  unsentRecords: number;
  unsentBatches: number;
  prunedBatches: number;
  pendingGap: PendingGap | null;
  bytes: number;
  maxBytes: number;
}

export interface StoredBatch {
  header: BatchHeader;
  records: JournalRecord[];
  pruned?: true;
}

interface Pending {
  /** a reading, or a meter's monitoring plan */
  input: ReadingInput | PlanInput;
  resolve?: (seq: number) => void;
  reject?: (err: Error) => void;
}

/** The records of one group commit that belong together in a chunk. */
interface ChunkDraft {
  first: number;
  lines: string[];
  bytes: number;
  minTs: number;
  maxTs: number;
}

const DEFAULT_QUALITY: Quality = { score: 1, flags: [] };

export class Journal {
  private queue: Pending[] = [];
  private closed = false;
  private commitTimer: NodeJS.Timeout | null = null;
  /** metrics by sensor whose last value the state carries (see rememberLast) */
  private readonly remembered = new Map<string, Set<string>>();
  /** a commit due at the next turn of the event loop (an urgent reading, or no wait configured) */
  private commitSoon: NodeJS.Immediate | null = null;
  private ageTimer: NodeJS.Timeout | null = null;
  private committing: Promise<void> | null = null;
  /** every write to LevelDB runs in this chain, so that each sees and writes a consistent state */
  private writeChain: Promise<unknown> = Promise.resolve();

  /** the unsealed tail: canonical lines after state.sealedSeq, and when it started */
  private tail: { lines: string[]; bytes: number; openedAt: number } = { lines: [], bytes: 0, openedAt: 0 };
  /** chunks still held, by first seq, in order */
  private chunks: ChunkIndex[] = [];
  /** unacknowledged sealed headers, by batch number */
  private headers = new Map<number, BatchHeader>();
  private pruned = new Set<number>();
  private readonly encoder: ReadingEncoder;
  private readonly committedListeners: ((records: readonly JournalRecord[]) => void)[] = [];
  private readonly sealedListeners: ((header: BatchHeader) => void)[] = [];
  private readCache: { first: number; lines: string[] } | null = null;
  private meanLineBytes = 200;
  /** the state as of the last completed write: what stats() reports, since a commit in flight may still fail */
  private durable: JournalState;

  private readonly batchPolicy: BatchPolicy;
  private readonly maxBytes: number;
  private readonly policy: 'drop-oldest' | 'reject-new';
  private readonly maxWait: number;
  private readonly maxCommit: number;
  private readonly now: () => number;
  private readonly m;

  private constructor(
    private readonly db: Level<string, string>,
    private readonly opts: JournalOptions,
    private state: JournalState,
    private readonly log: Logger,
  ) {
    this.durable = copyState(state);
    this.encoder = new ReadingEncoder(opts.device);
    this.batchPolicy = { maxRecords: 500, maxBytes: 1_000_000, maxAgeMs: 5000, ...opts.batch };
    this.maxBytes = opts.maxBytes ?? 8 * 1024 ** 3;
    this.policy = opts.policy ?? 'drop-oldest';
    this.maxWait = opts.commitMaxWaitMs ?? 20;
    this.maxCommit = opts.commitMaxRecords ?? 4096;
    this.now = opts.now ?? Date.now;
    const reg = opts.metrics ?? new MetricsRegistry();
    this.m = {
      committed: counter(reg, 'fieldproof_journal_records_total', 'Records made durable in the journal'),
      commits: counter(reg, 'fieldproof_journal_commits_total', 'Synced group commits'),
      commitSeconds: histogram(reg, 'fieldproof_journal_commit_seconds', 'Time from a commit starting to its sync returning',
        [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1]),
      sealed: counter(reg, 'fieldproof_journal_batches_sealed_total', 'Batches sealed and signed'),
      dropped: counter(reg, 'fieldproof_journal_dropped_readings_total', 'Readings dropped under the disk bound or by a failed write', ['reason']),
      writeErrors: counter(reg, 'fieldproof_journal_write_errors_total', 'LevelDB writes that failed'),
      bytes: gauge(reg, 'fieldproof_journal_bytes', 'Logical bytes held by the journal'),
      unsent: gauge(reg, 'fieldproof_journal_unsent_records', 'Records not yet acknowledged by a sink'),
      lastSeq: gauge(reg, 'fieldproof_journal_last_seq', 'Last seq made durable'),
    };
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
      await journal.loadIndex();
      journal.publishGauges();
      log.info({ lastSeq: state.lastSeq, lastBatch: state.lastBatch, ackedBatch: state.ackedBatch, tail: journal.tail.lines.length }, 'journal opened');
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

  private async loadIndex(): Promise<void> {
    for await (const [key, value] of this.db.iterator(RANGE.index)) {
      this.chunks.push(decodeIndex(parseNumberKey(key), value));
    }
    for await (const [key, value] of this.db.iterator(RANGE.header)) {
      const header = parseJson<BatchHeader>(value, `journal header ${key} is corrupt`);
      this.headers.set(header.batch, header);
    }
    for await (const key of this.db.keys(RANGE.pruned)) this.pruned.add(parseNumberKey(key));
    // Rebuild the unsealed tail from the chunks after the last sealed seq.
    for (const c of this.chunks) {
      if (c.last <= this.state.sealedSeq) continue;
      if (c.first <= this.state.sealedSeq) throw new JournalOpenError(`journal chunk ${c.first}..${c.last} straddles the last sealed seq; the journal is damaged`);
      for (const line of await this.readChunkLines(c.first)) {
        this.tail.lines.push(line);
        this.tail.bytes += Buffer.byteLength(line);
      }
    }
    if (this.tail.lines.length !== this.state.lastSeq - this.state.sealedSeq) {
      throw new JournalOpenError(`journal tail holds ${this.tail.lines.length} records, expected ${this.state.lastSeq - this.state.sealedSeq}; the journal is damaged`);
    }
    if (this.tail.lines.length > 0 && !this.opts.readOnly) {
      // The age of a batch counts from its first record, across restarts: a device that restarts
      // more often than maxAgeMs still seals by age.
      this.tail.openedAt = Math.min(this.state.tailOpenedAt ?? this.now(), this.now());
      this.armAgeTimer();
    }
  }

  // ---------------------------------------------------------------- writing

  /** Queue a reading; it is accepted when its group commit is synced. Resolves with its seq. */
  append(input: ReadingInput): Promise<number> {
    return new Promise((resolve, reject) => this.enqueue({ input, resolve, reject }));
  }

  /**
   * Queue a meter's monitoring plan (protocol/plan.ts): journaled, batched and signed like a
   * reading, ahead of the readings queued after it. Resolves with its seq.
   */
  appendPlan(plan: PlanInput): Promise<number> {
    return new Promise((resolve, reject) => this.enqueue({ input: plan, resolve, reject }, true));
  }

  /** Queue several readings; resolves with the last one's seq. */
  async appendMany(inputs: readonly ReadingInput[]): Promise<number> {
    let last = 0;
    const all = inputs.map((input) => this.append(input).then((seq) => (last = Math.max(last, seq))));
    await Promise.all(all);
    return last;
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
    if (this.closed || this.opts.readOnly) {
      p.reject?.(new JournalClosedError());
      return;
    }
    this.queue.push(p);
    if (this.committing) return; // the running commit picks the queue up when it ends
    if (this.queue.length >= this.maxCommit) this.startCommit();
    else if (urgent || this.maxWait === 0) this.commitSoon ??= setImmediate(() => this.startCommit());
    else if (!this.commitTimer) this.commitTimer = setTimeout(() => this.startCommit(), this.maxWait);
  }

  /**
   * From now on carry the last durable value of `sensor`'s `metric` in the journal's state, which
   * every commit writes in the same synced batch as the records: after a restart or a power cut
   * it is exactly the value of the last record that was kept. A meter's energy counter resumes
   * from it, so the first interval after a restart covers the downtime instead of being lost.
   * Returns the value held from before, if any.
   */
  rememberLast(sensor: string, metric: string): LastValue | undefined {
    let metrics = this.remembered.get(sensor);
    if (!metrics) this.remembered.set(sensor, (metrics = new Set()));
    metrics.add(metric);
    const held = this.state.lastValues?.[`${sensor}/${metric}`];
    return held && { ...held };
  }

  private noteLast(r: ReadingInput): void {
    if (typeof r.value !== 'number' || !this.remembered.get(r.sensor)?.has(r.metric)) return;
    // this.state is a copy that the commit's snapshot can restore, lastValues included
    (this.state.lastValues ??= {})[`${r.sensor}/${r.metric}`] = { value: r.value, ts: r.ts };
  }

  /** How many readings are queued for the next commit: the pipeline's backpressure signal. */
  get queued(): number {
    return this.queue.length;
  }

  private startCommit(): void {
    if (this.commitTimer) {
      clearTimeout(this.commitTimer);
      this.commitTimer = null;
    }
    if (this.commitSoon) {
      clearImmediate(this.commitSoon);
      this.commitSoon = null;
    }
    if (this.committing) return;
    this.committing = this.commitLoop().finally(() => {
      this.committing = null;
      // A reading queued after the loop's last check but before this point saw a commit running
      // and left the scheduling to it.
      if (this.queue.length > 0) this.startCommit();
    });
  }

  private async commitLoop(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.queue.length <= this.maxCommit ? this.queue : this.queue.slice(0, this.maxCommit);
      this.queue = group === this.queue ? [] : this.queue.slice(this.maxCommit);
      await this.serialized(() => this.commit(group, false));
    }
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writeChain.then(fn);
    this.writeChain = run.catch(() => undefined);
    return run;
  }

  /**
   * One group commit: seqs, canonical lines, any batch that became due, state: one synced write.
   * On a failed write the in-memory state is rolled back and the readings are refused, counted in a
   * pending gap record.
   */
  private async commit(group: Pending[], forceSeal: boolean): Promise<void> {
    const started = performance.now();
    const before = this.snapshot();
    const ops: { type: 'put' | 'del'; key: string; value?: string }[] = [];
    const sealed: BatchHeader[] = [];
    let accepted = group;
    let refused: Pending[] = [];

    // The bound is checked before encoding, with the recent mean record size as the estimate.
    const incomingBytes = group.length * this.meanLineBytes;
    if (group.length > 0 && this.state.bytes + incomingBytes > this.maxBytes) {
      if (this.policy === 'drop-oldest') this.pruneOldest(this.state.bytes + incomingBytes - this.maxBytes, ops);
      const room = Math.max(0, Math.floor((this.maxBytes - this.state.bytes) / this.meanLineBytes));
      if (room < group.length) {
        accepted = group.slice(0, room);
        refused = group.slice(room);
      }
    }

    const records: { seq: number; pending?: Pending; gap?: JournalRecord }[] = [];
    let draft: ChunkDraft | null = null;
    const closeDraft = () => {
      if (!draft) return;
      this.putChunk(draft, ops);
      draft = null;
    };
    const addLine = (line: string, ts: number) => {
      const seq = ++this.state.lastSeq;
      if (!draft) draft = { first: seq, lines: [], bytes: 0, minTs: ts, maxTs: ts };
      draft.lines.push(line);
      const bytes = line.length + 1;
      draft.bytes += bytes;
      if (ts < draft.minTs) draft.minTs = ts;
      if (ts > draft.maxTs) draft.maxTs = ts;
      if (this.tail.lines.length === 0) this.tail.openedAt = this.state.tailOpenedAt = this.now();
      this.tail.lines.push(line);
      this.tail.bytes += bytes;
      if (this.tail.lines.length >= this.batchPolicy.maxRecords || this.tail.bytes >= this.batchPolicy.maxBytes) {
        closeDraft();
        sealed.push(this.seal(ops));
      }
      return seq;
    };

    // A gap record goes first: it tells of readings older than anything in this commit.
    const gap = this.state.pendingGap;
    if (gap && (accepted.length > 0 || forceSeal)) {
      const rec = gapRecord(this.opts.device, this.state.lastSeq + 1, gap.dropped, gap.from, gap.to, gap.reason);
      addLine(canonicalize(rec), gap.to);
      records.push({ seq: rec.seq, gap: rec });
      this.state.pendingGap = null;
    }
    // Readings refused now are newer than everything accepted: their gap record waits for room.
    this.addGap(refused.map((p) => p.input.ts), 'disk_full');
    try {
      for (const p of accepted) {
        const seq = this.state.lastSeq + 1;
        const input = p.input;
        if ('kind' in input) {
          addLine(canonicalize(planRecord(this.opts.device, seq, input)), input.ts);
          records.push({ seq, pending: p });
          continue;
        }
        const line = this.encoder.encode(seq, input, input.quality ?? DEFAULT_QUALITY);
        addLine(line, input.ts);
        records.push({ seq, pending: p });
        if (this.remembered.size > 0) this.noteLast(input);
      }
    } catch (err) {
      // An input the encoder cannot represent (a non-finite number): a bug upstream, never a reason
      // to lose the rest of the group. Drop the whole commit's state change and retry without it.
      this.restore(before);
      const bad = group.filter((p) => !encodable(p.input));
      for (const p of bad) p.reject?.(new Error(`reading of ${p.input.sensor} cannot be encoded: ${(err as Error).message}`));
      this.m.dropped.inc({ reason: 'unencodable' }, bad.length);
      this.log.error({ sensor: bad[0]?.input.sensor, err: (err as Error).message }, 'unencodable reading refused');
      return this.commit(group.filter((p) => encodable(p.input)), forceSeal);
    }
    closeDraft();
    if (accepted.length > 0 && this.tail.lines.length > 0) this.meanLineBytes = Math.max(64, Math.round(this.tail.bytes / this.tail.lines.length));
    const ageDue = this.tail.lines.length > 0 && this.now() - this.tail.openedAt >= this.batchPolicy.maxAgeMs;
    if ((forceSeal || ageDue) && this.tail.lines.length > 0) sealed.push(this.seal(ops));

    ops.push({ type: 'put', key: STATE_KEY, value: JSON.stringify(this.state) });
    try {
      await this.db.batch(ops as never, { sync: true });
    } catch (err) {
      this.restore(before);
      this.m.writeErrors.inc();
      this.log.error({ err: (err as Error).message, readings: group.length }, 'journal write failed; readings refused');
      this.addGap(group.map((p) => p.input.ts), 'write_failed');
      const e = new JournalFullError(`journal write failed: ${(err as Error).message}`);
      for (const p of group) p.reject?.(e);
      return;
    }

    this.durable = copyState(this.state);
    this.m.commits.inc();
    this.m.committed.inc(records.length);
    const ms = performance.now() - started;
    this.m.commitSeconds.observe(ms / 1000);
    this.opts.onCommit?.({ records: records.length, ms });
    this.publishGauges();
    if (refused.length > 0) {
      const e = new JournalFullError(`journal is full (${this.state.bytes} of ${this.maxBytes} bytes) and the policy is ${this.policy}`);
      for (const p of refused) p.reject?.(e);
    }
    for (const r of records) r.pending?.resolve?.(r.seq);
    if (this.committedListeners.length > 0 && records.length > 0) {
      const recs = records.map((r) => r.gap ?? this.toRecord(r.seq, r.pending!.input));
      for (const l of this.committedListeners) safeCall(() => l(recs), this.log);
    }
    for (const h of sealed) for (const l of this.sealedListeners) safeCall(() => l(h), this.log);
    this.armAgeTimer();
  }

  /** The record object listeners get: built directly, since encoding and parsing again costs more. */
  private toRecord(seq: number, input: ReadingInput | PlanInput): JournalRecord {
    if ('kind' in input) return planRecord(this.opts.device, seq, input);
    return readingRecord(this.opts.device, seq, input, input.quality ?? DEFAULT_QUALITY);
  }

  private putChunk(d: ChunkDraft, ops: { type: 'put' | 'del'; key: string; value?: string }[]): void {
    const c: ChunkIndex = { first: d.first, last: d.first + d.lines.length - 1, minTs: d.minTs, maxTs: d.maxTs, bytes: d.bytes };
    ops.push({ type: 'put', key: chunkKey(c.first), value: d.lines.join('\n') });
    ops.push({ type: 'put', key: indexKey(c.first), value: encodeIndex(c) });
    this.chunks.push(c);
    this.state.bytes += c.bytes;
  }

  /** Seal the whole tail into the next batch; the caller has closed the chunk at the boundary. */
  private seal(ops: { type: 'put' | 'del'; key: string; value?: string }[]): BatchHeader {
    const lines = this.tail.lines;
    const leaves = lines.map((l) => leafHash(l));
    const first = this.state.sealedSeq + 1;
    const header = signHeader(
      {
        device: this.opts.device,
        batch: this.state.lastBatch + 1,
        first,
        last: first + lines.length - 1,
        count: lines.length,
        root: rootFromLeafHashes(leaves).toString('hex'),
        prev: this.state.lastHeaderHash,
        created: this.now(),
      },
      this.opts.key,
    );
    const text = canonicalize(header);
    ops.push({ type: 'put', key: headerKey(header.batch), value: text });
    this.headers.set(header.batch, header);
    this.state.lastBatch = header.batch;
    this.state.sealedSeq = header.last;
    this.state.lastHeaderHash = headerHash(header);
    this.state.bytes += text.length;
    this.tail = { lines: [], bytes: 0, openedAt: 0 };
    this.state.tailOpenedAt = null;
    this.m.sealed.inc();
    return header;
  }

  /**
   * drop-oldest: free at least `need` bytes by dropping the oldest sealed batches that no sink has
   * acknowledged. Their headers stay (the chain stays whole); their records go, and a gap record
   * tells how many and from when.
   */
  private pruneOldest(need: number, ops: { type: 'put' | 'del'; key: string; value?: string }[]): void {
    let freed = 0;
    for (let b = this.state.ackedBatch + 1; b <= this.state.lastBatch && freed < need; b++) {
      if (this.pruned.has(b)) continue;
      const h = this.headers.get(b)!;
      const dropped = this.chunks.filter((c) => c.first >= h.first && c.last <= h.last);
      for (const c of dropped) {
        ops.push({ type: 'del', key: chunkKey(c.first) }, { type: 'del', key: indexKey(c.first) });
        freed += c.bytes;
      }
      this.chunks = this.chunks.filter((c) => !dropped.includes(c));
      this.state.bytes -= dropped.reduce((s, c) => s + c.bytes, 0);
      ops.push({ type: 'put', key: prunedKey(b), value: '1' });
      this.pruned.add(b);
      this.readCache = null;
      const gap = this.state.pendingGap ?? { dropped: 0, from: Infinity, to: -Infinity, reason: 'disk_full' };
      gap.dropped += h.count;
      gap.from = Math.min(gap.from, ...dropped.map((c) => c.minTs));
      gap.to = Math.max(gap.to, ...dropped.map((c) => c.maxTs));
      this.state.pendingGap = gap;
      this.m.dropped.inc({ reason: 'disk_full' }, h.count);
      this.log.warn({ batch: b, records: h.count }, 'journal full: dropped the oldest unsent batch');
    }
  }

  /**
   * Readings that never reached the journal (an overloaded pipeline): counted into the next gap
   * record, so that the loss is signed like everything else rather than silent.
   */
  noteDropped(timestamps: number[], reason: string): void {
    this.addGap(timestamps, reason);
  }

  private addGap(timestamps: number[], reason: string): void {
    if (timestamps.length === 0) return;
    const gap = this.state.pendingGap ?? { dropped: 0, from: Infinity, to: -Infinity, reason };
    gap.dropped += timestamps.length;
    for (const ts of timestamps) {
      if (ts < gap.from) gap.from = ts;
      if (ts > gap.to) gap.to = ts;
    }
    this.state.pendingGap = gap;
    this.m.dropped.inc({ reason }, timestamps.length);
  }

  /**
   * What a commit needs to undo itself if its write fails, without copying what it does not touch:
   * a commit only appends to the chunk list, the tail and the headers (or swaps in a filtered
   * chunk list when it prunes) and only adds to the pruned set, so lengths are enough. This stays
   * cheap however long the backlog after an outage.
   */
  private snapshot() {
    return {
      state: copyState(this.state),
      tail: this.tail,
      tailLength: this.tail.lines.length,
      tailBytes: this.tail.bytes,
      tailOpenedAt: this.tail.openedAt,
      chunks: this.chunks,
      chunksLength: this.chunks.length,
      prunedSize: this.pruned.size,
    };
  }

  private restore(s: ReturnType<Journal['snapshot']>): void {
    for (let b = s.state.lastBatch + 1; b <= this.state.lastBatch; b++) this.headers.delete(b);
    const extra = this.pruned.size - s.prunedSize;
    if (extra > 0) {
      // Sets iterate in insertion order: the entries added since the snapshot are the last ones.
      for (const b of [...this.pruned].slice(-extra)) this.pruned.delete(b);
    }
    this.state = s.state;
    s.tail.lines.length = s.tailLength;
    this.tail = { lines: s.tail.lines, bytes: s.tailBytes, openedAt: s.tailOpenedAt };
    s.chunks.length = s.chunksLength;
    this.chunks = s.chunks;
    this.readCache = null;
  }

  private armAgeTimer(): void {
    if (this.ageTimer || this.closed || this.tail.lines.length === 0) return;
    const due = Math.max(0, this.tail.openedAt + this.batchPolicy.maxAgeMs - this.now());
    this.ageTimer = setTimeout(() => {
      this.ageTimer = null;
      void this.sealIfDue();
    }, due);
    this.ageTimer.unref?.();
  }

  private async sealIfDue(): Promise<void> {
    if (this.closed || this.tail.lines.length === 0) return;
    if (this.now() - this.tail.openedAt < this.batchPolicy.maxAgeMs) return this.armAgeTimer();
    await this.serialized(() => this.commit([], true)).catch((err) => this.log.error({ err: (err as Error).message }, 'sealing by age failed'));
  }

  /** Commit everything queued so far, without waiting for the commit timer. */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.committing) {
      if (!this.committing) this.startCommit();
      await this.committing;
    }
  }

  /** Seal whatever is in the tail now. Returns the new header, or null when the tail was empty. */
  async sealNow(): Promise<BatchHeader | null> {
    await this.flush();
    const before = this.state.lastBatch;
    await this.serialized(() => (this.tail.lines.length > 0 || this.state.pendingGap ? this.commit([], true) : Promise.resolve()));
    return this.state.lastBatch > before ? this.headers.get(this.state.lastBatch) ?? null : null;
  }

  // ---------------------------------------------------------------- acknowledging

  /** A sink holds batches 1..n: delete their records and headers. Idempotent; n never goes back. */
  async acknowledge(throughBatch: number): Promise<void> {
    await this.serialized(async () => {
      if (throughBatch <= this.state.ackedBatch) return;
      if (throughBatch > this.state.lastBatch) throw new RangeError(`cannot acknowledge batch ${throughBatch}: the last sealed batch is ${this.state.lastBatch}`);
      const header = this.headers.get(throughBatch)!;
      // Work out the new state aside and change nothing in memory until the write is durable.
      const state = copyState(this.state);
      const ops: { type: 'put' | 'del'; key: string; value?: string }[] = [];
      const gone = this.firstChunkEndingAtOrAfter(header.last + 1); // chunks wholly acknowledged: a prefix
      for (let i = 0; i < gone; i++) {
        const c = this.chunks[i]!;
        ops.push({ type: 'del', key: chunkKey(c.first) }, { type: 'del', key: indexKey(c.first) });
        state.bytes -= c.bytes;
      }
      for (let b = state.ackedBatch + 1; b <= throughBatch; b++) {
        const h = this.headers.get(b);
        if (h) state.bytes -= canonicalize(h).length;
        ops.push({ type: 'del', key: headerKey(b) });
        if (this.pruned.has(b)) ops.push({ type: 'del', key: prunedKey(b) });
      }
      state.ackedBatch = throughBatch;
      state.ackedSeq = header.last;
      state.ackedHeaderHash = headerHash(header);
      ops.push({ type: 'put', key: STATE_KEY, value: JSON.stringify(state) });
      try {
        await this.db.batch(ops as never, { sync: true });
      } catch (err) {
        this.m.writeErrors.inc();
        throw err;
      }
      for (let b = this.state.ackedBatch + 1; b <= throughBatch; b++) {
        this.headers.delete(b);
        this.pruned.delete(b);
      }
      this.chunks = this.chunks.slice(gone);
      this.state = state;
      this.readCache = null;
      this.durable = copyState(this.state);
      this.publishGauges();
    });
  }

  // ---------------------------------------------------------------- reading

  stats(): JournalStats {
    const d = this.durable;
    let prunedRecords = 0;
    let prunedBatches = 0;
    for (const b of this.pruned) {
      if (b > d.lastBatch) continue;
      prunedBatches++;
      prunedRecords += this.headers.get(b)?.count ?? 0;
    }
    return {
      device: this.opts.device,
      lastSeq: d.lastSeq,
      sealedSeq: d.sealedSeq,
      lastBatch: d.lastBatch,
      ackedBatch: d.ackedBatch,
      ackedSeq: d.ackedSeq,
      unsentRecords: d.lastSeq - d.ackedSeq - prunedRecords,
      unsentBatches: d.lastBatch - d.ackedBatch,
      prunedBatches,
      pendingGap: d.pendingGap,
      bytes: d.bytes,
      maxBytes: this.maxBytes,
    };
  }

  header(batch: number): BatchHeader | null {
    return this.headers.get(batch) ?? null;
  }

  get ackedBatch(): number {
    return this.state.ackedBatch;
  }

  /** What batch ackedBatch+1 chains to: the hash of the last acknowledged header (zeros before any). */
  get ackedHeaderHash(): string {
    return this.state.ackedHeaderHash;
  }

  /** The seq after which records are not yet in a sealed batch. */
  get sealedSeq(): number {
    return this.state.sealedSeq;
  }

  /** The canonical lines of a sealed batch still held (empty when pruned), or null when not held. */
  async readBatchLines(batch: number): Promise<{ header: BatchHeader; lines: string[]; pruned: boolean } | null> {
    const header = this.headers.get(batch);
    if (!header) return null;
    if (this.pruned.has(batch)) return { header, lines: [], pruned: true };
    const lines: string[] = [];
    for (let i = this.firstChunkEndingAtOrAfter(header.first); i < this.chunks.length; i++) {
      const c = this.chunks[i]!;
      if (c.first > header.last) break;
      const chunk = await this.readChunkLines(c.first);
      const from = Math.max(header.first, c.first) - c.first;
      const to = Math.min(header.last, c.last) - c.first;
      for (let i = from; i <= to; i++) lines.push(chunk[i]!);
    }
    if (lines.length !== header.count) {
      throw new Error(`journal holds ${lines.length} of batch ${batch}'s ${header.count} records; the journal is damaged`);
    }
    return { header, lines, pruned: false };
  }

  async readBatch(batch: number): Promise<StoredBatch | null> {
    const b = await this.readBatchLines(batch);
    if (!b) return null;
    const records = b.lines.map((l) => JSON.parse(l) as JournalRecord);
    return b.pruned ? { header: b.header, records, pruned: true } : { header: b.header, records };
  }

  /** Every record still held, in seq order, sealed or not: for `journal verify` and export. */
  async *records(): AsyncGenerator<{ seq: number; line: string }> {
    for (const c of this.chunks) {
      const lines = await this.readChunkLines(c.first);
      for (let i = 0; i < lines.length; i++) yield { seq: c.first + i, line: lines[i]! };
    }
  }

  /** Binary search: the index of the first held chunk whose last seq is >= seq. */
  private firstChunkEndingAtOrAfter(seq: number): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.chunks[mid]!.last < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private async readChunkLines(first: number): Promise<string[]> {
    if (this.readCache?.first === first) return this.readCache.lines;
    const text = await this.db.get(chunkKey(first));
    if (text === undefined) throw new Error(`journal chunk ${first} is missing; the journal is damaged`);
    const lines = text.split('\n');
    this.readCache = { first, lines };
    return lines;
  }

  // ---------------------------------------------------------------- listeners, closing

  onCommitted(listener: (records: readonly JournalRecord[]) => void): () => void {
    this.committedListeners.push(listener);
    return () => removeFrom(this.committedListeners, listener);
  }

  onSealed(listener: (header: BatchHeader) => void): () => void {
    this.sealedListeners.push(listener);
    return () => removeFrom(this.sealedListeners, listener);
  }

  private publishGauges(): void {
    const s = this.stats();
    this.m.bytes.set(s.bytes);
    this.m.unsent.set(s.unsentRecords);
    this.m.lastSeq.set(s.lastSeq);
  }

  /** Commit what is queued, seal the tail (and any pending gap), and close the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flush();
    if (this.ageTimer) clearTimeout(this.ageTimer);
    this.ageTimer = null;
    try {
      if (!this.opts.readOnly && (this.tail.lines.length > 0 || this.state.pendingGap)) await this.serialized(() => this.commit([], true));
      await this.writeChain;
    } finally {
      await this.db.close();
    }
    this.log.info({ lastSeq: this.state.lastSeq, lastBatch: this.state.lastBatch }, 'journal closed');
  }
}

function copyState(s: JournalState): JournalState {
  const copy = { ...s, pendingGap: s.pendingGap ? { ...s.pendingGap } : null };
  if (s.lastValues) copy.lastValues = { ...s.lastValues }; // entries are replaced, never changed
  return copy;
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

function safeCall(fn: () => void, log: Logger): void {
  try {
    fn();
  } catch (err) {
    log.error({ err: (err as Error).message }, 'journal listener failed');
  }
}

function removeFrom<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}

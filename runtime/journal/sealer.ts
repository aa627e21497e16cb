// Sealing: the unsealed tail (the canonical lines after the last sealed seq) becomes the next
// batch once it is full (batch.maxRecords, batch.maxBytes) or old (batch.maxAgeMs): its Merkle
// root, the link to the previous header, the device's signature. The header goes into the same
// write as the commit that sealed it, so a batch is durable exactly when its last records are.
import { canonicalize } from '../../protocol/canonical.ts';
import { headerHash, signHeader, type BatchHeader, type ClockState } from '../../protocol/batch.ts';
import { leafHash, rootFromLeafHashes } from '../../protocol/merkle.ts';
import type { DeviceKey } from '../../protocol/signature.ts';
import type { ChunkStore } from './chunk-store.ts';
import { JournalOpenError } from './errors.ts';
import type { HeldBatches } from './held-batches.ts';
import type { JournalMetrics } from './journal-metrics.ts';
import { headerKey, type WriteOp } from './layout.ts';
import type { JournalStateCell } from './state.ts';

export interface BatchPolicy {
  maxRecords: number;
  maxBytes: number;
  maxAgeMs: number;
}

interface Tail {
  lines: string[];
  bytes: number;
  /** when its first record was committed (device clock) */
  openedAt: number;
}

/** The tail before a commit, to roll back to if the commit's write fails. */
export interface TailMark {
  tail: Tail;
  length: number;
  bytes: number;
  openedAt: number;
}

export interface SealerDeps {
  device: string;
  key: DeviceKey;
  policy: BatchPolicy;
  cell: JournalStateCell;
  held: HeldBatches;
  metrics: JournalMetrics;
  now: () => number;
  /** the device clock's sync state, stated in each header sealed (absent: headers carry no `clock`) */
  clock?: (() => ClockState) | undefined;
  /** the tail has reached batch.maxAgeMs: commit a seal (the journal runs it in its write chain) */
  sealByAge: () => Promise<void>;
}

export class Sealer {
  private tail: Tail = { lines: [], bytes: 0, openedAt: 0 };
  private ageTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  private readonly deps: SealerDeps;

  constructor(deps: SealerDeps) {
    this.deps = deps;
  }

  /** Rebuild the tail from the chunks after the last sealed seq (opening the journal). */
  async rebuildTail(chunks: ChunkStore, readOnly: boolean): Promise<void> {
    const state = this.deps.cell.current;
    for (const c of chunks.covering(state.sealedSeq + 1, Infinity)) {
      if (c.first <= state.sealedSeq) throw new JournalOpenError(`journal chunk ${c.first}..${c.last} straddles the last sealed seq; the journal is damaged`);
      const lines = await chunks.read(c.first);
      if (!lines) throw new JournalOpenError(`journal chunk ${c.first} is missing; the journal is damaged`);
      for (const line of lines) {
        this.tail.lines.push(line);
        this.tail.bytes += Buffer.byteLength(line);
      }
    }
    if (this.tail.lines.length !== state.lastSeq - state.sealedSeq) {
      throw new JournalOpenError(`journal tail holds ${this.tail.lines.length} records, expected ${state.lastSeq - state.sealedSeq}; the journal is damaged`);
    }
    if (this.tail.lines.length > 0 && !readOnly) {
      // The age of a batch counts from its first record, across restarts: a device that restarts
      // more often than maxAgeMs still seals by age.
      this.tail.openedAt = Math.min(state.tailOpenedAt ?? this.deps.now(), this.deps.now());
      this.armAgeTimer();
    }
  }

  /** Records in the tail. */
  get length(): number {
    return this.tail.lines.length;
  }

  /** Add a line being committed to the tail. Returns true when the tail is now full and must be sealed. */
  push(line: string, bytes: number): boolean {
    const t = this.tail;
    if (t.lines.length === 0) t.openedAt = this.deps.cell.current.tailOpenedAt = this.deps.now();
    t.lines.push(line);
    t.bytes += bytes;
    return t.lines.length >= this.deps.policy.maxRecords || t.bytes >= this.deps.policy.maxBytes;
  }

  get ageDue(): boolean {
    return this.tail.lines.length > 0 && this.deps.now() - this.tail.openedAt >= this.deps.policy.maxAgeMs;
  }

  /** The tail's mean line size: the estimate the disk bound is checked with before encoding. */
  meanLineBytes(): number {
    return Math.round(this.tail.bytes / this.tail.lines.length);
  }

  /** Seal the whole tail into the next batch; the caller has closed the chunk at the boundary. */
  seal(ops: WriteOp[]): BatchHeader {
    const { cell, held, key, device, now, metrics, clock } = this.deps;
    const state = cell.current;
    const lines = this.tail.lines;
    const first = state.sealedSeq + 1;
    const header = signHeader(
      {
        device,
        batch: state.lastBatch + 1,
        first,
        last: first + lines.length - 1,
        count: lines.length,
        root: rootFromLeafHashes(lines.map((l) => leafHash(l))).toString('hex'),
        prev: state.lastHeaderHash,
        created: now(),
        ...(clock ? { clock: clock() } : {}),
        epoch: state.epoch ?? 1,
      },
      key,
    );
    const text = canonicalize(header);
    ops.push({ type: 'put', key: headerKey(header.batch), value: text });
    held.add(header);
    state.lastBatch = header.batch;
    state.sealedSeq = header.last;
    state.lastHeaderHash = headerHash(header);
    state.bytes += text.length;
    this.tail = { lines: [], bytes: 0, openedAt: 0 };
    state.tailOpenedAt = null;
    metrics.sealed.inc();
    return header;
  }

  /**
   * A commit only appends to the tail, or seals it and starts a new one, so the old tail object
   * and its length are enough to undo it.
   */
  mark(): TailMark {
    return { tail: this.tail, length: this.tail.lines.length, bytes: this.tail.bytes, openedAt: this.tail.openedAt };
  }

  rollback(m: TailMark): void {
    m.tail.lines.length = m.length;
    this.tail = { lines: m.tail.lines, bytes: m.bytes, openedAt: m.openedAt };
  }

  /** Make sure a timer will seal the tail when it reaches batch.maxAgeMs. */
  armAgeTimer(): void {
    if (this.ageTimer || this.stopped || this.tail.lines.length === 0) return;
    const due = Math.max(0, this.tail.openedAt + this.deps.policy.maxAgeMs - this.deps.now());
    this.ageTimer = setTimeout(() => {
      this.ageTimer = null;
      this.onAge();
    }, due);
    this.ageTimer.unref?.();
  }

  /** No more sealing by age (the journal is closing and seals the tail itself). */
  stop(): void {
    this.stopped = true;
    if (this.ageTimer) clearTimeout(this.ageTimer);
    this.ageTimer = null;
  }

  private onAge(): void {
    if (this.stopped || this.tail.lines.length === 0) return;
    // A seal since the timer was armed started a younger tail.
    if (!this.ageDue) return this.armAgeTimer();
    void this.deps.sealByAge();
  }
}

// The device page's history as a part of the daemon: the index (history-index.ts) fed with every
// committed record, saved to `history.bin` in the data dir every minute and on stop, and at start
// loaded from there and brought up to date from the journal: the records still held after the
// snapshot's seq (or, without a snapshot, those of the last `hours`) are read again, in the
// background, bounded in time, with progress logged. A crash loses from the history at most what
// the uplink acknowledged (and the journal deleted) since the last save: a minute.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { writeFileAtomicAsync } from '../../kernel/atomic-file.ts';
import type { Component } from '../../kernel/component.ts';
import { counter, gauge } from '../../kernel/metrics.ts';
import type { JournalRecord } from '../../protocol/records.ts';
import type { HistoryConfig } from './config.ts';
import { HistoryIndex } from './history-index.ts';
import { decodeSnapshot, encodeSnapshot } from './snapshot.ts';

export const SNAPSHOT_FILE = 'history.bin';
const SAVE_MS = 60_000;
/** the rebuild from the journal stops here, with a warning, rather than keep a restart busy */
const REPLAY_MAX_MS = 60_000;
const PROGRESS_MS = 2000;
const REPLAY_SLICE = 2000;

/** What the history reads of the journal. */
export interface HistoryJournal {
  /** committed records from seq `from` on, in seq order */
  records(from: number): AsyncIterable<{ seq: number; line: string }>;
  lastSeq(): number;
  /** the first held seq in a chunk with a record at or after `ts` */
  firstSeqSince(ts: number): number;
  flush(): Promise<void>;
  /** the journal's recovery epoch (its seqs start again in each); 1 when not given */
  epoch?(): number;
}

export interface HistoryDeps {
  config: HistoryConfig;
  dataDir: string;
  journal: HistoryJournal;
  onCommitted(listener: (records: readonly JournalRecord[]) => void): void;
  log: Logger;
  metrics: Registry;
  now?: () => number;
}

export class HistoryComponent implements Component {
  readonly name = 'history';
  private idx: HistoryIndex | null = null;
  private running = false;
  private listening = false;
  /** records up to here come from the rebuild; live ones after it */
  private replayThrough = 0;
  private replay: Promise<void> | null = null;
  private replaying = false;
  /** a stop cut the rebuild short: the saved history stays as it was, and the next start reads again */
  private cutShort = false;
  private saver: NodeJS.Timeout | null = null;
  private saving: Promise<void> = Promise.resolve();
  private readonly d: HistoryDeps;
  private m!: ReturnType<typeof historyMetrics>;

  constructor(deps: HistoryDeps) {
    this.d = deps;
  }

  /** The index the page asks; empty until started. */
  get index(): HistoryIndex {
    return (this.idx ??= this.newIndex());
  }

  /** Whether the rebuild from the journal is still going on (the page says so). */
  get rebuilding(): boolean {
    return this.replaying;
  }

  async start(): Promise<void> {
    this.m = historyMetrics(this.d.metrics);
    this.idx = await this.loadSnapshot();
    await this.d.journal.flush();
    await this.followEpoch(this.idx);
    this.replayThrough = this.d.journal.lastSeq();
    this.running = true;
    if (!this.listening) {
      this.listening = true;
      this.d.onCommitted((records) => this.onRecords(records));
    }
    this.replaying = true;
    this.replay = this.rebuild().catch((err) => this.d.log.error({ err: (err as Error).message }, 'history: rebuilding from the journal failed; the page shows what was saved'));
    this.saver = setInterval(() => void this.save(), SAVE_MS);
    this.saver.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.saver) clearInterval(this.saver);
    this.saver = null;
    await this.replay;
    await this.save();
  }

  /**
   * A snapshot of an earlier epoch counts seqs of another chain. The new epoch opens with the
   * restart record and the records carried over from the old journal, which the history took in
   * when they were first journaled: the rebuild starts after them.
   */
  private async followEpoch(idx: HistoryIndex): Promise<void> {
    const epoch = this.d.journal.epoch?.() ?? 1;
    if (idx.epoch === epoch) return;
    let carriedThrough = 0;
    for await (const { line } of this.d.journal.records(1)) {
      const first = JSON.parse(line) as JournalRecord;
      if (first.kind === 'restart') carriedThrough = first.seq + first.rejournaled;
      break;
    }
    this.d.log.info({ savedEpoch: idx.epoch, epoch, carriedThrough }, 'history: the journal is in a later epoch than the saved history');
    idx.epoch = epoch;
    idx.lastSeq = carriedThrough;
  }

  private onRecords(records: readonly JournalRecord[]): void {
    if (!this.running || records.length === 0) return;
    const idx = this.idx!;
    const epoch = this.d.journal.epoch?.() ?? 1;
    if (epoch !== idx.epoch) {
      // The journal started a new epoch while running: what it carried over is in the history
      // already, and every record committed from now on is new, whatever its seq.
      idx.epoch = epoch;
      idx.lastSeq = records[0]!.seq - 1;
      this.replayThrough = 0;
    }
    if (records[0]!.seq > this.replayThrough) idx.note(records);
    else idx.note(records.filter((r) => r.seq > this.replayThrough));
    this.m.series.set(idx.seriesCount);
  }

  /** An empty index, of the journal's epoch: it has taken in nothing of another chain. */
  private newIndex(): HistoryIndex {
    const idx = new HistoryIndex({ config: this.d.config, ...(this.d.now ? { now: this.d.now } : {}), skipped: (reason) => this.m?.skipped.inc({ reason }) });
    idx.epoch = this.d.journal.epoch?.() ?? 1;
    return idx;
  }

  private async loadSnapshot(): Promise<HistoryIndex> {
    const file = join(this.d.dataDir, SNAPSHOT_FILE);
    const idx = this.newIndex();
    let buf: Buffer;
    try {
      buf = await readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.d.log.warn({ file, err: (err as Error).message }, 'history: the saved history is unreadable; rebuilding from the journal');
      return idx;
    }
    try {
      const { savedAt, lastSeq } = decodeSnapshot(buf, idx);
      this.d.log.info({ file, savedAt, lastSeq, series: idx.seriesCount }, 'history: loaded the saved history');
      return idx;
    } catch (err) {
      this.m.loadFailures.inc();
      this.d.log.warn({ file, problem: (err as Error).message }, 'history: the saved history is refused; rebuilding from the journal');
      return this.newIndex();
    }
  }

  /** Read again what the journal holds after the snapshot and within the window. */
  private async rebuild(): Promise<void> {
    const idx = this.idx!;
    const now = (this.d.now ?? Date.now)();
    const from = Math.max(idx.lastSeq + 1, this.d.journal.firstSeqSince(now - idx.windowMs));
    const through = this.replayThrough;
    if (from > through) {
      this.replaying = false;
      return void this.d.log.info({ read: 0, series: idx.seriesCount }, 'history: ready');
    }
    const t0 = Date.now();
    let lastLog = t0;
    let read = 0;
    this.d.log.info({ from, through }, 'history: rebuilding from the journal');
    const slice: JournalRecord[] = [];
    try {
      for await (const { seq, line } of this.d.journal.records(from)) {
        if (seq > through) break;
        if (!this.running) {
          this.cutShort = true;
          break;
        }
        slice.push(JSON.parse(line) as JournalRecord);
        if (slice.length < REPLAY_SLICE) continue;
        idx.note(slice);
        read += slice.length;
        slice.length = 0;
        await new Promise<void>((r) => setImmediate(r)); // live records and page requests keep their turn
        const at = Date.now();
        if (at - t0 > REPLAY_MAX_MS) {
          this.d.log.warn({ read, seq, through }, `history: rebuilding stopped after ${REPLAY_MAX_MS / 1000} s; older readings are not shown`);
          break;
        }
        if (at - lastLog >= PROGRESS_MS) {
          lastLog = at;
          this.d.log.info({ read, seq, through }, 'history: rebuilding');
        }
      }
      idx.note(slice);
      read += slice.length;
    } finally {
      // whatever was read stands; the snapshot may cover the journal through replayThrough from now
      if (idx.lastSeq < through) idx.lastSeq = through;
      this.replaying = false;
    }
    this.m.series.set(idx.seriesCount);
    this.d.log.info({ read, ms: Date.now() - t0, series: idx.seriesCount }, 'history: ready');
  }

  /** Saves run one after another; a failed save is logged and counted, the next one tries again. */
  private save(): Promise<void> {
    this.saving = this.saving.then(async () => {
      if (!this.idx || this.replaying || this.cutShort) return;
      const file = join(this.d.dataDir, SNAPSHOT_FILE);
      try {
        await writeFileAtomicAsync(file, encodeSnapshot(this.idx, (this.d.now ?? Date.now)()));
        this.m.saves.inc({ result: 'ok' });
      } catch (err) {
        this.m.saves.inc({ result: 'failed' });
        this.d.log.error({ file, err: (err as Error).message }, 'history: saving failed');
      }
    });
    return this.saving;
  }
}

function historyMetrics(reg: Registry) {
  return {
    series: gauge(reg, 'fieldproof_history_series', 'Series the device page keeps history for'),
    skipped: counter(reg, 'fieldproof_history_skipped_total', 'Readings not kept in the page history', ['reason']),
    saves: counter(reg, 'fieldproof_history_saves_total', 'History snapshots written', ['result']),
    loadFailures: counter(reg, 'fieldproof_history_load_failures_total', 'Saved histories refused at start'),
  };
}

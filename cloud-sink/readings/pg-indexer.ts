// Writes the readings of the batches this process accepted into PostgreSQL right after their
// acceptance has committed, off the path that acknowledges them: a device's batches are accepted
// one after another, and a readings write inside each acceptance made every batch wait for it.
// Here the batches accepted meanwhile are written together, in one transaction that takes their
// entries out of readings_pending (migration 007) and writes their readings with one COPY; a batch
// whose entry is already gone (another writer did it) is skipped. Nothing is lost to a crash: a
// batch's entry stays until its readings are in, and the fill-in (pg-backfill.ts) writes those of
// any entry left behind from the stored lines, at the next start and every `sweepMs`.
//
// The readings held for writing are bounded (`maxQueuedReadings`). A batch accepted while the
// queue is full keeps only its key here, and is filled in from its stored lines by this process
// as soon as the queue has been written (a burst from a fleet coming back online is taken faster
// than its readings are written): it is not left for the sweep, which takes only entries old
// enough to look abandoned by another process.
//
// A readings query asked of this process waits until the batches it accepted before the query are
// written (settled()), so that what it acknowledged is what it answers.
import type pg from 'pg';
import type { Logger } from 'pino';
import { silentLogger } from '../../kernel/log.ts';
import { inTransaction } from '../store/pg-tx.ts';
import { fillBatches, fillPending, type PendingKey } from './pg-backfill.ts';
import type { BatchReadings, PgReadingsWriter } from './pg-readings-write.ts';

export interface ReadingsIndexerOptions {
  db: () => pg.Pool;
  writer: PgReadingsWriter;
  /** readings held in memory for writing; beyond, a batch keeps its key and is filled in from its lines */
  maxQueuedReadings?: number;
  /** keys of such batches kept; beyond, a batch is left to the sweep */
  maxOverflowBatches?: number;
  /** longest a readings query waits for the batches this process accepted before it */
  settleWaitMs?: number;
  /** most readings written in one transaction */
  maxGroupReadings?: number;
  /**
   * how long the first batch waits for others to be written with (unless a query waits for it, or
   * half a group has come): fewer, larger writes cost the database less per reading
   */
  lingerMs?: number;
  /** how often entries left behind (by a process that died, or batches past the queue) are filled in */
  sweepMs?: number;
  /** an entry this old is left behind: no process is about to write it */
  leftBehindMs?: number;
  log?: Logger;
}

/** turned-away batches filled in between looks at the queue */
const OVERFLOW_STEP = 100;

export class PgReadingsIndexer {
  private queue: BatchReadings[] = [];
  private queuedReadings = 0;
  /** batches accepted while the queue was full: filled in from their stored lines once it has been written */
  private overflow: PendingKey[] = [];
  /** batches handed to enqueue() so far, and of them those written or left to the fill-in */
  private handed = 0;
  private settledCount = 0;
  private waiters: { upTo: number; wake: () => void }[] = [];
  private running: Promise<void> | null = null;
  private lingering: { timer: NodeJS.Timeout; done: () => void } | null = null;
  private sweeping: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private readonly log: Logger;

  private readonly opts: ReadingsIndexerOptions;

  constructor(opts: ReadingsIndexerOptions) {
    this.opts = opts;
    this.log = opts.log ?? silentLogger();
  }

  start(): void {
    this.timer = setInterval(() => {
      this.sweeping = fillPending(this.opts.db, this.opts.writer, this.opts.leftBehindMs ?? 30_000)
        .catch((err) => this.log.error({ err: (err as Error).message }, 'filling in readings left behind failed; retried at the next sweep'));
    }, this.opts.sweepMs ?? 60_000);
    this.timer.unref();
  }

  /** Write what is queued, then stop. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.stopLingering();
    // a stopping sink does not read back what the queue turned away: the sweep of the next start fills it in
    this.settledCount += this.overflow.length;
    this.overflow = [];
    await this.sweeping;
    while (this.running) await this.running;
  }

  /** Batches whose acceptance has committed: their readings are written soon. */
  enqueue(batches: readonly BatchReadings[]): void {
    for (const b of batches) {
      this.handed++;
      if (this.queuedReadings + b.rows.length > (this.opts.maxQueuedReadings ?? 500_000)) {
        // its readings are let go; its entry in readings_pending stays, and it is filled in from
        // the stored lines: by this process once the queue is written, or by the sweep
        if (this.overflow.length < (this.opts.maxOverflowBatches ?? 100_000)) this.overflow.push({ device: b.device, epoch: b.epoch, batch: b.batch });
        else this.settledCount++;
        continue;
      }
      this.queue.push(b);
      this.queuedReadings += b.rows.length;
    }
    this.wakeWaiters();
    if (this.queuedReadings >= this.maxGroup / 2) this.stopLingering();
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
  }

  private get maxGroup(): number {
    return this.opts.maxGroupReadings ?? 100_000;
  }

  /** Wait up to lingerMs for more batches, unless it is cut short. */
  private linger(): Promise<void> {
    const ms = this.opts.lingerMs ?? 20;
    if (ms <= 0 || this.waiters.length > 0 || this.queuedReadings >= this.maxGroup / 2) return Promise.resolve();
    return new Promise((done) => {
      this.lingering = { timer: setTimeout(() => this.stopLingering(), ms), done };
    });
  }

  private stopLingering(): void {
    const l = this.lingering;
    if (!l) return;
    this.lingering = null;
    clearTimeout(l.timer);
    l.done();
  }

  /**
   * Resolves once the readings of every batch handed over before this call are written (or left to
   * the sweep), or after `settleWaitMs` at most: under a burst the queue and what it turned away
   * can take seconds to write, and a query should answer with what is written rather than hold
   * its client that long.
   */
  settled(): Promise<void> {
    const upTo = this.handed;
    if (this.settledCount >= upTo) return Promise.resolve();
    return new Promise((wake) => {
      const waiter = { upTo, wake: () => {
        clearTimeout(timer);
        wake();
      } };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        wake();
      }, this.opts.settleWaitMs ?? 5_000);
      timer.unref();
      this.waiters.push(waiter);
      this.stopLingering();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 || this.overflow.length > 0) {
      // the queued batches first: their readings are in memory, and newer
      if (this.queue.length === 0) {
        await this.fillOverflow();
        continue;
      }
      await this.linger();
      const group = this.takeGroup();
      try {
        await this.write(group);
      } catch (err) {
        // the entries stay: the fill-in writes these batches from their stored lines
        this.log.error({ err: (err as Error).message, batches: group.length }, 'writing readings failed; left to the fill-in');
      }
      this.settledCount += group.length;
      this.wakeWaiters();
    }
  }

  /** A share of the batches the full queue turned away, from their stored lines. */
  private async fillOverflow(): Promise<void> {
    const keys = this.overflow.splice(0, OVERFLOW_STEP);
    try {
      await fillBatches(this.opts.db, this.opts.writer, keys);
    } catch (err) {
      // their entries stay: the sweep fills them in
      this.log.error({ err: (err as Error).message, batches: keys.length }, 'filling in readings failed; left to the sweep');
    }
    this.settledCount += keys.length;
    this.wakeWaiters();
  }

  private takeGroup(): BatchReadings[] {
    const max = this.maxGroup;
    let n = 0;
    let k = 0;
    while (k < this.queue.length && (k === 0 || n + this.queue[k]!.rows.length <= max)) n += this.queue[k++]!.rows.length;
    const group = this.queue.splice(0, k);
    this.queuedReadings -= n;
    return group;
  }

  /** One transaction: take the batches' entries out, write the readings of those that were still in. */
  private async write(group: BatchReadings[]): Promise<void> {
    // Not waited for on disk: what it writes can be lost only with the entries it takes out, and
    // an entry back after a crash is written again from the stored lines (the fill-in).
    await inTransaction(this.opts.db(), async (c) => {
      const { rows } = await c.query<{ device: string; epoch: number; batch: string }>(
        `DELETE FROM readings_pending WHERE (device, epoch, batch) IN (SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[]))
         RETURNING device, epoch, batch`,
        [group.map((b) => b.device), group.map((b) => b.epoch), group.map((b) => b.batch)]);
      const taken = new Set(rows.map((r) => `${r.device}\n${r.epoch}\n${r.batch}`));
      await this.opts.writer.store(c, group.filter((b) => taken.has(`${b.device}\n${b.epoch}\n${b.batch}`)));
    }, 'BEGIN; SET LOCAL synchronous_commit = off');
  }

  private wakeWaiters(): void {
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) (this.settledCount >= w.upTo ? w.wake() : still.push(w));
    this.waiters = still;
  }
}

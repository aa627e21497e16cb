// What a broker missed, sent from the journal (Sparkplug, the cloud IoT platforms): the records
// between the durable cursor and the first record sent live in this session, and any the live
// path left behind because the broker was not keeping up. Read by seq straight from the journal's committed records, a chunk at a
// time, with at most `maxInFlight` messages waiting for the broker and at most `replayPerSecond`
// records a second, so that memory stays bounded and live data keeps its share of the link.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { JournalRecord } from '../../protocol/records.ts';
import type { PublishedCursor } from './published-cursor.ts';

type Range = { first: number; last: number };

/** What a publisher reads of the journal. */
export interface PublishedJournal {
  /** committed records from seq `from` on, in seq order */
  records(from: number): AsyncIterable<{ seq: number; line: string }>;
  /** the last committed seq */
  lastSeq(): number;
  /** commits what is queued now */
  flush(): Promise<void>;
  /**
   * The publisher `name`'s broker has every record through `through` and its cursor saying so is
   * saved: the journal keeps the records after it for this publisher (and may delete those before).
   */
  hold(name: string, through: number): Promise<void>;
  /** Told when the disk bound dropped records the publisher `name` did not have yet, through seq `through`. */
  onHoldLost(name: string, listener: (count: number, through: number) => void): void;
  /** Through which seq the hold of `name` is, as of the journal's latest write (a drop moves it at once). */
  heldThrough(name: string): number | undefined;
  /** the journal's recovery epoch (seqs count within it); absent means 1 */
  readonly epoch?: number;
}

/** Records read before they are handed on, at most, unless the publisher asks for another chunk size. */
const READ_CHUNK = 100;

/** The connection the backlog is sent over. */
export interface BacklogLink {
  readonly online: boolean;
  /** resolves when no more than `max` publishes wait for the broker, or the connection is gone */
  room(max: number): Promise<void>;
}

export interface BacklogDeps {
  /** names the publisher in the log ('sparkplug') */
  name: string;
  /**
   * `readChunk`: records handed to `send` at once (default 100); a publisher that batches by topic
   * (cloud telemetry: a topic per sensor) asks for more, so that its messages fill up
   */
  limits: { replayPerSecond: number; maxInFlight: number; readChunk?: number };
  journal: PublishedJournal;
  cursor: PublishedCursor;
  link: BacklogLink;
  log: Logger;
  /** Publishes records flagged historical; false when the connection is gone. */
  send(records: readonly JournalRecord[]): boolean;
  /** records sent from the journal */
  replayed(count: number): void;
  /** records the journal no longer held when the backlog reached them */
  missed(count: number): void;
  /**
   * Records through `last` are gone: true when the disk bound dropped them under the publisher's
   * hold, which then accounts them itself (the backlog may find them gone before it is told).
   */
  lostUnderHold?(last: number): boolean;
}

export class Backlog {
  private ranges: Range[] = [];
  private loop: Promise<void> | null = null;
  private stopped = false;
  /** bumped by each new session: a walk begun in an earlier one gives way */
  private epoch = 0;
  private readonly d: BacklogDeps;

  constructor(deps: BacklogDeps) {
    this.d = deps;
  }

  /** A new session: everything the cursor lacks up to `through` is owed again. */
  resume(through: number): void {
    this.epoch++;
    this.ranges = [];
    if (this.d.cursor.through < through) this.add(this.d.cursor.through + 1, through);
  }

  add(first: number, last: number): void {
    const tail = this.ranges[this.ranges.length - 1];
    if (tail && first <= tail.last + 1) tail.last = Math.max(tail.last, last);
    else this.ranges.push({ first, last });
    this.kick();
  }

  private kick(): void {
    this.loop ??= this.run().finally(() => {
      this.loop = null;
      // a walk that gave way to a new session leaves that session's ranges to a new walk
      if (this.ranges.length > 0 && !this.stopped && this.d.link.online) this.kick();
    });
  }

  private live(epoch: number): boolean {
    return epoch === this.epoch && !this.stopped && this.d.link.online;
  }

  private async run(): Promise<void> {
    const epoch = this.epoch;
    const started = Date.now();
    let sent = 0;
    const pace = async () => {
      // no faster than replayPerSecond on average, and no more than maxInFlight unacknowledged
      const ahead = (sent / this.d.limits.replayPerSecond) * 1000 - (Date.now() - started);
      if (ahead > 0) await sleep(ahead);
      await this.d.link.room(this.d.limits.maxInFlight);
    };
    while (this.live(epoch) && this.ranges.length > 0) {
      const range = this.ranges[0]!;
      const done = await this.sendRange(range, epoch, async (n) => {
        sent += n;
        await pace();
      });
      if (!done || !this.live(epoch)) return;
      this.ranges.shift();
      this.d.log.info({ first: range.first, last: range.last }, `${this.d.name} backlog sent`);
    }
  }

  /** Sends the records of `range` the cursor lacks; false when interrupted (offline, stopped). */
  private async sendRange(range: Range, epoch: number, paced: (n: number) => Promise<void>): Promise<boolean> {
    const { journal, cursor } = this.d;
    let expected = range.first;
    let chunk: JournalRecord[] = [];
    const flush = async (): Promise<boolean> => {
      if (chunk.length === 0) return true;
      const records = chunk;
      chunk = [];
      if (!this.live(epoch) || !this.d.send(records)) return false;
      this.d.replayed(records.length);
      await paced(records.length);
      return this.live(epoch);
    };
    for await (const { seq, line } of journal.records(range.first)) {
      if (seq > range.last) break;
      if (seq > expected) this.gone(expected, seq - 1);
      expected = seq + 1;
      if (cursor.has(seq)) continue;
      chunk.push(JSON.parse(line) as JournalRecord);
      if (chunk.length >= (this.d.limits.readChunk ?? READ_CHUNK) && !(await flush())) return false;
      if (!this.live(epoch)) return false;
    }
    if (!(await flush())) return false;
    if (expected <= range.last) this.gone(expected, range.last);
    return true;
  }

  /**
   * Records the journal no longer holds: those the cursor lacks were deleted without this
   * publisher's hold (it was not configured, or its cursor was lost) and are counted, passed over.
   * Those the disk bound dropped under the hold are the publisher's to count (JournalForwarder).
   */
  private gone(first: number, last: number): void {
    if (this.d.lostUnderHold?.(last)) return;
    const lacking = this.d.cursor.lacking(first, last);
    if (lacking > 0) {
      this.d.missed(lacking);
      this.d.log.warn({ first, last, records: lacking }, `${this.d.name}: records gone from the journal before they were published`);
    }
    this.d.cursor.mark(first, last);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

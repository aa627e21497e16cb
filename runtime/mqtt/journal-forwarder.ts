// The journal forwarded to one MQTT broker (Sparkplug, a cloud IoT platform): records go out live
// as they are committed; what the broker missed (an outage, a restart, a connection too slow to
// keep up) is sent afterwards from the journal by the backlog, in seq order and flagged
// historical, beside the live data rather than ahead of it. A durable cursor says which records
// the broker has; it is saved every second and on stop, and each save moves the publisher's hold
// on the journal (runtime/journal/holds.ts), which keeps the records after it even once the sink
// has them. Records the disk bound drops under the hold are counted, logged once per episode (until
// the broker has caught up) and passed over.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { JournalRecord } from '../../protocol/records.ts';
import { Backlog, type BacklogLink, type PublishedJournal } from './journal-backlog.ts';
import type { PublishedCursor } from './published-cursor.ts';

/** How often the cursor is written to disk. */
const SAVE_MS = 1000;
/** How long a stop waits for the broker to take what is in flight. */
const STOP_DRAIN_MS = 2000;

/** What the daemon gives a part that forwards the journal to a broker (Sparkplug, cloud telemetry). */
export interface JournalPublisherDeps {
  /** the device name */
  device: string;
  dataDir: string;
  journal: PublishedJournal;
  onCommitted(listener: (records: readonly JournalRecord[]) => void): void;
  log: Logger;
  metrics: Registry;
}

export interface ForwarderDeps {
  /** names the publisher in the log ('sparkplug') */
  name: string;
  limits: { replayPerSecond: number; maxInFlight: number; readChunk?: number };
  journal: PublishedJournal;
  cursor: PublishedCursor;
  link: BacklogLink & { readonly inFlight: number };
  log: Logger;
  /** Publishes records in seq order, marking the cursor as the broker takes them; false when offline. */
  send(records: readonly JournalRecord[], historical: boolean): boolean;
  replayed(count: number): void;
  missed(count: number): void;
  /** records the disk bound dropped from the journal before the broker had them */
  lost(count: number): void;
  /** journal records the broker does not have yet, as of the last save */
  behind(count: number): void;
}

export class JournalForwarder {
  private readonly d: ForwarderDeps;
  private readonly backlog: Backlog;
  /** records from here on are sent live in this session; those before are the backlog's */
  private liveFrom = Number.POSITIVE_INFINITY;
  private running = false;
  private saver: NodeJS.Timeout | null = null;
  /** records lost to the disk bound since start */
  private lostToDiskBound = 0;
  /** an episode of loss is logged once: from the first record lost until the broker has caught up */
  private losing = false;

  constructor(deps: ForwarderDeps) {
    this.d = deps;
    this.backlog = new Backlog({
      ...deps,
      send: (records) => deps.send(records, true),
      lostUnderHold: (last) => {
        if ((deps.journal.heldThrough(deps.name) ?? -1) < last) return false;
        this.droppedUnderHold(last);
        return true;
      },
    });
  }

  /** Records lost to the disk bound since start: for the publisher's status. */
  get lost(): number {
    return this.lostToDiskBound;
  }

  /**
   * Holds the journal from the saved cursor on and begins saving it; records reach `live` from
   * the journal's commit listener.
   */
  start(): void {
    const { journal, name, cursor } = this.d;
    journal.onHoldLost(name, (_count, through) => this.droppedUnderHold(through));
    // a cursor saved in an earlier epoch counts seqs of another chain
    if (this.sameEpoch()) this.holdJournal(cursor.savedThrough);
    this.running = true;
    this.saver = setInterval(() => void this.save(true), SAVE_MS);
    this.saver.unref();
  }

  /** A session is up: what the cursor lacks so far is the backlog's, what is committed from now on goes live. */
  connected(): void {
    this.sameEpoch();
    this.liveFrom = this.d.journal.lastSeq() + 1;
    this.backlog.resume(this.liveFrom - 1);
  }

  offline(): void {
    this.liveFrom = Number.POSITIVE_INFINITY;
  }

  /** Committed records: sent at once when connected and not too far behind; else left to the backlog. */
  live(records: readonly JournalRecord[]): void {
    if (!this.running || !this.d.link.online) return;
    if (!this.sameEpoch()) this.connected();
    const fresh = records[0]!.seq >= this.liveFrom ? records : records.filter((r) => r.seq >= this.liveFrom);
    if (fresh.length === 0) return;
    if (this.d.link.inFlight >= this.d.limits.maxInFlight) {
      // the broker is not keeping up: the journal holds these, the backlog sends them when it can
      this.backlog.add(fresh[0]!.seq, fresh[fresh.length - 1]!.seq);
      return;
    }
    this.d.send(fresh, false);
  }

  /**
   * Whether the cursor counts in the journal's epoch. A new epoch (the journal was lost or
   * restored, docs/spec/batches.md#epochs) numbers its records from 1 again: the cursor and the
   * hold start over, and what the journal carried over goes out again as historical. False when
   * it started over.
   */
  private sameEpoch(): boolean {
    const epoch = this.d.journal.epoch ?? 1;
    if (epoch === this.d.cursor.epoch) return true;
    this.d.log.warn({ from: this.d.cursor.epoch, to: epoch }, `the journal started a new epoch: ${this.d.name} publishes its records from seq 1, what it carried over again as historical`);
    this.d.cursor.startEpoch(epoch);
    this.holdJournal(0);
    return false;
  }

  private async save(background = false): Promise<void> {
    const { cursor, journal, log, name } = this.d;
    // before the hold moves: a cursor of the old epoch must not hold the new one's seqs
    if (!this.sameEpoch() && this.running && this.d.link.online) this.connected();
    try {
      const behind = Math.max(0, journal.lastSeq() - cursor.through);
      this.d.behind(behind);
      if (this.losing && behind === 0) {
        this.losing = false;
        log.info({ lost: this.lostToDiskBound }, `${name} caught up with the journal`);
      }
      if (background) await cursor.saveInBackground();
      else cursor.save();
    } catch (err) {
      log.error({ err: (err as Error).message }, `${name} cursor not saved`);
    }
    this.holdJournal(cursor.savedThrough);
  }

  /** Only a saved cursor moves the hold: after a SIGKILL the journal still holds what the file lacks. */
  private holdJournal(through: number): void {
    this.d.journal.hold(this.d.name, through).catch((err) => this.d.log.error({ err: (err as Error).message }, `${this.d.name} journal hold not moved`));
  }

  /**
   * The disk bound dropped records under the hold, through seq `through`. The hold lags the
   * cursor by up to a save, so only those the broker did not have count: counted, passed over,
   * logged once per episode.
   */
  private droppedUnderHold(through: number): void {
    const count = this.d.cursor.lacking(1, through);
    this.d.cursor.mark(1, through);
    if (count === 0) return;
    this.lostToDiskBound += count;
    this.d.lost(count);
    if (this.losing) return;
    this.losing = true;
    this.d.log.warn({ records: count, through }, `${this.d.name}: the journal's disk bound dropped records before the broker had them (the sink has them); further losses are counted until the broker catches up`);
  }

  /**
   * What the sources left queued is committed and sent (the broker given up to 2 s to take it);
   * then `disconnect`, the backlog stopped, the cursor saved. Whatever is left goes next start.
   */
  async stop(disconnect: () => Promise<void>): Promise<void> {
    if (!this.running) return;
    if (this.saver) clearInterval(this.saver);
    await this.d.journal.flush().catch(() => undefined);
    this.running = false;
    const until = Date.now() + STOP_DRAIN_MS;
    while (this.d.link.online && this.d.link.inFlight > 0 && Date.now() < until) await sleep(10);
    await disconnect();
    await this.backlog.stop();
    await this.save();
  }
}

// Batches of one device must reach the store in chain order, but the uplink keeps a few requests
// in flight and they may arrive out of order. A batch whose predecessor is still on its way waits
// here (up to chainWaitMs) instead of being refused, so a healthy pipelined uplink never sees a
// spurious 409; a predecessor that never comes leaves the store to answer "out of order".
//
// The head kept here is a hint, never the authority: the store decides, atomically, whether a
// batch is next. Over a shared store (PostgreSQL with several sink processes) the predecessor
// may have reached another process, so a batch that looks ahead of the hint re-reads the head
// from the store, and while it waits it asks the store again every few milliseconds.
import type { CommitOutcome, SinkStore } from './store/types.ts';

interface Handed {
  batch: number;
  done: Promise<unknown>;
  /** its commit has finished: nothing of the device is on its way to the store from here */
  settled: boolean;
}

const settledAt = (batch: number): Handed => ({ batch, done: Promise.resolve(), settled: true });

/** One chain: a device's epoch. */
interface Line {
  /** the key of the maps below: the device's name, with `@epoch` from epoch 2 on */
  key: string;
  device: string;
  epoch: number;
}

const lineKey = (device: string, epoch: number): string => (epoch === 1 ? device : `${device}@${epoch}`);

export interface SequencerOptions {
  /**
   * the store applies commits in call order (LevelDB's group commit), so the next batch may be
   * handed over before the previous one is synced
   */
  pipelined: boolean;
  /** other processes write to the store too: the head kept here may be behind */
  shared: boolean;
  /** how often a waiting batch re-reads a shared store's head (default 20 ms) */
  pollMs?: number;
}

export class ChainSequencer {
  private readonly handed = new Map<string, Handed>();
  private readonly waiters = new Map<string, { batch: number; wake: () => void }[]>();

  private readonly store: SinkStore;
  private readonly opts: SequencerOptions;

  constructor(store: SinkStore, opts: SequencerOptions) {
    this.store = store;
    this.opts = opts;
  }

  /** Batch numbers count within an epoch: each epoch of a device is a line of its own. */
  async commit(deviceName: string, epoch: number, batch: number, waitMs: number, fn: () => Promise<CommitOutcome>): Promise<CommitOutcome> {
    const line: Line = { key: lineKey(deviceName, epoch), device: deviceName, epoch };
    const key = line.key;
    let st = await this.state(line);
    // Another process may hold the predecessor; while this one is storing a batch of the device
    // itself (a pipelining uplink), the gap is most likely closing here, and the store is not asked.
    if (batch > st.batch + 1 && this.opts.shared && st.settled) st = await this.refresh(line);
    if (batch > st.batch + 1 && waitMs > 0) {
      await this.waitFor(line, batch - 1, waitMs);
      st = await this.state(line);
    }
    const inLine = batch === st.batch + 1;
    if (inLine && !this.opts.pipelined) await st.done.catch(() => undefined);
    const run = fn();
    if (inLine) {
      const entry: Handed = { batch, done: run, settled: false };
      const settle = () => {
        entry.settled = true;
      };
      run.then(settle, settle);
      this.handed.set(key, entry);
      this.wake(key);
    }
    let outcome: CommitOutcome;
    try {
      outcome = await run;
    } catch (err) {
      this.forget(key);
      throw err;
    }
    if (outcome.status === 'stored') this.advance(key, batch);
    // A batch the store did not take leaves our picture of the head unreliable: re-read it.
    else if (inLine) this.forget(key);
    return outcome;
  }

  /** The last batch of the device's epoch this process knows to be stored or on its way; null when it knows nothing. */
  knownHead(device: string, epoch: number): number | null {
    return this.handed.get(lineKey(device, epoch))?.batch ?? null;
  }

  private async state(line: Line): Promise<Handed> {
    const known = this.handed.get(line.key);
    if (known) return known;
    const head = await this.storeHead(line);
    const st = this.handed.get(line.key) ?? settledAt(head);
    this.handed.set(line.key, st);
    return st;
  }

  /** The last batch the store holds in the line's epoch: none while the device's current epoch is another. */
  private async storeHead(line: Line): Promise<number> {
    const head = await this.store.head(line.device);
    return head.epoch === line.epoch ? head.batch : 0;
  }

  /** The store's head, where it is ahead of what this process has seen (another process stored batches). */
  private async refresh(line: Line): Promise<Handed> {
    const head = await this.storeHead(line);
    const known = this.handed.get(line.key);
    if (known && known.batch >= head) return known;
    const st = settledAt(head);
    this.handed.set(line.key, st);
    this.wake(line.key);
    return st;
  }

  /** A batch stored that the hint did not expect next (it was behind a shared store's head). */
  private advance(device: string, batch: number): void {
    const known = this.handed.get(device);
    if (known && known.batch >= batch) return;
    this.handed.set(device, settledAt(batch));
    this.wake(device);
  }

  private forget(device: string): void {
    this.handed.delete(device);
    const list = this.waiters.get(device) ?? [];
    this.waiters.delete(device);
    for (const w of list) w.wake();
  }

  /** Until batch `batch` is stored (as far as this process can tell) or `ms` have passed. */
  private async waitFor(line: Line, batch: number, ms: number): Promise<void> {
    const device = line.key;
    const deadline = Date.now() + ms;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) return;
      const woken = await this.sleepOrWake(device, batch, this.opts.shared ? Math.min(left, this.opts.pollMs ?? 20) : left);
      if (woken || !this.opts.shared) return;
      // stalled here: ask the store whether another process stored the predecessor
      if (this.handed.get(device)?.settled === false) continue;
      if ((await this.refresh(line)).batch >= batch) return;
    }
  }

  private sleepOrWake(device: string, batch: number, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const list = this.waiters.get(device) ?? [];
      const entry = {
        batch,
        wake: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        const l = this.waiters.get(device);
        const at = l ? l.indexOf(entry) : -1;
        if (l && at >= 0) {
          l.splice(at, 1);
          if (l.length === 0) this.waiters.delete(device);
        }
        resolve(false);
      }, ms);
      list.push(entry);
      this.waiters.set(device, list);
    });
  }

  private wake(device: string): void {
    const st = this.handed.get(device);
    const list = this.waiters.get(device);
    if (!st || !list) return;
    const ready = list.filter((w) => w.batch <= st.batch);
    if (ready.length === 0) return;
    const rest = list.filter((w) => w.batch > st.batch);
    if (rest.length > 0) this.waiters.set(device, rest);
    else this.waiters.delete(device);
    for (const w of ready) w.wake();
  }
}

// Batches of one device must reach the store in chain order, but the uplink keeps a few requests
// in flight and they may arrive out of order. A batch whose predecessor is still on its way waits
// here (up to chainWaitMs) instead of being refused, so a healthy pipelined uplink never sees a
// spurious 409; a predecessor that never comes leaves the store to answer "out of order".
import type { CommitOutcome, SinkStore } from './store/types.ts';

interface Handed {
  batch: number;
  done: Promise<unknown>;
}

export class ChainSequencer {
  private readonly handed = new Map<string, Handed>();
  private readonly waiters = new Map<string, { batch: number; wake: () => void }[]>();

  private readonly store: SinkStore;
  private readonly pipelined: boolean;

  /**
   * @param pipelined the store applies commits in call order (LevelDB's group commit), so the
   *   next batch may be handed over before the previous one is synced
   */
  constructor(store: SinkStore, pipelined: boolean) {
    this.store = store;
    this.pipelined = pipelined;
  }

  /** Batch numbers count within an epoch: each epoch of a device is a line of its own. */
  async commit(deviceName: string, epoch: number, batch: number, waitMs: number, fn: () => Promise<CommitOutcome>): Promise<CommitOutcome> {
    const device = epoch === 1 ? deviceName : `${deviceName}@${epoch}`;
    let st = await this.state(device, deviceName, epoch);
    if (batch > st.batch + 1 && waitMs > 0) {
      await this.waitFor(device, batch - 1, waitMs);
      st = await this.state(device, deviceName, epoch);
    }
    const inLine = batch === st.batch + 1;
    if (inLine && !this.pipelined) await st.done.catch(() => undefined);
    const run = fn();
    if (inLine) {
      this.handed.set(device, { batch, done: run });
      this.wake(device);
    }
    let outcome: CommitOutcome;
    try {
      outcome = await run;
    } catch (err) {
      this.forget(device);
      throw err;
    }
    // A batch the store did not take leaves our picture of the head unreliable: re-read it.
    if (inLine && outcome.status !== 'stored') this.forget(device);
    return outcome;
  }

  private async state(device: string, deviceName: string, epoch: number): Promise<Handed> {
    const known = this.handed.get(device);
    if (known) return known;
    const head = await this.store.head(deviceName);
    const st = this.handed.get(device) ?? { batch: head.epoch === epoch ? head.batch : 0, done: Promise.resolve() };
    this.handed.set(device, st);
    return st;
  }

  private forget(device: string): void {
    this.handed.delete(device);
    const list = this.waiters.get(device) ?? [];
    this.waiters.delete(device);
    for (const w of list) w.wake();
  }

  private waitFor(device: string, batch: number, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const list = this.waiters.get(device) ?? [];
      const entry = {
        batch,
        wake: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        const l = this.waiters.get(device);
        if (l) l.splice(l.indexOf(entry), 1);
        resolve();
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
    this.waiters.set(device, list.filter((w) => w.batch > st.batch));
    for (const w of ready) w.wake();
  }
}

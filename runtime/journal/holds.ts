// Holds: the journal is also the store-and-forward of the publishers that forward it to a broker
// (Sparkplug, the cloud IoT platforms). Each configured publisher holds the records after the seq
// up to which its broker has acknowledged them and its cursor is saved; an acknowledged batch's
// records are deleted only once they are behind every hold too. The holds live in the journal's
// state, so they protect across a restart before their publishers have started again.
//
// The disk bound still wins: when it must, retention.ts drops the oldest held records, and each
// hold they were under moves up past them and counts them as lost, so the publisher can tell.
import type { Logger } from 'pino';
import type { ChunkIndex, HoldState } from './layout.ts';
import type { JournalStateCell } from './state.ts';

/** Told, once the drop is durable, how many records a hold lost to the disk bound and through which seq. */
export type HoldLostListener = (count: number, through: number) => void;

export interface HoldsDeps {
  cell: JournalStateCell;
  log: Logger;
  /** records dropped under a hold, counted per hold once the drop is durable */
  lost: (hold: string, count: number) => void;
  /** the publishers' listeners, kept by the journal: they outlive a new epoch's parts */
  listeners?: Map<string, HoldLostListener>;
}

export class Holds {
  private readonly listeners: Map<string, HoldLostListener>;
  /** the `lost` count of each hold its listener was last told of */
  private told = new Map<string, number>();
  private readonly d: HoldsDeps;

  constructor(deps: HoldsDeps) {
    this.d = deps;
    this.listeners = deps.listeners ?? new Map();
  }

  private get state(): Record<string, HoldState> {
    return (this.d.cell.current.holds ??= {});
  }

  /**
   * Only the holds named stay (the publishers configured now); a hold of a publisher no longer
   * configured would keep records forever, so it is dropped and logged. A configured publisher
   * without a hold yet holds everything from here until it starts and says how far its broker is.
   */
  keepOnly(names: readonly string[]): void {
    const state = this.state;
    for (const name of Object.keys(state)) {
      if (names.includes(name)) continue;
      this.d.log.warn({ hold: name, through: state[name]!.through }, 'journal hold of a publisher no longer configured dropped');
      delete state[name];
    }
    for (const name of names) state[name] ??= { through: 0, lost: 0 };
    for (const [name, h] of Object.entries(state)) this.told.set(name, h.lost);
  }

  /** The hold `name` has every record through `through` (a saved cursor; may go back after a damaged one). */
  set(name: string, through: number): boolean {
    const h = this.state[name];
    if (h && h.through === through) return false;
    // entries are replaced, never changed, so that a copied state keeps its own
    this.state[name] = { through, lost: h?.lost ?? 0 };
    if (!this.told.has(name)) this.told.set(name, h?.lost ?? 0);
    return true;
  }

  onLost(name: string, listener: HoldLostListener): void {
    this.listeners.set(name, listener);
  }

  /** Every record through this seq is held for the sink's sake or by every hold: Infinity without holds. */
  floor(): number {
    let floor = Number.POSITIVE_INFINITY;
    for (const h of Object.values(this.state)) if (h.through < floor) floor = h.through;
    return floor;
  }

  /**
   * The disk bound dropped these acknowledged chunks (oldest first, a prefix): each hold behind
   * their end counts the records it did not have and moves past them.
   */
  dropped(chunks: readonly ChunkIndex[]): void {
    const through = chunks[chunks.length - 1]!.last;
    const state = this.state;
    for (const [name, h] of Object.entries(state)) {
      if (h.through >= through) continue;
      let count = 0;
      for (const c of chunks) if (c.last > h.through) count += c.last - Math.max(c.first, h.through + 1) + 1;
      state[name] = { through, lost: h.lost + count };
    }
  }

  /** A write is durable: each listener hears of what its hold lost since it was last told. */
  announce(): void {
    for (const [name, h] of Object.entries(this.d.cell.durable.holds ?? {})) {
      const before = this.told.get(name) ?? h.lost;
      if (h.lost <= before) continue;
      this.told.set(name, h.lost);
      this.d.lost(name, h.lost - before);
      this.listeners.get(name)?.(h.lost - before, h.through);
    }
  }

  /** Per hold: through which seq it has the records, and how many it lost to the disk bound. */
  view(): Record<string, HoldState> {
    return { ...(this.d.cell.durable.holds ?? {}) };
  }
}

// The durable "published through seq" cursor of a publisher that forwards the journal to an MQTT
// broker (Sparkplug, the cloud IoT platforms): which journal records the broker has, kept in a file
// in the data dir. Acknowledgements arrive out of order (live data flows while an outage is
// replayed), so beyond the contiguous `through` the cursor keeps acknowledged seqs as a few
// ranges: live data is one growing range, not a set. A publisher that keeps more beside it (the
// Sparkplug bdSeq) extends it with `extra()` and `restore()`.
import { readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { writeFileAtomic } from '../../kernel/atomic-file.ts';

type Range = [first: number, last: number];

interface Saved {
  through: number;
  ranges: Range[];
  /** the journal's recovery epoch the seqs count in; absent (older files) means 1 */
  epoch?: number;
  [field: string]: unknown;
}

/** Ranges kept beyond `through`; more means something is wrong, and the oldest are forgotten (resent later). */
const MAX_RANGES = 256;

export class PublishedCursor {
  /** every seq up to here is published */
  through = 0;
  /** `through` as last written to disk (or loaded): what the publisher's journal hold may say */
  savedThrough = 0;
  /** published seqs beyond through+1, as disjoint ranges sorted ascending */
  private ranges: Range[] = [];
  /** the journal's recovery epoch these seqs belong to: seqs start at 1 again in a new one */
  epoch = 1;
  protected dirty = false;
  private saving = false;
  private blockingSaves = 0;
  private readonly file: string;
  private readonly what: string;

  /** `file`: where it is kept; `what` names it in errors ('Sparkplug'). */
  constructor(file: string, what: string) {
    this.file = file;
    this.what = what;
  }

  /** Fields saved beside the cursor. */
  protected extra(): Record<string, unknown> {
    return {};
  }

  /** Takes the extra fields back from a saved file; false when they are not valid. */
  protected restore(_saved: Record<string, unknown>): boolean {
    return true;
  }

  /** Reads the saved cursor; a missing file is a first start, a damaged one an error. */
  load(): void {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const s = JSON.parse(text) as Saved;
    const epochOk = s.epoch === undefined || (Number.isSafeInteger(s.epoch) && s.epoch >= 2);
    if (!Number.isSafeInteger(s.through) || s.through < 0 || !Array.isArray(s.ranges) || !epochOk || !this.restore(s)) {
      throw new Error(`${this.file}: not a ${this.what} cursor`);
    }
    this.through = s.through;
    this.savedThrough = s.through;
    this.epoch = s.epoch ?? 1;
    this.ranges = s.ranges.filter((r) => Array.isArray(r) && r[0] > s.through + 1 && r[1] >= r[0]);
  }

  private text(): { text: string; through: number } {
    const saved: Saved = { through: this.through, ranges: this.ranges, ...(this.epoch > 1 ? { epoch: this.epoch } : {}), ...this.extra() };
    return { text: JSON.stringify(saved) + '\n', through: this.through };
  }

  /** The journal started epoch `epoch`: its seqs count from 1 again, and the broker has none of them yet. */
  startEpoch(epoch: number): void {
    this.epoch = epoch;
    this.through = 0;
    this.ranges = [];
    this.dirty = true;
    this.save();
  }

  /** Saves now, blocking: on stop, and whenever an extra field must be on disk before it is used. */
  save(): void {
    if (!this.dirty) return;
    const { text, through } = this.text();
    writeFileAtomic(this.file, text);
    this.savedThrough = through;
    this.dirty = false;
    this.blockingSaves++;
  }

  /**
   * Saves in the background, off the event loop (the periodic save must not hold back live data).
   * The folder is not synced: a rename lost to a power cut leaves the cursor a little behind, and
   * what it says was not published is sent again as historical, never skipped.
   */
  async saveInBackground(): Promise<void> {
    if (!this.dirty || this.saving) return;
    this.saving = true;
    this.dirty = false;
    const tmp = `${this.file}.background-${process.pid}`;
    const before = this.blockingSaves;
    const { text, through } = this.text();
    try {
      const fh = await open(tmp, 'w', 0o644);
      try {
        await fh.writeFile(text);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.file);
      if (this.blockingSaves === before) this.savedThrough = through;
      // a blocking save while this one ran wrote a newer state, which this rename just replaced
      if (this.blockingSaves !== before) {
        this.dirty = true;
        this.save();
      }
    } catch (err) {
      this.dirty = true;
      throw err;
    } finally {
      this.saving = false;
    }
  }

  has(seq: number): boolean {
    if (seq <= this.through) return true;
    return this.ranges.some(([a, b]) => seq >= a && seq <= b);
  }

  /** How many of seqs first..last are not published. */
  lacking(first: number, last: number): number {
    const from = Math.max(first, this.through + 1);
    if (from > last) return 0;
    let count = last - from + 1;
    for (const [a, b] of this.ranges) count -= Math.max(0, Math.min(b, last) - Math.max(a, from) + 1);
    return count;
  }

  /** The broker has records first..last (or they need no publishing). */
  mark(first: number, last: number): void {
    if (last <= this.through) return;
    first = Math.max(first, this.through + 1);
    this.dirty = true;
    const merged: Range[] = [];
    let cur: Range = [first, last];
    for (const r of this.ranges) {
      if (r[1] + 1 < cur[0]) merged.push(r);
      else if (cur[1] + 1 < r[0]) {
        merged.push(cur);
        cur = r;
      } else cur = [Math.min(r[0], cur[0]), Math.max(r[1], cur[1])];
    }
    merged.push(cur);
    merged.sort((x, y) => x[0] - y[0]);
    while (merged.length > 0 && merged[0]![0] <= this.through + 1) this.through = Math.max(this.through, merged.shift()![1]);
    this.ranges = merged.length > MAX_RANGES ? merged.slice(merged.length - MAX_RANGES) : merged;
  }
}

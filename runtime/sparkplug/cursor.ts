// The durable "published through seq" cursor: which journal records the broker has, kept in the
// data dir (sparkplug.json) beside the bdSeq of the last session. Acknowledgements arrive out of
// order (live data flows while an outage is replayed), so beyond the contiguous `through` the
// cursor keeps acknowledged seqs as a few ranges: live data is one growing range, not a set.
import { readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../kernel/atomic-file.ts';

type Range = [first: number, last: number];

interface Saved {
  through: number;
  ranges: Range[];
  bdSeq: number;
  /** the journal's recovery epoch the seqs count in; absent (older files) means 1 */
  epoch?: number;
}

/** Ranges kept beyond `through`; more means something is wrong, and the oldest are forgotten (resent later). */
const MAX_RANGES = 256;

export class PublishedCursor {
  /** every seq up to here is published */
  through = 0;
  /** published seqs beyond through+1, as disjoint ranges sorted ascending */
  private ranges: Range[] = [];
  /** the bdSeq of the last MQTT session; -1 before any */
  bdSeq = -1;
  /** the journal's recovery epoch these seqs belong to: seqs start at 1 again in a new one */
  epoch = 1;
  private dirty = false;
  private saving = false;
  private blockingSaves = 0;
  private readonly file: string;

  constructor(dataDir: string) {
    this.file = join(dataDir, 'sparkplug.json');
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
    if (!Number.isSafeInteger(s.through) || s.through < 0 || !Number.isInteger(s.bdSeq) || !Array.isArray(s.ranges)) {
      throw new Error(`${this.file}: not a Sparkplug cursor`);
    }
    this.through = s.through;
    this.bdSeq = s.bdSeq;
    this.epoch = Number.isSafeInteger(s.epoch) ? s.epoch! : 1;
    this.ranges = s.ranges.filter((r) => Array.isArray(r) && r[0] > s.through + 1 && r[1] >= r[0]);
  }

  private text(): string {
    const saved: Saved = { through: this.through, ranges: this.ranges, bdSeq: this.bdSeq, epoch: this.epoch };
    return JSON.stringify(saved) + '\n';
  }

  /**
   * The journal started a new recovery epoch: nothing of its seqs is published yet. What it
   * carried over from the old one goes again, historical: repeats, never a loss.
   */
  startEpoch(epoch: number): void {
    this.epoch = epoch;
    this.through = 0;
    this.ranges = [];
    this.dirty = true;
  }

  /** Saves now, blocking: before a CONNECT (its will names the bdSeq) and on stop. */
  save(): void {
    if (!this.dirty) return;
    writeFileAtomic(this.file, this.text());
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
    try {
      const fh = await open(tmp, 'w', 0o644);
      try {
        await fh.writeFile(this.text());
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.file);
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

  /** Sets the bdSeq of a new session and saves at once: its NDEATH is the will of that session. */
  nextBdSeq(): number {
    this.bdSeq = (this.bdSeq + 1) % 256;
    this.dirty = true;
    this.save();
    return this.bdSeq;
  }

  has(seq: number): boolean {
    if (seq <= this.through) return true;
    return this.ranges.some(([a, b]) => seq >= a && seq <= b);
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

// How often a stream repeats its last value exactly, learned from the stream, so that a stuck
// sensor is told from a quiet one by how unlikely its run of repeats is. A noisy sensor read at a
// fine resolution almost never repeats (three equal readings from a power meter are news); a
// coarse one repeats often; and many streams repeat freely at one level only: a PV string reads 0
// all night, a valve sits at its end stop. So repeats are learned per level band (the stream's
// floor, its lowest value so far; its ceiling; six bands between), as two chances: that a value
// repeats at all, and that a run of repeats goes on (taken to be the first until runs at the band
// have been seen). A run's chance is the first times the second to the power of its length less one.
//
// A run is learned from once it has ended, never while it is being judged: a stuck sensor cannot
// argue its own run into looking ordinary. So the first long run at a level is flagged (a PV
// string's first night, once it is longer than the repeats the string has shown so far), and once
// it has ended the stream knows that runs at that level go on; its next nights are not flagged.

const INNER_BANDS = 6;
const BANDS = INNER_BANDS + 2;
/** trials after which a band's counts are halved, so that its chances follow the stream */
const MEMORY = 5000;

class Chance {
  readonly hits = new Float64Array(BANDS);
  readonly trials = new Float64Array(BANDS);

  /**
   * The band's chance, with one trial at `prior` counted before any is seen: never-seen events are
   * not taken as impossible, and a band with little evidence stays near what is assumed of it.
   */
  of(band: number, prior = 0.5): number {
    return (this.hits[band]! + prior) / (this.trials[band]! + 1);
  }

  count(band: number, hit: boolean): void {
    this.trials[band]! += 1;
    if (hit) this.hits[band]! += 1;
    if (this.trials[band]! > MEMORY) {
      this.trials[band]! /= 2;
      this.hits[band]! /= 2;
    }
  }
}

export class RepeatModel {
  private readonly first = new Chance();
  private readonly goOn = new Chance();
  private min = Number.POSITIVE_INFINITY;
  private max = Number.NEGATIVE_INFINITY;
  private last: number | null = null;
  private run = 0;
  private runBand = 0;

  private band(x: number): number {
    if (x <= this.min) return 0;
    if (x >= this.max) return BANDS - 1;
    return 1 + Math.min(INNER_BANDS - 1, Math.floor((INNER_BANDS * (x - this.min)) / (this.max - this.min)));
  }

  /** The chance of an ordinary run of repeats at least as long as the current one (1 when not repeating). */
  chanceOfRun(): number {
    if (this.run === 0 || this.last === null) return 1;
    // until runs at this band have been seen to go on, each repeat is taken to be as likely as the
    // first: readings repeat independently of each other
    const first = this.first.of(this.runBand);
    return first * this.goOn.of(this.runBand, first) ** (this.run - 1);
  }

  /** readings in a row equal to the one before them */
  get runLength(): number {
    return this.run;
  }

  /** Learn from a value; the run of repeats moves on, and one that ends is learned from. */
  observe(x: number): void {
    if (this.last !== null) {
      const same = x === this.last;
      if (this.run === 0) {
        this.runBand = this.band(this.last);
        this.first.count(this.runBand, same);
      } else if (!same) {
        // the run is over: it went on run - 1 times, then stopped
        for (let i = 1; i < this.run; i++) this.goOn.count(this.runBand, true);
        this.goOn.count(this.runBand, false);
      }
      this.run = same ? this.run + 1 : 0;
    }
    this.last = x;
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
  }
}

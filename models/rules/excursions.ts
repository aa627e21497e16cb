// Two of the oceanographers' real-time quality tests (the QARTOD spike test and a test of the
// noise level), with thresholds learned from the stream instead of set per site: each statistic is
// judged by how rare it is among the stream's own recent values of it (TailProbability), and a
// reading is flagged when an ordinary stream like this one would show it less often than the
// daily false alarm budget allows.
//   spike: a reading, or a run of up to three, that leaves the line between its neighbours and
//   comes back: how far the run stands off that line, less half the step between the neighbours
//   (so a step that stays is not a spike). Judged when the reading after the run arrives.
//   noisy: the mean size of the last eight second differences (a trend or a slow cycle has none):
//   a loose connection, a failing reference, a new source of interference. Every value is learned
//   from, rare ones too: a lasting change is flagged at its onset, then becomes the stream's own.
// Each statistic's history holds the largest value of each 5-minute block, not every value: 2000
// blocks are a week whatever the interval, where 2000 readings were 8 hours of a meter read every
// 15 s or a day and a half of a PV string read every minute, so that one clear day made a string
// forget its clouds and take the next morning's first cloud for a spike. A reading is judged by
// the chance that a block's largest value reaches it, against the budget per block: the tail is
// then extrapolated some 14 times beyond a week's blocks, not a thousand times beyond 2000
// readings, and a block's maximum is at least as large as any one reading in it.
import { TailProbability } from '../detector/stats.ts';

/** the longest run of readings that counts as one spike */
const MAX_SPIKE = 3;
/** second differences averaged for the noise level */
const NOISE_WINDOW = 8;
/** recent values of each statistic the stream's own distribution is taken from */
const HISTORY = 2000;
/** values of a statistic seen before it is judged at all */
const MIN_HISTORY = 100;
/**
 * and the time they must span: the budget is per day, and a tail extrapolated to a chance of one
 * in 30,000 blocks from fewer than two days of them is the tail of one day's weather or one day's
 * work (a first cloudy morning, a first busy afternoon), some 300 times beyond what was seen
 */
const MIN_SPAN_MS = 2 * 86_400_000;
/** the time block whose largest value the history keeps */
export const EXCURSION_BLOCK_MS = 300_000;

/** How far the last run of at most MAX_SPIKE readings before `recent`'s last stands off the line between its neighbours. */
export function spikeSize(recent: readonly number[]): number {
  const n = recent.length;
  const after = recent[n - 1]!;
  let best = 0;
  for (let k = 1; k <= MAX_SPIKE && k + 2 <= n; k++) {
    const before = recent[n - k - 2]!;
    const mid = (before + after) / 2;
    const dir = Math.sign(recent[n - 2]! - mid);
    if (dir === 0) continue;
    let off = Number.POSITIVE_INFINITY;
    for (let i = n - k - 1; i <= n - 2; i++) off = Math.min(off, dir * (recent[i]! - mid));
    const size = off - Math.abs(after - before) / 2;
    if (size > best) best = size;
  }
  return best;
}

/** One statistic's own history of block maxima, and how rare a value of it is there. Every value is learned from. */
class SelfCalibrated {
  private readonly history = new TailProbability(HISTORY);
  private blockMax = 0;
  private blockEnd = Number.NEGATIVE_INFINITY;
  private firstTs = Number.NaN;

  /** whether x at `ts` is rarer than `risk` (per block) for this stream */
  rare(x: number, ts: number, risk: number): boolean {
    if (ts >= this.blockEnd) {
      if (Number.isFinite(this.blockEnd)) this.history.push(this.blockMax);
      this.blockMax = 0;
      this.blockEnd = ts - (ts % EXCURSION_BLOCK_MS) + EXCURSION_BLOCK_MS;
    }
    if (Number.isNaN(this.firstTs)) this.firstTs = ts;
    const rare = this.history.count >= MIN_HISTORY && ts - this.firstTs >= MIN_SPAN_MS && x > 0 && this.history.upper(x) < risk;
    if (x > this.blockMax) this.blockMax = x;
    return rare;
  }
}

export class ExcursionChecks {
  private readonly recent: number[] = [];
  private readonly secondDiffs: number[] = [];
  private readonly spikes = new SelfCalibrated();
  private readonly noise = new SelfCalibrated();

  /**
   * Learn from a value read at `ts` and add `spike` and `noisy` to flags when the stream's own
   * habits make them rarer than `risk`, the chance allowed per block (or per reading, for a stream
   * read less often than once a block).
   */
  check(x: number, ts: number, risk: number, flags: string[]): void {
    const r = this.recent;
    r.push(x);
    if (r.length > MAX_SPIKE + 2) r.shift();
    if (r.length < 3) return;
    if (this.spikes.rare(spikeSize(r), ts, risk)) flags.push('spike');

    const n = r.length;
    this.secondDiffs.push(Math.abs(r[n - 1]! - 2 * r[n - 2]! + r[n - 3]!));
    if (this.secondDiffs.length > NOISE_WINDOW) this.secondDiffs.shift();
    if (this.secondDiffs.length < NOISE_WINDOW) return;
    let level = 0;
    for (const d of this.secondDiffs) level += d;
    level /= NOISE_WINDOW;
    if (this.noise.rare(level, ts, risk)) flags.push('noisy');
  }
}

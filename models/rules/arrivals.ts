// When a stream's readings come, learned from the stream itself: its usual interval (the median of
// the recent gaps between readings, which uplinks lost now and then do not move) and the share of
// readings that go missing on the way (LoRa uplinks, polls that fail). With both, a silence can be
// judged by how unlikely it is for this stream: a node that loses 5% of its uplinks missing four in
// a row happens about once in 160,000 readings; a wired meter that has not missed a poll all day
// missing two is news. No fixed "five intervals" that is too slow for one stream and too jumpy for another.

/** how many recent gaps the interval is the median of */
const GAPS_KEPT = 63;
/** readings (expected, lost or not) after which the loss counts are halved: the rate follows change */
const LOSS_MEMORY = 10_000;

export class ArrivalModel {
  private readonly gaps = new Float64Array(GAPS_KEPT);
  private readonly sorted = new Float64Array(GAPS_KEPT);
  private gapCount = 0;
  private gapHead = 0;
  private missed = 0;
  private expected = 0;

  /** the usual interval in ms, 0 until a few gaps are known */
  interval(): number {
    if (this.gapCount < 5) return 0;
    return this.sorted[this.gapCount >> 1]!;
  }

  /**
   * The chance that one expected reading goes missing, as seen so far. Half a loss is counted before
   * any is seen, so a stream that has lost nothing in n readings is taken to lose about one in 2n.
   */
  lossRate(): number {
    return (this.missed + 0.5) / (this.expected + 1);
  }

  /** The chance of `missing` expected readings in a row going missing in an ordinary way. */
  chanceOfMissing(missing: number): number {
    return missing <= 0 ? 1 : this.lossRate() ** missing;
  }

  /** Readings that should have come in `elapsedMs` after the last one but did not (half an interval of lateness allowed). */
  missingIn(elapsedMs: number): number {
    const t = this.interval();
    return t > 0 ? Math.max(0, Math.floor(elapsedMs / t - 0.5)) : 0;
  }

  /** Learn from the gap (ms) between a reading and the one before it. */
  observe(gapMs: number): void {
    if (!(gapMs > 0)) return;
    const t = this.interval();
    if (t > 0) {
      const slots = Math.max(1, Math.round(gapMs / t));
      this.missed += slots - 1;
      this.expected += slots;
      if (this.expected > LOSS_MEMORY) {
        this.missed /= 2;
        this.expected /= 2;
      }
    }
    this.pushGap(gapMs);
  }

  private pushGap(g: number): void {
    const s = this.sorted;
    let n = this.gapCount;
    if (n === GAPS_KEPT) {
      // the oldest gap leaves the sorted copy
      const old = this.gaps[this.gapHead]!;
      let i = 0;
      while (s[i] !== old) i++;
      s.copyWithin(i, i + 1, n);
      n--;
    }
    let j = n;
    while (j > 0 && s[j - 1]! > g) j--;
    s.copyWithin(j + 1, j, n);
    s[j] = g;
    this.gaps[this.gapHead] = g;
    this.gapHead = (this.gapHead + 1) % GAPS_KEPT;
    this.gapCount = Math.min(GAPS_KEPT, this.gapCount + 1);
  }
}

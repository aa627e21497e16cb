// The levels a stream reaches at each hour of the day, learned from its own last week, against
// which a slow change shows: a drifting sensor, an offset after a bad recalibration, a PV string
// losing gain. No single reading of those looks wrong; the stream's level at an hour of the day
// does, once it is further from that hour's levels on earlier days than the days differ among
// themselves.
//
// The stream is seen as 5-minute means (a reading's noise and one-off spikes are the spike and
// noise checks' concern). For each of the last seven days and each hour the highest and lowest
// such mean is kept. A mean is judged against the same hour's extremes of earlier days: the spread
// is pooled over the hour and two on each side (a week of days gives too few values for one
// hour's alone), and the chance of a day beyond it is the tail of a Student t with the pooled
// degrees of freedom, widened for the uncertainty of the mean of few days: a young stream cannot
// call a level a one-in-a-thousand-days event. A mean is flagged when that chance is below the
// budget per 5 minutes.
//   above: higher than that hour's highs allow;
//   below: lower than that hour's lows allow, and below every mean of the week by more than the
//   least spread assumed between days (below, SPREAD_FLOOR_SHARE) as well: the
//   product's streams rest at a floor when idle (an empty room at outdoor CO2, a building at its
//   base load), so a day quieter than the working days (a weekend, a holiday) is ordinary, one
//   under the floor is not;
//   short of the clear sky (streams configured `clearSky`, a PV string's current or irradiance):
//   an hour's highest reading below that hour's best on earlier days. Clouds only lower a string's
//   output and pass within minutes, so its hourly best is the clear sky's on almost any day; a
//   string that falls short of it has lost gain (soiling, a failing connector). Judged at the end
//   of each daylight hour (one where earlier days' highs reach a fifth of the day's highest), and
//   held until the next hour is judged;
//   above the clear sky (the same streams): a reading above that hour's best on earlier days, at
//   the budget per reading: a spike, even one on a cloud's edge that its 5-minute mean hides.
// An excursion, once flagged, holds until its chance is back above the square root of the
// budget's: a level hovering about the limit is one event, not an alert every 5 minutes.
// A day's levels become the reference from the next day: a lasting change becomes the stream's own.
import { log10StudentTail } from '../detector/stats.ts';

const STEP_MS = 300_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const DAYS_KEPT = 7;
/** earlier days needed at an hour before it is judged: fewer give no spread worth the name */
const MIN_DAYS = 3;
/** hours on each side whose spread is pooled with the hour's own */
const POOL_HOURS = 2;
/**
 * the least spread between days assumed, as a share of the stream's span over the kept days: a
 * few days cannot show how much an hour can differ (a room's night level after an evening the
 * office emptied late), and a stream's quiet hours would otherwise claim they never differ
 */
const SPREAD_FLOOR_SHARE = 0.01;
/** hours of a day whose means must be known for its lowest to count as the day's floor */
const FLOOR_HOURS = 20;
/** a clear-sky hour is judged only where earlier days' highs reach this share of the day's highest */
const DAYLIGHT_SHARE = 0.2;

export class LevelCheck {
  /** per kept day (slot = day number mod DAYS_KEPT) and hour: the highest and lowest 5-minute mean, NaN when none */
  private readonly highs = new Float64Array(DAYS_KEPT * 24).fill(Number.NaN);
  private readonly lows = new Float64Array(DAYS_KEPT * 24).fill(Number.NaN);
  /** per kept day and hour: the highest reading (clear-sky streams: one clear minute reaches the sky's level) */
  private readonly peaks = new Float64Array(DAYS_KEPT * 24).fill(Number.NaN);
  /** the day number each slot holds, NaN when none */
  private readonly slotDay = new Float64Array(DAYS_KEPT).fill(Number.NaN);
  private stepEnd = Number.NEGATIVE_INFINITY;
  private stepSum = 0;
  private stepCount = 0;
  /** whether the latest judged mean was beyond the hour's highs or lows: every reading of the next 5 minutes carries it */
  private beyondLevels = false;
  /** a clear-sky stream's latest daylight hour fell short of earlier days' best */
  private shortOfSky = false;
  /** the least spread assumed between days, as of the latest judged mean */
  private spreadFloor = 0;
  /** clear-sky streams: the lowest of the hour's peaks on earlier days, as of the latest judged mean (a reading under it is not judged) */
  private peakFloor = Number.POSITIVE_INFINITY;

  private readonly clearSky: boolean;

  constructor(clearSky: boolean) {
    this.clearSky = clearSky;
  }

  /**
   * Learn from a value read at `ts`; add `level` to flags while the latest 5 minutes are beyond
   * the stream's levels by more than `risk` (per 5 minutes) allows, or, for a clear-sky stream,
   * when this reading is above the clear sky by more than `readingRisk` (per reading) allows.
   */
  check(x: number, ts: number, risk: number, readingRisk: number, flags: string[]): void {
    if (ts >= this.stepEnd) {
      if (this.stepCount > 0) this.judge(this.stepSum / this.stepCount, this.stepEnd - STEP_MS, risk);
      this.stepSum = 0;
      this.stepCount = 0;
      this.stepEnd = ts - (ts % STEP_MS) + STEP_MS;
    }
    this.stepSum += x;
    this.stepCount++;
    const day = Math.floor(ts / DAY_MS);
    const hour = Math.floor((ts - day * DAY_MS) / HOUR_MS);
    const i = this.slotFor(day) * 24 + hour;
    // a clear-sky stream's reading above the hour's best of earlier days: above the clear sky
    const aboveSky = this.clearSky && x > this.peakFloor && this.beyond(this.peaks, day, hour, x, 1, this.spreadFloor) < Math.log10(readingRisk);
    if (!(this.peaks[i]! >= x)) this.peaks[i] = x;
    if (this.beyondLevels || this.shortOfSky || aboveSky) flags.push('level');
  }

  /** Judge the 5-minute mean `x` of the step starting at `t`, then learn it. */
  private judge(x: number, t: number, risk: number): void {
    const day = Math.floor(t / DAY_MS);
    const hour = Math.floor((t - day * DAY_MS) / HOUR_MS);
    // an excursion already flagged holds until its chance is back above the square root of the budget's
    const log10Risk = Math.log10(risk) / (this.beyondLevels ? 2 : 1);
    const floor = SPREAD_FLOOR_SHARE * this.span(day);
    this.spreadFloor = floor;
    if (this.clearSky) this.peakFloor = this.lowestPeak(day, (hour + (t % HOUR_MS >= HOUR_MS - STEP_MS ? 1 : 0)) % 24);
    this.beyondLevels = this.beyond(this.highs, day, hour, x, 1, floor) < log10Risk || (x < this.weekFloor(day) - floor && this.beyond(this.lows, day, hour, x, -1, floor) < log10Risk);
    const i = this.slotFor(day) * 24 + hour;
    // the hour's highest reading, judged as the hour ends; a shortfall holds until the next hour's
    if (this.clearSky && t + STEP_MS >= (day * 24 + hour + 1) * HOUR_MS && this.isDaylight(day, hour)) {
      const limit = Math.log10((risk * STEP_MS) / HOUR_MS) / (this.shortOfSky ? 2 : 1);
      this.shortOfSky = this.beyond(this.peaks, day, hour, this.peaks[i]!, -1, floor) < limit;
    } else if (this.clearSky && !this.isDaylight(day, hour)) this.shortOfSky = false;
    this.highs[i] = Number.isNaN(this.highs[i]!) ? x : Math.max(this.highs[i]!, x);
    this.lows[i] = Number.isNaN(this.lows[i]!) ? x : Math.min(this.lows[i]!, x);
  }

  /** the lowest of earlier days' highest readings at `hour` (Infinity when none): nothing under it is above the clear sky */
  private lowestPeak(day: number, hour: number): number {
    let low = Number.POSITIVE_INFINITY;
    for (let s = 0; s < DAYS_KEPT; s++) {
      if (!this.isEarlier(s, day)) continue;
      const v = this.peaks[s * 24 + hour]!;
      if (v < low) low = v;
    }
    return low;
  }

  /** the highest high less the lowest low of the kept days before `day`; 0 when none */
  private span(day: number): number {
    let hi = Number.NEGATIVE_INFINITY;
    let lo = Number.POSITIVE_INFINITY;
    for (let s = 0; s < DAYS_KEPT; s++) {
      if (!this.isEarlier(s, day)) continue;
      for (let h = 0; h < 24; h++) {
        const a = this.highs[s * 24 + h]!;
        const b = this.lows[s * 24 + h]!;
        if (a > hi) hi = a;
        if (b < lo) lo = b;
      }
    }
    return hi > lo ? hi - lo : 0;
  }

  /**
   * log10 of the chance that an ordinary day puts `x` this far beyond the hour's extremes in
   * `table` on the side `sign` (1 above, -1 below); 0 while too few days are known.
   */
  private beyond(table: Float64Array, day: number, hour: number, x: number, sign: 1 | -1, floor: number): number {
    let own = 0;
    let ownCount = 0;
    let squares = 0;
    let dof = 0;
    for (let dh = -POOL_HOURS; dh <= POOL_HOURS; dh++) {
      const h = (hour + dh + 24) % 24;
      let sum = 0;
      let sumSq = 0;
      let n = 0;
      for (let s = 0; s < DAYS_KEPT; s++) {
        if (!this.isEarlier(s, day)) continue;
        const v = table[s * 24 + h]!;
        if (Number.isNaN(v)) continue;
        sum += v;
        sumSq += v * v;
        n++;
      }
      if (n < 2) continue;
      squares += Math.max(0, sumSq - (sum * sum) / n);
      dof += n - 1;
      if (dh === 0) (own = sum / n), (ownCount = n);
    }
    if (ownCount < MIN_DAYS || dof === 0) return 0;
    const sd = Math.max(Math.sqrt(squares / dof), floor) * Math.sqrt(1 + 1 / ownCount);
    if (!(sd > 0)) return 0;
    return log10StudentTail((sign * (x - own)) / sd, dof);
  }

  /** the lowest mean of the kept days before `day` that were seen whole; -Infinity when none */
  private weekFloor(day: number): number {
    let floor = Number.POSITIVE_INFINITY;
    let days = 0;
    for (let s = 0; s < DAYS_KEPT; s++) {
      if (!this.isEarlier(s, day)) continue;
      let hours = 0;
      let low = Number.POSITIVE_INFINITY;
      for (let h = 0; h < 24; h++) {
        const v = this.lows[s * 24 + h]!;
        if (Number.isNaN(v)) continue;
        hours++;
        low = Math.min(low, v);
      }
      if (hours < FLOOR_HOURS) continue;
      days++;
      floor = Math.min(floor, low);
    }
    return days > 0 ? floor : Number.NEGATIVE_INFINITY;
  }

  /** whether earlier days' highs at `hour` reach DAYLIGHT_SHARE of their highest hour */
  private isDaylight(day: number, hour: number): boolean {
    let at = 0;
    let atCount = 0;
    let top = 0;
    for (let s = 0; s < DAYS_KEPT; s++) {
      if (!this.isEarlier(s, day)) continue;
      for (let h = 0; h < 24; h++) {
        const v = this.highs[s * 24 + h]!;
        if (Number.isNaN(v)) continue;
        top = Math.max(top, v);
        if (h === hour) (at += v), atCount++;
      }
    }
    return atCount > 0 && at / atCount >= DAYLIGHT_SHARE * top;
  }

  /** whether slot `s` holds one of the kept days before `day` */
  private isEarlier(s: number, day: number): boolean {
    const d = this.slotDay[s]!;
    return d < day && d >= day - DAYS_KEPT;
  }

  /** the slot of `day`, cleared when it last held an older day */
  private slotFor(day: number): number {
    const s = day % DAYS_KEPT;
    if (this.slotDay[s] !== day) {
      this.slotDay[s] = day;
      this.highs.fill(Number.NaN, s * 24, s * 24 + 24);
      this.lows.fill(Number.NaN, s * 24, s * 24 + 24);
      this.peaks.fill(Number.NaN, s * 24, s * 24 + 24);
    }
    return s;
  }
}

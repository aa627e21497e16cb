// Energy per interval from the meter's kWh-delivered counter, not from integrating kW samples (which
// misses everything between two polls). The counter only grows, except when it rolls over at its
// configured maximum or is reset (meter reprogrammed, cleared, replaced).

export type EnergyStep =
  | { kind: 'first' }
  | { kind: 'delta'; kwh: number; since: number }
  | { kind: 'rollover'; kwh: number; since: number }
  | { kind: 'reset'; kwh: number; since: number };

export class EnergyCounter {
  private last: number | undefined;
  private lastTs = 0;

  private readonly rolloverKwh: number;

  /**
   * @param rolloverKwh the counter value at which the meter wraps to zero
   */
  constructor(rolloverKwh: number) {
    this.rolloverKwh = rolloverKwh;
  }

  /**
   * Start from a value read before (the last one journaled before a restart), so that the first
   * value read now yields the energy since then rather than nothing.
   */
  resumeFrom(counterKwh: number, ts: number): void {
    this.last = counterKwh;
    this.lastTs = ts;
  }

  /** Feed the counter's value at ts; get the energy since the previous value. */
  next(counterKwh: number, ts: number): EnergyStep {
    const prev = this.last;
    const since = this.lastTs;
    this.last = counterKwh;
    this.lastTs = ts;
    if (prev === undefined) return { kind: 'first' };
    if (counterKwh >= prev) return { kind: 'delta', kwh: round(counterKwh - prev), since };
    // Went down. Near the top before and near zero now: it wrapped. Anything else: reset, and the
    // energy since the reset is the counter itself (what happened before the reset is unknown).
    if (prev >= 0.9 * this.rolloverKwh && counterKwh <= 0.1 * this.rolloverKwh) {
      return { kind: 'rollover', kwh: round(this.rolloverKwh - prev + counterKwh), since };
    }
    return { kind: 'reset', kwh: round(Math.max(0, counterKwh)), since };
  }
}

/** Counter arithmetic on values with three decimals (Wh resolution) without float noise. */
function round(kwh: number): number {
  return Math.round(kwh * 1e6) / 1e6;
}

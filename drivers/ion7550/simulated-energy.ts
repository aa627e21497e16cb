// The simulated meter's two energy registers (exported, imported): each the exact integral of its
// power over the simulator's clock, shown as the register shows it (whole counts, rolled over where
// the meter rolls over, two's complement past a signed register's top). Tests compute their truth
// from the powers they set, not from here.

export type PowerSource = number | ((now: number) => number);

export interface MeterEnergyOptions {
  exportKw?: PowerSource;
  importKw?: PowerSource;
  /** the registers' values at start, kWh */
  exportKwh?: number;
  importKwh?: number;
  /** the meter's own rollover setting: the registers count modulo this (kWh) */
  rolloverKwh?: number;
}

function powerAt(p: PowerSource | undefined, now: number): number {
  return p === undefined ? 0 : typeof p === 'function' ? p(now) : p;
}

export class MeterEnergy {
  /** the meter's internal counters, Wh, unbounded and fractional */
  private exportWh: number;
  private importWh: number;
  private lastUpdate: number | undefined;
  /** a register value shown instead of the true one for the next few reads: a glitch */
  private readonly glitches = new Map<'export' | 'import', { kwh: number; reads: number }>();

  private readonly opts: MeterEnergyOptions;

  constructor(opts: MeterEnergyOptions) {
    this.opts = opts;
    this.exportWh = (opts.exportKwh ?? 12_345.678) * 1000;
    this.importWh = (opts.importKwh ?? 0) * 1000;
  }

  exportKw(now: number): number {
    return powerAt(this.opts.exportKw, now);
  }

  importKw(now: number): number {
    return powerAt(this.opts.importKw, now);
  }

  /**
   * Advance both counters to `now`. Powers are sampled at the start of each step: callers that
   * change the power step-wise call this at the step.
   */
  advance(now: number): void {
    if (this.lastUpdate !== undefined && now > this.lastUpdate) {
      const hours = (now - this.lastUpdate) / 3_600_000;
      this.exportWh += this.exportKw(this.lastUpdate) * 1000 * hours;
      this.importWh += this.importKw(this.lastUpdate) * 1000 * hours;
    }
    this.lastUpdate = Math.max(now, this.lastUpdate ?? now);
  }

  /** Set a register (a reset, a new meter, a value near the top). */
  set(which: 'export' | 'import', kwh: number, now: number): void {
    this.advance(now);
    if (which === 'export') this.exportWh = kwh * 1000;
    else this.importWh = kwh * 1000;
  }

  /** The next `reads` reads of the register show `kwh` instead of its value. */
  glitch(which: 'export' | 'import', kwh: number, reads = 1): void {
    this.glitches.set(which, { kwh, reads });
  }

  kwh(which: 'export' | 'import'): number {
    return (which === 'export' ? this.exportWh : this.importWh) / 1000;
  }

  /** What the register shows, in raw counts of `scale` kWh, before any two's complement wrap. */
  registerRaw(which: 'export' | 'import', scale: number): number {
    const g = this.glitches.get(which);
    if (g) {
      if (--g.reads <= 0) this.glitches.delete(which);
      return Math.floor(g.kwh / scale);
    }
    let kwh = this.kwh(which);
    if (this.opts.rolloverKwh !== undefined) kwh = ((kwh % this.opts.rolloverKwh) + this.opts.rolloverKwh) % this.opts.rolloverKwh;
    // whole counts, as a register holds them; the small epsilon keeps 0.001 * 1000 from flooring to 0
    return Math.floor(kwh / scale + 1e-6);
  }
}

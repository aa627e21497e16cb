// Following a cumulative energy register poll by poll, where the raw register is known: what each
// step between two reads was (protocol/meter-register.ts: normal, rollover at the register's
// width, wrap to negative values, reset, implausible jump) and the energy it most likely stands
// for. The sink checks the same from the signed readings; the device's flags say what it saw first.
import { classifyStep, kwhPerCount, plausibleCounts, toCounts, type StepKind } from '../../protocol/meter-register.ts';
import type { CounterSpec } from '../../protocol/plan.ts';
import { registerBits } from '../../protocol/plan.ts';
import type { RegisterEntry } from './register-map.ts';

export type EnergyStep = { kind: 'first' } | { kind: StepKind; kwh: number; since: number };

/** The quality flag, and its score deduction, of a step that is not a plain increase. */
export const STEP_FLAGS: Readonly<Record<Exclude<StepKind, 'normal'>, { flag: string; deduction: number }>> = {
  rollover: { flag: 'counter_rollover', deduction: 0 },
  negative_wrap: { flag: 'counter_negative_wrap', deduction: 0 },
  reset: { flag: 'counter_reset', deduction: 0.3 },
  jump: { flag: 'counter_jump', deduction: 0.3 },
};

/** A map entry as a counter register: its width and sign from its type, its value unit from `unit`. */
export function counterSpec(entry: RegisterEntry, rolloverKwh?: number): CounterSpec {
  const { bits, signed } = registerBits(entry.type)!;
  const unit = entry.unit === 'Wh' || entry.unit === 'MWh' ? entry.unit : 'kWh';
  return { metric: entry.metric, type: entry.type, bits, signed, scale: entry.scale, unit, ...(rolloverKwh !== undefined ? { rolloverKwh } : {}) };
}

export class EnergyCounter {
  private last: number | undefined;
  private lastTs = 0;

  /**
   * @param ratedKw the plant's rated power: increases beyond it are jumps, and decreases are
   *   rollovers only when the increase across the wrap is within it
   * @param mpePercent the meter's maximum permissible error, allowed on top of ratedKw
   * @param readWindowMs how long before its timestamp a value may have been sampled
   */
  readonly spec: CounterSpec;
  private readonly ratedKw: number | undefined;
  private readonly mpePercent;
  private readonly readWindowMs;

  constructor(
    spec: CounterSpec,
    ratedKw?: number,
    mpePercent = 0,
    readWindowMs = 0,
  ) {
    this.spec = spec;
    this.ratedKw = ratedKw;
    this.mpePercent = mpePercent;
    this.readWindowMs = readWindowMs;
  }

  /**
   * Start from a value read before (the last one journaled before a restart), so that the first
   * value read now yields the energy since then rather than nothing.
   */
  resumeFrom(value: number, ts: number): void {
    this.last = toCounts(value, this.spec);
    this.lastTs = ts;
  }

  /** Feed the register's value at ts; get the step since the previous value. */
  next(value: number, ts: number): EnergyStep {
    const counts = toCounts(value, this.spec);
    const prev = this.last;
    const since = this.lastTs;
    this.last = counts;
    this.lastTs = ts;
    if (prev === undefined) return { kind: 'first' };
    const step = classifyStep(prev, counts, this.spec, plausibleCounts(this.spec, this.ratedKw, ts - since + this.readWindowMs, this.mpePercent));
    return { kind: step.kind, kwh: round(step.counts * kwhPerCount(this.spec)), since };
  }
}

/** Register arithmetic on values with a few decimals (Wh resolution) without float noise. */
function round(kwh: number): number {
  return Math.round(kwh * 1e6) / 1e6;
}

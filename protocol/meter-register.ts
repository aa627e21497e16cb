// What happened to a cumulative energy register between two readings. One implementation for the
// device (which sees the raw register as it is read) and the sink (which checks again from the
// signed readings), so that both call the same thing a reset, a rollover or a jump.
//
// The register's width and sign decide where it wraps: an unsigned register rolls over to zero at
// 2^bits (M10K at 10^8), a signed one either wraps to negative values at 2^(bits-1) (two's
// complement: the counter keeps counting, modulo 2^bits) or, on meters that keep it positive,
// rolls over to zero there; a meter with its own rollover setting rolls over at that value. A
// decrease is taken for a rollover only when the increase it implies is plausible: at most the
// rated power over the interval. Without a rated power only the wrap to negative values (which a
// reset cannot produce) is recognised, and any other decrease is a reset.
import { energyUnitKwh, type CounterSpec } from './plan.ts';

export type StepKind = 'normal' | 'jump' | 'rollover' | 'negative_wrap' | 'reset';

export interface CounterStep {
  kind: StepKind;
  /** the energy the step most likely stands for, in register counts (never negative) */
  counts: number;
}

/** kWh per register count */
export function kwhPerCount(spec: CounterSpec): number {
  return spec.scale * (energyUnitKwh(spec.unit) ?? NaN);
}

/** A reading's value as register counts: integral for integer registers. */
export function toCounts(value: number, spec: CounterSpec): number {
  const c = value / spec.scale;
  return spec.type === 'float32' ? c : Math.round(c);
}

/**
 * The most counts the register may advance in `dtMs` at `ratedKw` (one count of resolution and
 * the accuracy class's error allowed on top), or null without a rated power.
 */
export function plausibleCounts(spec: CounterSpec, ratedKw: number | undefined, dtMs: number, mpePercent = 0): number | null {
  if (ratedKw === undefined) return null;
  return (ratedKw * (1 + mpePercent / 100) * Math.max(0, dtMs)) / 3_600_000 / kwhPerCount(spec) + 1;
}

function moduli(spec: CounterSpec, prev: number, next: number): { kind: 'rollover' | 'negative_wrap'; modulus: number } | null {
  if (spec.rolloverKwh !== undefined) return { kind: 'rollover', modulus: Math.round(spec.rolloverKwh / kwhPerCount(spec)) };
  if (spec.type === 'float32') return null;
  if (spec.type === 'm10k') return { kind: 'rollover', modulus: 1e8 };
  if (!spec.signed) return { kind: 'rollover', modulus: 2 ** spec.bits };
  if (prev >= 0 && next < 0) return { kind: 'negative_wrap', modulus: 2 ** spec.bits };
  if (next >= 0) return { kind: 'rollover', modulus: 2 ** (spec.bits - 1) };
  return null;
}

/**
 * Classify the step from `prev` to `next` (register counts). `maxCounts` is the plausible bound
 * (plausibleCounts), null when the plan gives no rated power.
 */
export function classifyStep(prev: number, next: number, spec: CounterSpec, maxCounts: number | null): CounterStep {
  const delta = next - prev;
  if (delta >= 0) {
    // an increase the plant cannot have made: the most it can have made is what it stands for
    if (maxCounts !== null && delta > maxCounts) return { kind: 'jump', counts: maxCounts };
    return { kind: 'normal', counts: delta };
  }
  const wrap = moduli(spec, prev, next);
  if (wrap) {
    const counts = delta + wrap.modulus;
    const plausible = maxCounts !== null ? counts >= 0 && counts <= maxCounts : wrap.kind === 'negative_wrap' && counts >= 0;
    if (plausible) return { kind: wrap.kind, counts };
  }
  // A reset: the register restarted (cleared, reprogrammed); what it shows now is the least that
  // was counted since, as long as it restarted from zero.
  const since = Math.max(0, next);
  return { kind: 'reset', counts: maxCounts !== null ? Math.min(since, maxCounts) : since };
}

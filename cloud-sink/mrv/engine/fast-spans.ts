// The stretches of a meter's period that need no reading decoded: runs of index chunks in which
// both registers (and the power register) were read at the same instants, every reading clean,
// every step one plan interval or so long and a plausible increase, one plan in force, the
// calibration in date. Every step of such a run is credited in full, so its energy is its last
// reading minus its first, register by register (the steps' shares telescope): the summaries
// kept with each chunk are enough. Everything else goes the way of the readings (meter-slice.ts).
import { kwhPerCount, plausibleCounts, toCounts } from '../../../protocol/meter-register.ts';
import { powerUnitKw, type CounterSpec } from '../../../protocol/plan.ts';
import type { ChunkSummary } from '../index/chunk-codec.ts';
import type { ChunkEntry } from '../store/types.ts';
import type { EdgeReading, SliceResult } from './meter-slice.ts';
import { planAt, type PlanView } from './plan-timeline.ts';

export interface FastSpan {
  /** the run's first and last poll */
  t0: number;
  t1: number;
  polls: number;
  view: PlanView;
  exportMwh: number;
  importMwh: number;
  first: EdgeReading;
  powerKwh: number | null;
}

/** The index directories of a meter's three series, and the metrics they are of. */
export interface SeriesDirs {
  metrics: { export: string; import: string; power: string | null };
  export: readonly ChunkEntry[];
  import: readonly ChunkEntry[];
  power: readonly ChunkEntry[] | null;
}

interface Run {
  first: ChunkEntry;
  firstI: ChunkEntry;
  last: ChunkEntry;
  lastI: ChunkEntry;
  polls: number;
  view: PlanView;
  /** the power integral so far, kWh */
  power: number;
}

/** A register whose steps, shared out one by one, add up to its difference: whole counts of whole mWh. */
function telescopes(spec: CounterSpec): boolean {
  return spec.type !== 'float32' && Number.isInteger(Math.round(kwhPerCount(spec) * 1e6 * 1e6) / 1e6);
}

/** Whether a step of `dt` from `a` to `b` (values) is one the reading path would credit as plain. */
function plainStep(spec: CounterSpec, view: PlanView, dt: number, riseMin: number, riseMax: number): boolean {
  const r = view.record;
  if (dt < r.intervalMs / 2 || dt > 1.5 * r.intervalMs) return false;
  if (toCounts(riseMin, spec) < 0) return false;
  const bound = plausibleCounts(spec, r.ratedKw, dt + (r.readWindowMs ?? 0), view.mpePercent);
  return bound === null || toCounts(riseMax, spec) <= bound;
}

function chunkOk(s: ChunkSummary, spec: CounterSpec, view: PlanView): boolean {
  return s.clean && s.minStepMs > 0 && plainStep(spec, view, s.minStepMs, s.minRise, s.maxRise) && s.maxStepMs <= 1.5 * view.record.intervalMs;
}

/**
 * @param splits instants no run may span (the crediting period's bounds): a run lies wholly on one side
 */
export function fastSpans(dirs: SeriesDirs, views: readonly PlanView[], from: number, to: number, splits: readonly number[]): FastSpan[] {
  const imports = new Map(dirs.import.map((c) => [c.chunk, c]));
  const powers = dirs.power ? new Map(dirs.power.map((c) => [c.chunk, c])) : null;
  const spans: FastSpan[] = [];
  let run = null as Run | null;
  const close = () => {
    if (run) spans.push(spanOf(run, powers !== null));
    run = null;
  };
  const crosses = (a: number, b: number) => splits.some((s) => a < s && s <= b);
  for (const e of [...dirs.export].sort((x, y) => x.chunk - y.chunk)) {
    const i = imports.get(e.chunk);
    const p = powers?.get(e.chunk);
    const view = planAt(views, e.minTs);
    const ok = i !== undefined && view !== null && !view.problem && e.count >= 2 && e.minTs > from && e.maxTs < to && view.to > e.maxTs && e.maxTs <= view.overdueFrom
      && view.record.export.metric === dirs.metrics.export && view.record.import.metric === dirs.metrics.import && (view.record.power?.metric ?? null) === dirs.metrics.power
      && i.summary.tsDigest === e.summary.tsDigest && (powers === null || p?.summary.tsDigest === e.summary.tsDigest)
      && (p === undefined || p.summary.clean) && !crosses(e.minTs, e.maxTs)
      && telescopes(view.record.export) && telescopes(view.record.import)
      && chunkOk(e.summary, view.record.export, view) && chunkOk(i.summary, view.record.import, view);
    if (!ok) {
      close();
      continue;
    }
    const unit = view.record.power ? powerUnitKw(view.record.power.unit) ?? 1 : 1;
    const powerIn = p ? (p.summary.trapezoid * unit) / 3_600_000 : 0;
    const r = run as Run | null;
    if (r && r.last.chunk === e.chunk - 1 && r.view === view && !crosses(r.last.maxTs, e.minTs)) {
      const dt = e.minTs - r.last.maxTs;
      const riseE = e.summary.first.value - r.last.summary.last.value;
      const riseI = i.summary.first.value - r.lastI.summary.last.value;
      if (plainStep(view.record.export, view, dt, riseE, riseE) && plainStep(view.record.import, view, dt, riseI, riseI)) {
        const between = p && powers ? (((powers.get(r.last.chunk)!.summary.last.value + p.summary.first.value) / 2) * dt * unit) / 3_600_000 : 0;
        run = { ...r, last: e, lastI: i, polls: r.polls + e.count, power: r.power + between + powerIn };
        continue;
      }
    }
    close();
    run = { first: e, last: e, firstI: i, lastI: i, polls: e.count, view, power: powerIn };
  }
  close();
  return spans.filter((s) => s.polls >= 3);
}

function spanOf(r: Run, withPower: boolean): FastSpan {
  const { export: specE, import: specI } = r.view.record;
  const mwhOf = (c: number, spec: CounterSpec) => Math.round(c * kwhPerCount(spec) * 1e6);
  const e0 = toCounts(r.first.summary.first.value, specE);
  const i0 = toCounts(r.firstI.summary.first.value, specI);
  return {
    t0: r.first.minTs, t1: r.last.maxTs, polls: r.polls, view: r.view,
    exportMwh: mwhOf(toCounts(r.last.summary.last.value, specE) - e0, specE),
    importMwh: mwhOf(toCounts(r.lastI.summary.last.value, specI) - i0, specI),
    first: {
      ts: r.first.minTs, exportKwh: Math.round(e0 * kwhPerCount(specE) * 1e9) / 1e9, importKwh: Math.round(i0 * kwhPerCount(specI) * 1e9) / 1e9,
      seqExport: r.first.summary.first.seq, seqImport: r.firstI.summary.first.seq,
      epochExport: r.first.summary.first.epoch ?? 1, epochImport: r.firstI.summary.first.epoch ?? 1,
    },
    powerKwh: withPower ? r.power : null,
  };
}

/**
 * A run as a slice of the period [t0, t1): all of its energy, its polls but the first (counted by
 * the slice before it, which knows its predecessor) present, nothing failed or flagged.
 */
export function fastSlice(sp: FastSpan, clip: { from: number; to: number } | null): SliceResult {
  const E = sp.exportMwh;
  const I = sp.importMwh;
  const interval = sp.view.record.intervalMs;
  return {
    energy: {
      totals: { exported: E, imported: I, creditedExport: E, chargedImport: I, eventImportCharge: 0, noteCredited: 0, gapWithheld: 0, eventWithheld: 0, calibrationReduction: 0 },
      events: [], gaps: [], overdue: [], edges: { before: null, first: null, last: null, after: null },
    },
    edges: { before: null, first: sp.first, last: null, after: null },
    completeness: { expected: Math.ceil(sp.t1 / interval) - Math.ceil(sp.t0 / interval), present: sp.polls - 2, reads: sp.polls - 1, failedReads: 0, flaggedReads: {} },
    power: { kwh: sp.powerKwh ?? 0, coveredMs: sp.powerKwh === null ? 0 : sp.t1 - sp.t0 },
    creditedInClip: clip && clip.from <= sp.t0 && sp.t1 <= clip.to ? E - I : 0,
    closed: true,
  };
}

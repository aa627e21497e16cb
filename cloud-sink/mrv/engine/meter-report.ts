// One meter's part of the report: its plans in force, its energy step by step (meter-energy.ts),
// its completeness against the plan's polling interval, the readings that open and close the
// period, and the power integral beside the registers as a cross-check.
import { kwhPerCount } from '../../../protocol/meter-register.ts';
import { powerUnitKw } from '../../../protocol/plan.ts';
import { F, type SeriesPoints } from '../index/chunk-codec.ts';
import type { MrvStore } from '../store/types.ts';
import { kwh } from './apportion.ts';
import { credited, meterEnergy, type EnergyOptions, type MeterEnergy } from './meter-energy.ts';
import { plansOver, type PlanView } from './plan-timeline.ts';
import { goodPolls, lowerBound, type Polls } from './polls.ts';
import { SeriesWindow } from './series-window.ts';

/** chunks loaded at most, on either side, while looking for the good polls that straddle an edge */
const MAX_EXTEND = 2000;

export interface MeterResult {
  sensor: string;
  views: PlanView[];
  energy: MeterEnergy;
  polls: Polls;
  completeness: { expected: number; present: number; reads: number; failedReads: number; flaggedReads: Record<string, number> };
  crossCheck: { metric: string; powerIntegralKwh: number; coveredMs: number } | null;
  /** no good poll at or after the period's end yet: the last part of the period may still be credited later */
  provisional: boolean;
}

const UNUSABLE = F.NULL | F.BAD | F.META_MISMATCH;

export async function meterResult(mrv: MrvStore, device: string, sensor: string, views: PlanView[], opts: EnergyOptions): Promise<MeterResult> {
  const { from, to } = opts;
  const registerMetrics = new Set<string>();
  for (const v of views) if (!v.problem) registerMetrics.add(v.record.export.metric).add(v.record.import.metric);
  const windows = await Promise.all([...registerMetrics].map((m) => SeriesWindow.open(mrv, device, sensor, m)));
  await Promise.all(windows.map((w) => w.cover(from, to)));
  const series = () => new Map(windows.map((w) => [w.metric, w.points()] as [string, SeriesPoints]));
  let polls = goodPolls(views, series());
  // the good polls straddling each edge may lie further out: load a chunk more at a time
  for (let i = 0; i < MAX_EXTEND && !(polls.n > 0 && polls.ts[0]! <= from); i++) {
    const more = await Promise.all(windows.map((w) => w.extendBack()));
    if (!more.some(Boolean)) break;
    polls = goodPolls(views, series());
  }
  for (let i = 0; i < MAX_EXTEND && !(polls.n > 0 && polls.ts[polls.n - 1]! >= to); i++) {
    const more = await Promise.all(windows.map((w) => w.extendForward()));
    if (!more.some(Boolean)) break;
    polls = goodPolls(views, series());
  }
  const energy = meterEnergy(polls, views, opts);
  return {
    sensor, views, energy, polls,
    completeness: completeness(polls, views, series(), from, to),
    crossCheck: await powerIntegral(mrv, device, sensor, views, from, to),
    provisional: polls.n === 0 || polls.ts[polls.n - 1]! < to,
  };
}

/** Expected polls are the plan's interval slots in the period; present ones are the good polls in it. */
function completeness(polls: Polls, views: readonly PlanView[], series: Map<string, SeriesPoints>, from: number, to: number): MeterResult['completeness'] {
  let expected = 0;
  let present = 0;
  let reads = 0;
  let failedReads = 0;
  const flaggedReads: Record<string, number> = {};
  for (const v of plansOver(views, from, to)) {
    const interval = v.record.intervalMs;
    if (!Number.isSafeInteger(interval) || interval <= 0) continue;
    const lo = Math.max(from, v.from);
    const hi = Math.min(to, v.to);
    expected += Math.ceil(hi / interval) - Math.ceil(lo / interval);
    if (v.problem) continue;
    // the reads of the export register: how many failed, and which flags kept the others out
    for (const metric of [v.record.export.metric, v.record.import.metric]) {
      const p = series.get(metric);
      if (!p) continue;
      for (let k = lowerBound(p.ts, p.n, lo); k < p.n && p.ts[k]! < hi; k++) {
        if (metric === v.record.export.metric) reads++;
        const f = p.flags[k]!;
        if (f & F.NULL) failedReads++;
        else if (f & UNUSABLE) for (const name of p.flagNames.get(k) ?? ['register_meta_mismatch']) flaggedReads[name] = (flaggedReads[name] ?? 0) + 1;
      }
    }
  }
  // Each good poll in the period is present, unless it follows the one before by less than half
  // the plan's interval (a meter read faster than planned counts no more than planned). A rule
  // of the poll and its predecessor only, so that consecutive periods count each poll once.
  for (let k = lowerBound(polls.ts, polls.n, from); k < polls.n && polls.ts[k]! < to; k++) {
    const interval = views[polls.plan[k]!]!.record.intervalMs;
    if (k === 0 || polls.ts[k]! - polls.ts[k - 1]! >= interval / 2) present++;
  }
  return { expected, present, reads, failedReads, flaggedReads };
}

/** The active power integrated over the period (trapezoids between good readings one interval apart). */
async function powerIntegral(mrv: MrvStore, device: string, sensor: string, views: readonly PlanView[], from: number, to: number): Promise<MeterResult['crossCheck']> {
  const inForce = plansOver(views, from, to).filter((v) => !v.problem && v.record.power);
  const metric = inForce[0]?.record.power?.metric;
  if (!metric) return null;
  const w = await SeriesWindow.open(mrv, device, sensor, metric);
  await w.cover(from, to);
  const p = w.points();
  let kwhSum = 0;
  let covered = 0;
  let prev = -1;
  for (let k = lowerBound(p.ts, p.n, from) - 1; k < p.n; k++) {
    if (k < 0 || p.flags[k]! & UNUSABLE) continue;
    const tk = p.ts[k]!;
    if (prev >= 0) {
      const tp = p.ts[prev]!;
      const v = inForce.find((x) => x.from <= tp && tp < x.to);
      if (v && tk - tp <= 1.5 * v.record.intervalMs) {
        const unit = powerUnitKw(v.record.power!.unit) ?? 1;
        const lo = Math.max(tp, from);
        const hi = Math.min(tk, to);
        if (hi > lo) {
          kwhSum += ((((p.value[prev]! + p.value[k]!) / 2) * unit * (tk - tp)) / 3_600_000) * ((hi - lo) / (tk - tp));
          covered += hi - lo;
        }
      }
    }
    prev = k;
    if (tk >= to) break;
  }
  return { metric, powerIntegralKwh: Math.round(kwhSum * 1e6) / 1e6, coveredMs: covered };
}

/** The meter's JSON section. */
export function meterJson(m: MeterResult, from: number, to: number, calibration: 'reduce' | 'exclude') {
  const t = m.energy.totals;
  const net = t.exported - t.imported;
  const inForce = plansOver(m.views, from, to);
  const reading = (k: number | null) => k === null ? null : {
    ts: m.polls.ts[k]!, exportKwh: registerKwh(m, k, 'export'), importKwh: registerKwh(m, k, 'import'), seqExport: m.polls.seqE[k]!, seqImport: m.polls.seqI[k]!,
  };
  return {
    sensor: m.sensor,
    plans: inForce.map((v) => ({
      seq: v.seq, inForceFrom: v.from, serial: v.record.serial, accuracyClass: v.record.accuracyClass, maxPermissibleErrorPercent: v.mpePercent,
      calibratedAt: v.record.calibratedAt, calibrationDue: v.record.calibrationDue, ratedKw: v.record.ratedKw ?? null, intervalMs: v.record.intervalMs,
      export: v.record.export, import: v.record.import, power: v.record.power ?? null, problem: v.problem,
    })),
    credited: inForce.some((v) => !v.problem) ? null : inForce.length === 0 ? 'no monitoring plan in force: nothing credited' : `the plan cannot be used (${inForce[0]!.problem}): nothing credited`,
    energy: {
      exportedKwh: kwh(t.exported), importedKwh: kwh(t.imported), netKwh: kwh(net), creditedKwh: kwh(credited(t)),
      reconciliation: {
        netKwh: kwh(net), unbridgedGapExportKwh: -kwh(t.gapWithheld), eventImportChargedKwh: -kwh(t.eventImportCharge),
        noteCreditedKwh: kwh(t.noteCredited), calibrationReductionKwh: -kwh(t.calibrationReduction), creditedKwh: kwh(credited(t)),
      },
    },
    events: m.energy.events.map((e) => ({
      ts: e.ts, from: e.from, sensor: m.sensor, register: e.register, kind: e.kind, detectedBy: e.detectedBy, registerBefore: e.before, registerAfter: e.after,
      estimateKwh: kwh(e.estimate), uncreditedKwh: kwh(e.uncredited), creditedByNoteKwh: kwh(e.creditedByNote), importChargedKwh: kwh(e.importCharged),
      notes: e.notes.map((n) => ({ operator: n.note.operator, at: n.note.at, credit: n.note.credit, text: n.note.text, counts: n.standing === null, standing: n.standing })),
    })),
    gaps: m.energy.gaps.map((g) => ({ from: g.from, to: g.to, sensor: m.sensor, bridged: g.bridged, reason: g.reason, exportRegisterKwh: kwh(g.exportRegister), importRegisterKwh: kwh(g.importRegister), uncreditedKwh: kwh(g.uncredited) })),
    calibration: m.energy.overdue.map((o) => {
      const v = m.views.find((x) => x.seq === o.planSeq)!;
      return { serial: v.record.serial, calibrationDue: v.record.calibrationDue, overdueFrom: o.overdueFrom, overdueHours: Math.round((o.ms / 3_600_000) * 1000) / 1000, mode: calibration, maxPermissibleErrorPercent: v.mpePercent };
    }),
    calibrationReductionKwh: kwh(t.calibrationReduction),
    completeness: { ...m.completeness, ratio: m.completeness.expected > 0 ? Math.min(1, Math.round((m.completeness.present / m.completeness.expected) * 1e6) / 1e6) : 0 },
    readings: { before: reading(m.energy.edges.before), first: reading(m.energy.edges.first), last: reading(m.energy.edges.last), after: reading(m.energy.edges.after) },
    crossCheck: m.crossCheck && {
      ...m.crossCheck, registerNetKwh: kwh(net), coveredFraction: Math.round((m.crossCheck.coveredMs / (to - from)) * 1e6) / 1e6,
      differencePercent: net !== 0 ? Math.round(((m.crossCheck.powerIntegralKwh - kwh(net)) / Math.abs(kwh(net))) * 1e4) / 100 : null,
    },
    provisional: m.provisional,
  };
}

function registerKwh(m: MeterResult, k: number, which: 'export' | 'import'): number {
  const spec = m.views[m.polls.plan[k]!]!.record[which];
  return Math.round((which === 'export' ? m.polls.e[k]! : m.polls.i[k]!) * kwhPerCount(spec) * 1e9) / 1e9;
}

export type MeterJson = ReturnType<typeof meterJson>;

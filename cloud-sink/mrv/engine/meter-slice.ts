// One slice of a meter's period: its register readings loaded from the index (with the good polls
// that straddle the slice's edges, however far out), the energy of its steps (meter-energy.ts),
// its completeness against the plan, and the power integral as a cross-check. A long period is
// worked through slice by slice so that memory stays bounded; shares add up across slices exactly
// as they do across periods.
import { kwhPerCount } from '../../../protocol/meter-register.ts';
import { powerUnitKw } from '../../../protocol/plan.ts';
import { F, lowerBound, type SeriesPoints } from '../index/chunk-codec.ts';
import { credited, meterEnergy, type EnergyOptions, type MeterEnergy } from './meter-energy.ts';
import { plansOver, type PlanView } from './plan-timeline.ts';
import { goodPolls, type Polls } from './polls.ts';
import type { SeriesWindow } from './series-window.ts';

/** chunks loaded at most, on either side, while looking for the good polls that straddle an edge */
const MAX_EXTEND = 2000;
const UNUSABLE = F.NULL | F.BAD | F.META_MISMATCH;

export interface Completeness {
  expected: number;
  present: number;
  reads: number;
  failedReads: number;
  flaggedReads: Record<string, number>;
}

/** A good poll, as the report shows the readings that open and close a period. */
export interface EdgeReading {
  ts: number;
  exportKwh: number;
  importKwh: number;
  seqExport: number;
  seqImport: number;
  /** the recovery epochs of the two readings: a proof is asked for by epoch and seq */
  epochExport: number;
  epochImport: number;
}

export interface SliceResult {
  energy: MeterEnergy;
  edges: { before: EdgeReading | null; first: EdgeReading | null; last: EdgeReading | null; after: EdgeReading | null };
  completeness: Completeness;
  power: { kwh: number; coveredMs: number };
  /** credited in the part of the slice inside `clip` (the crediting period), mWh */
  creditedInClip: number;
  /** whether a good poll at or after the slice's end exists */
  closed: boolean;
}

export interface SliceInput {
  views: readonly PlanView[];
  registers: SeriesWindow[];
  power: SeriesWindow | null;
  opts: EnergyOptions;
  clip: { from: number; to: number } | null;
  /** count present polls before this instant rather than before the slice's end (a run read from summaries follows) */
  presentTo?: number;
}

export async function sliceResult(input: SliceInput): Promise<SliceResult> {
  const { views, registers, opts } = input;
  const { from, to } = opts;
  for (const w of registers) w.release();
  await Promise.all(registers.map((w) => w.cover(from, to)));
  const series = () => new Map(registers.map((w) => [w.metric, w.points()] as [string, SeriesPoints]));
  let polls = goodPolls(views, series());
  for (let i = 0; i < MAX_EXTEND && !(polls.n > 0 && polls.ts[0]! <= from); i++) {
    if (!(await Promise.all(registers.map((w) => w.extendBack()))).some(Boolean)) break;
    polls = goodPolls(views, series());
  }
  for (let i = 0; i < MAX_EXTEND && !(polls.n > 0 && polls.ts[polls.n - 1]! >= to); i++) {
    if (!(await Promise.all(registers.map((w) => w.extendForward()))).some(Boolean)) break;
    polls = goodPolls(views, series());
  }
  const energy = meterEnergy(polls, views, opts);
  const clip = input.clip;
  let creditedInClip = 0;
  if (clip && clip.to > clip.from) {
    creditedInClip = clip.from <= from && clip.to >= to ? credited(energy.totals) : credited(meterEnergy(polls, views, { ...opts, ...clip }).totals);
  }
  const edge = (k: number | null) => (k === null ? null : edgeReading(polls, views, k));
  return {
    energy,
    edges: { before: edge(energy.edges.before), first: edge(energy.edges.first), last: edge(energy.edges.last), after: edge(energy.edges.after) },
    completeness: completeness(polls, views, series(), from, to, input.presentTo ?? to),
    power: input.power ? await powerIntegral(input.power, views, from, to) : { kwh: 0, coveredMs: 0 },
    creditedInClip,
    closed: polls.n > 0 && polls.ts[polls.n - 1]! >= to,
  };
}

function edgeReading(polls: Polls, views: readonly PlanView[], k: number): EdgeReading {
  const r = views[polls.plan[k]!]!.record;
  const kwh = (counts: number, spec: typeof r.export) => Math.round(counts * kwhPerCount(spec) * 1e9) / 1e9;
  return { ts: polls.ts[k]!, exportKwh: kwh(polls.e[k]!, r.export), importKwh: kwh(polls.i[k]!, r.import), seqExport: polls.seqE[k]!, seqImport: polls.seqI[k]!, epochExport: polls.epochE[k]!, epochImport: polls.epochI[k]! };
}

/**
 * Expected polls are the plan's interval slots in the period; present ones are the good polls in
 * it, each unless it follows the one before by less than half the plan's interval (a meter read
 * faster than planned counts no more than planned). Both rules look at a poll and its predecessor
 * only, so consecutive periods count each poll once.
 */
function completeness(polls: Polls, views: readonly PlanView[], series: Map<string, SeriesPoints>, from: number, to: number, presentTo: number): Completeness {
  const c: Completeness = { expected: 0, present: 0, reads: 0, failedReads: 0, flaggedReads: {} };
  for (const v of plansOver(views, from, to)) {
    const interval = v.record.intervalMs;
    if (!Number.isSafeInteger(interval) || interval <= 0) continue;
    const lo = Math.max(from, v.from);
    const hi = Math.min(to, v.to);
    c.expected += Math.ceil(hi / interval) - Math.ceil(lo / interval);
    if (v.problem) continue;
    // the reads of the two registers: how many failed, and which flags kept the others out
    for (const metric of [v.record.export.metric, v.record.import.metric]) {
      const p = series.get(metric);
      if (!p) continue;
      const isExport = metric === v.record.export.metric;
      for (let k = lowerBound(p.ts, p.n, lo); k < p.n && p.ts[k]! < hi; k++) {
        if (isExport) c.reads++;
        const f = p.flags[k]!;
        if (f & F.NULL) c.failedReads++;
        else if (f & UNUSABLE) for (const name of p.flagNames.get(k) ?? ['register_meta_mismatch']) c.flaggedReads[name] = (c.flaggedReads[name] ?? 0) + 1;
      }
    }
  }
  for (let k = lowerBound(polls.ts, polls.n, from); k < polls.n && polls.ts[k]! < presentTo; k++) {
    const interval = views[polls.plan[k]!]!.record.intervalMs;
    if (k === 0 || polls.ts[k]! - polls.ts[k - 1]! >= interval / 2) c.present++;
  }
  return c;
}

/** The active power integrated over [from, to): trapezoids between good readings one interval apart. */
async function powerIntegral(w: SeriesWindow, views: readonly PlanView[], from: number, to: number): Promise<SliceResult['power']> {
  const inForce = plansOver(views, from, to).filter((v) => !v.problem && v.record.power?.metric === w.metric);
  if (inForce.length === 0) return { kwh: 0, coveredMs: 0 };
  w.release();
  await w.cover(from, to);
  // the readings just outside, for the trapezoids that straddle the edges
  await w.extendBack();
  await w.extendForward();
  const p = w.points();
  let kwhSum = 0;
  let covered = 0;
  let prev = -1;
  let v = inForce[0]!;
  for (let k = Math.max(0, lowerBound(p.ts, p.n, from) - 1); k < p.n; k++) {
    if (p.flags[k]! & UNUSABLE) continue;
    const tk = p.ts[k]!;
    if (prev >= 0) {
      const tp = p.ts[prev]!;
      if (tp < v.from || tp >= v.to) v = inForce.find((x) => x.from <= tp && tp < x.to) ?? v;
      if (tp >= v.from && tp < v.to && tk - tp <= 1.5 * v.record.intervalMs) {
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
  return { kwh: kwhSum, coveredMs: covered };
}

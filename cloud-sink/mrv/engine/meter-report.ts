// One meter's part of the report: its plans in force, and its period worked through in slices
// (meter-slice.ts) whose energy, events, gaps, completeness and cross-check add up to the
// period's; the readings that open and close the period; the meter's JSON section.
import type { MrvStore } from '../store/types.ts';
import { kwh } from './apportion.ts';
import type { CarriedJson, OutOfOrderJson } from './epochs.ts';
import { addSlice, credited, type EnergyOptions, type MeterEnergy } from './meter-energy.ts';
import { fastSlice, fastSpans } from './fast-spans.ts';
import { sliceResult, type Completeness, type SliceResult } from './meter-slice.ts';
import { plansOver, type PlanView } from './plan-timeline.ts';
import { SeriesWindow } from './series-window.ts';

/** polls per slice: a slice's readings and polls take some tens of MB at most */
const POLLS_PER_SLICE = 400_000;

export interface MeterResult {
  sensor: string;
  views: PlanView[];
  energy: MeterEnergy;
  edges: SliceResult['edges'];
  completeness: Completeness;
  crossCheck: { metric: string; powerIntegralKwh: number; coveredMs: number } | null;
  /** credited inside the crediting period, mWh */
  creditedInClip: number;
  /** no good poll at or after the period's end yet: the last part of the period may still be credited later */
  provisional: boolean;
}

/**
 * @param tuning.sliceMs the slice length; by default long enough for POLLS_PER_SLICE polls at the
 *   plan's interval, and a day at least
 * @param tuning.summaries false to read every reading, even where the chunks' summaries would do
 */
export async function meterResult(
  mrv: MrvStore, device: string, sensor: string, views: PlanView[], opts: EnergyOptions, clip: { from: number; to: number } | null,
  tuning: { sliceMs?: number; summaries?: boolean } = {},
): Promise<MeterResult> {
  const { from, to } = opts;
  const registerMetrics = new Set<string>();
  for (const v of views) if (!v.problem) registerMetrics.add(v.record.export.metric).add(v.record.import.metric);
  const registers = await Promise.all([...registerMetrics].map((m) => SeriesWindow.open(mrv, device, sensor, m)));
  const inForce = plansOver(views, from, to);
  const powerMetric = inForce.find((v) => !v.problem && v.record.power)?.record.power?.metric;
  const power = powerMetric ? await SeriesWindow.open(mrv, device, sensor, powerMetric) : null;
  const shortest = Math.min(...inForce.map((v) => v.record.intervalMs).filter((x) => Number.isSafeInteger(x) && x > 0), 86_400_000);
  const slice = tuning.sliceMs ?? Math.max(86_400_000, POLLS_PER_SLICE * shortest);
  const registerWindow = (m: string) => registers.find((w) => w.metric === m)!;
  const valid = inForce.filter((v) => !v.problem);
  const one = (pick: (v: PlanView) => string | null) => new Set(valid.map(pick)).size === 1;
  // runs read from the chunks' summaries alone, where the plans in force keep to one set of registers
  const spans = tuning.summaries !== false && valid.length > 0 && one((v) => v.record.export.metric) && one((v) => v.record.import.metric) && one((v) => v.record.power?.metric ?? null)
    ? fastSpans({
      metrics: { export: valid[0]!.record.export.metric, import: valid[0]!.record.import.metric, power: powerMetric ?? null },
      export: registerWindow(valid[0]!.record.export.metric).entries, import: registerWindow(valid[0]!.record.import.metric).entries, power: power?.entries ?? null,
    }, views, from, to, clip ? [clip.from, clip.to] : [])
    : [];
  let result: MeterResult | null = null;
  const add = (part: SliceResult) => {
    if (!result) {
      result = {
        sensor, views, energy: part.energy, edges: part.edges, completeness: part.completeness, creditedInClip: part.creditedInClip, provisional: !part.closed,
        crossCheck: powerMetric ? { metric: powerMetric, powerIntegralKwh: part.power.kwh, coveredMs: part.power.coveredMs } : null,
      };
    } else merge(result, part);
  };
  let cursor = from;
  for (const segment of [...spans, null]) {
    const end = segment ? segment.t0 : to;
    for (let s = cursor; s < end; s += slice) {
      const last = s + slice >= end;
      add(await sliceResult({ views, registers, power, opts: { ...opts, from: s, to: Math.min(end, s + slice) }, clip, ...(last && segment ? { presentTo: end + 1 } : {}) }));
    }
    if (segment) {
      add(fastSlice(segment, clip));
      cursor = segment.t1;
    }
  }
  const out = result as MeterResult | null;
  if (out?.crossCheck) out.crossCheck.powerIntegralKwh = Math.round(out.crossCheck.powerIntegralKwh * 1e6) / 1e6;
  return out!;
}

/** Add the next slice of the period. */
function merge(result: MeterResult, part: SliceResult): void {
  addSlice(result.energy, part.energy);
  result.edges = { before: result.edges.before, first: result.edges.first ?? part.edges.first, last: part.edges.last ?? result.edges.last, after: part.edges.after };
  const c = result.completeness;
  c.expected += part.completeness.expected;
  c.present += part.completeness.present;
  c.reads += part.completeness.reads;
  c.failedReads += part.completeness.failedReads;
  for (const [name, n] of Object.entries(part.completeness.flaggedReads)) c.flaggedReads[name] = (c.flaggedReads[name] ?? 0) + n;
  result.creditedInClip += part.creditedInClip;
  result.provisional = !part.closed;
  if (result.crossCheck) {
    result.crossCheck.powerIntegralKwh += part.power.kwh;
    result.crossCheck.coveredMs += part.power.coveredMs;
  }
}
/** The meter's JSON section. */
export function meterJson(m: MeterResult, from: number, to: number, calibration: 'reduce' | 'exclude', later: { carried: CarriedJson[]; outOfOrder: OutOfOrderJson[] }) {
  const t = m.energy.totals;
  const net = t.exported - t.imported;
  const inForce = plansOver(m.views, from, to);
  return {
    sensor: m.sensor,
    plans: inForce.map((v) => ({
      epoch: v.epoch, seq: v.seq, inForceFrom: v.from, serial: v.record.serial, accuracyClass: v.record.accuracyClass, maxPermissibleErrorPercent: v.mpePercent,
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
      const v = m.views.find((x) => x.epoch === o.planEpoch && x.seq === o.planSeq)!;
      return { serial: v.record.serial, calibrationDue: v.record.calibrationDue, overdueFrom: o.overdueFrom, overdueHours: Math.round((o.ms / 3_600_000) * 1000) / 1000, mode: calibration, maxPermissibleErrorPercent: v.mpePercent };
    }),
    calibrationReductionKwh: kwh(t.calibrationReduction),
    completeness: { ...m.completeness, ratio: m.completeness.expected > 0 ? Math.min(1, Math.round((m.completeness.present / m.completeness.expected) * 1e6) / 1e6) : 0 },
    readings: m.edges,
    /** readings a later recovery epoch carried that an earlier one holds: left out, the earlier copies used */
    carriedReadings: later.carried,
    /** readings of a later epoch stamped before the register's last reading, at instants no epoch holds: left out */
    outOfOrderReadings: later.outOfOrder,
    crossCheck: m.crossCheck && {
      ...m.crossCheck, registerNetKwh: kwh(net), coveredFraction: Math.round((m.crossCheck.coveredMs / (to - from)) * 1e6) / 1e6,
      differencePercent: net !== 0 ? Math.round(((m.crossCheck.powerIntegralKwh - kwh(net)) / Math.abs(kwh(net))) * 1e4) / 100 : null,
    },
    provisional: m.provisional,
  };
}

export type MeterJson = ReturnType<typeof meterJson>;

// A meter's energy over a period, step by step between its good polls. Each step is classified
// on both registers (protocol/meter-register.ts, checked again here from the signed values, and
// what the device flagged counts too):
//   plain      both registers advanced plausibly, polls one interval apart: credited, export - import
//   gap        polls further apart: bridged (credited) only where the plan gives a rated power that
//              bounds it; otherwise the export is withheld and the import still charged
//   event      a reset, rollover, wrap, jump on either register, or a new meter or register map
//              between the polls: the export is withheld unless signed operator notes accept every
//              event of the step and the event kinds allow a credit at all; the import is charged
//              at its most likely-high estimate either way
// Every amount is shared into the period by interpolation (apportion.ts). A meter past its
// calibration due date has its credited export reduced and its charged import raised by the
// accuracy class's maximum permissible error for the overdue time (or its export withheld).
import { classifyStep, kwhPerCount, plausibleCounts, type CounterStep, type StepKind } from '../../../protocol/meter-register.ts';
import { F, lowerBound } from '../index/chunk-codec.ts';
import type { OperatorNote } from '../notes.ts';
import { mwh, share } from './apportion.ts';
import type { PlanView } from './plan-timeline.ts';
import type { Polls } from './polls.ts';

export type EventKind = Exclude<StepKind, 'normal'> | 'replacement' | 'reconfigured';

/** What an accepting note lets be credited: the register's own count across the event; nothing where it has none. */
const NOTE_CREDITABLE: ReadonlySet<string> = new Set(['rollover', 'negative_wrap', 'reset']);

const DEVICE_KINDS: readonly [number, EventKind][] = [[F.EV_RESET, 'reset'], [F.EV_ROLLOVER, 'rollover'], [F.EV_WRAP, 'negative_wrap'], [F.EV_JUMP, 'jump']];

export interface NoteRef {
  note: OperatorNote;
  /** why it does not count, or null */
  standing: string | null;
}

export interface MeterEvent {
  ts: number;
  from: number;
  register: 'export' | 'import' | 'meter';
  kind: EventKind;
  detectedBy: 'sink' | 'device' | 'device+sink';
  /** the register's value before and after, as read */
  before: number | null;
  after: number | null;
  /** the energy the step most likely stands for, over the whole step, mWh */
  estimate: number;
  /** shares in the period, mWh */
  uncredited: number;
  creditedByNote: number;
  importCharged: number;
  notes: NoteRef[];
}

export interface MeterGap {
  from: number;
  to: number;
  bridged: boolean;
  reason: string;
  /** whole step, mWh */
  exportRegister: number;
  importRegister: number;
  /** shares in the period, mWh */
  uncredited: number;
}

export interface EnergyTotals {
  exported: number;
  imported: number;
  creditedExport: number;
  chargedImport: number;
  eventImportCharge: number;
  noteCredited: number;
  gapWithheld: number;
  eventWithheld: number;
  calibrationReduction: number;
}

export interface MeterEnergy {
  totals: EnergyTotals;
  events: MeterEvent[];
  gaps: MeterGap[];
  /** time in the period during which the meter's calibration was overdue, ms, by meter and due date */
  overdue: Overdue[];
  /** the good polls used to interpolate at the period's edges, and the first and last inside it */
  edges: { before: number | null; first: number | null; last: number | null; after: number | null };
}

export type Overdue = { planEpoch: number; planSeq: number; serial: string; calibrationDue: string; overdueFrom: number; ms: number };

export interface EnergyOptions {
  from: number;
  to: number;
  calibration: 'reduce' | 'exclude';
  /** notes by `${eventTs}:${kind}` */
  notes: ReadonlyMap<string, NoteRef[]>;
}

function emptyTotals(): EnergyTotals {
  return { exported: 0, imported: 0, creditedExport: 0, chargedImport: 0, eventImportCharge: 0, noteCredited: 0, gapWithheld: 0, eventWithheld: 0, calibrationReduction: 0 };
}

function deviceKind(bits: number): EventKind | null {
  for (const [bit, kind] of DEVICE_KINDS) if (bits & bit) return kind;
  return null;
}

/** The import charge of a step: what it most likely counted, or the most it can have counted where that is unknown. */
function importCharge(step: CounterStep, bound: number | null): number {
  if (step.kind === 'reset' || step.kind === 'jump') return bound !== null ? Math.max(step.counts, Math.floor(bound)) : step.counts;
  return step.counts;
}

export function meterEnergy(polls: Polls, views: readonly PlanView[], opts: EnergyOptions): MeterEnergy {
  const { from, to } = opts;
  const t = emptyTotals();
  const out: MeterEnergy = { totals: t, events: [], gaps: [], overdue: [], edges: { before: null, first: null, last: null, after: null } };
  const n = polls.n;
  const ts = polls.ts;
  const firstIn = lowerBound(ts, n, from);
  const firstAfter = lowerBound(ts, n, to);
  // ts are whole milliseconds: "after from" is "at or after from + 1"
  const firstPastFrom = lowerBound(ts, n, from + 1);
  out.edges = {
    before: firstPastFrom > 0 ? firstPastFrom - 1 : null,
    first: firstIn < firstAfter ? firstIn : null,
    last: firstIn < firstAfter ? firstAfter - 1 : null,
    after: firstAfter < n ? firstAfter : null,
  };
  // the steps (k-1, k) that meet [from, to): ts[k] > from and ts[k-1] < to
  const kFrom = Math.max(1, firstPastFrom);
  const kTo = Math.min(n - 1, firstAfter);
  const overdue = new Map<string, Overdue>();
  const { e, i, evE, evI, plan } = polls;
  for (let k = kFrom; k <= kTo; k++) {
    const a = k - 1;
    const ta = ts[a]!;
    const tb = ts[k]!;
    if (tb <= from || ta >= to) continue;
    // the common case first, without allocating: one plan, both registers up by a plausible
    // amount, polls one interval apart, no device flag, calibration in date
    const pa = plan[a]!;
    const v = views[pa]!;
    if (pa === plan[k] && evE[k] === 0 && evI[k] === 0 && tb <= v.overdueFrom) {
      const dt = tb - ta;
      const dE = e[k]! - e[a]!;
      const dI = i[k]! - i[a]!;
      const r = v.record;
      if (dE >= 0 && dI >= 0 && dt <= 1.5 * r.intervalMs) {
        const sampleDt = dt + (r.readWindowMs ?? 0);
        const boundE = plausibleCounts(r.export, r.ratedKw, sampleDt, v.mpePercent);
        const boundI = plausibleCounts(r.import, r.ratedKw, sampleDt, v.mpePercent);
        if ((boundE === null || dE <= boundE) && (boundI === null || dI <= boundI)) {
          const E = mwh(dE * kwhPerCount(r.export));
          const I = mwh(dI * kwhPerCount(r.import));
          const inside = ta >= from && tb <= to;
          const sE = inside ? E : share(E, ta, tb, from, to);
          const sI = inside ? I : share(I, ta, tb, from, to);
          t.exported += sE;
          t.creditedExport += sE;
          t.imported += sI;
          t.chargedImport += sI;
          continue;
        }
      }
    }
    step(polls, views, opts, out, overdue, k);
  }
  out.overdue = [...overdue.values()];
  return out;
}

/** Any other step: a plan change, an event, a gap, an overdue calibration. */
function step(polls: Polls, views: readonly PlanView[], opts: EnergyOptions, out: MeterEnergy, overdue: Map<string, Overdue>, k: number): void {
  const { from, to } = opts;
  const t = out.totals;
  const ts = polls.ts;
  const a = k - 1;
  const ta = ts[a]!;
  const tb = ts[k]!;
  const va = views[polls.plan[a]!]!;
  const vb = views[polls.plan[k]!]!;
  const dt = tb - ta;
  const inside = ta >= from && tb <= to;
  const sh = (amount: number) => (inside ? amount : share(amount, ta, tb, from, to));
  const rated = va.record.ratedKw;

  // a different meter, register map or an unusable plan between the two polls
  const planBreak = polls.plan[k]! - polls.plan[a]! > 1 || va.identity !== vb.identity;
  if (planBreak) {
    const kind: EventKind = va.record.serial !== vb.record.serial ? 'replacement' : 'reconfigured';
    const bound = plausibleCounts(vb.record.import, rated, dt + (vb.record.readWindowMs ?? 0), vb.mpePercent);
    const ic = bound !== null ? mwh(Math.floor(bound) * kwhPerCount(vb.record.import)) : 0;
    const notes = opts.notes.get(`${tb}:${kind}`) ?? [];
    t.eventImportCharge += sh(ic);
    out.events.push({ ts: tb, from: ta, register: 'meter', kind, detectedBy: 'sink', before: null, after: null, estimate: 0, uncredited: 0, creditedByNote: 0, importCharged: sh(ic), notes });
    return;
  }

  const specE = va.record.export;
  const specI = va.record.import;
  const mpe = Math.max(va.mpePercent, vb.mpePercent);
  // the samples may lie up to the read window further apart than the timestamps
  const sampleDt = dt + (va.record.readWindowMs ?? 0);
  const boundE = plausibleCounts(specE, rated, sampleDt, mpe);
  const boundI = plausibleCounts(specI, rated, sampleDt, mpe);
  const stepE = classifyStep(polls.e[a]!, polls.e[k]!, specE, boundE);
  const stepI = classifyStep(polls.i[a]!, polls.i[k]!, specI, boundI);
  const kpcE = kwhPerCount(specE);
  const kpcI = kwhPerCount(specI);
  const devE = deviceKind(polls.evE[k]!);
  const devI = deviceKind(polls.evI[k]!);
  const E = mwh(stepE.counts * kpcE);
  const I = mwh(stepI.counts * kpcI);
  let creditedE = 0;
  let chargedI = 0;

  if (stepE.kind === 'normal' && stepI.kind === 'normal' && !devE && !devI) {
    const gap = dt > 1.5 * va.record.intervalMs;
    const sE = sh(E);
    const sI = sh(I);
    t.exported += sE;
    t.imported += sI;
    t.chargedImport += sI;
    chargedI = I;
    if (!gap || rated !== undefined) {
      t.creditedExport += sE;
      creditedE = E;
    } else t.gapWithheld += sE;
    if (gap) {
      const bridged = rated !== undefined;
      out.gaps.push({
        from: ta, to: tb, bridged, exportRegister: E, importRegister: I, uncredited: bridged ? 0 : sE,
        reason: bridged ? `bridged by the registers: within ${rated} kW over the gap` : 'not bridged: the plan gives no rated power to bound the energy across the gap',
      });
    }
  } else {
    // an event on either register: every event of the step, with the notes on it
    const events: MeterEvent[] = [];
    const add = (register: 'export' | 'import', step: CounterStep, dev: EventKind | null, before: number, after: number, kpc: number) => {
      if (step.kind === 'normal' && !dev) return;
      const kind: EventKind = step.kind !== 'normal' ? step.kind : dev!;
      const detectedBy = step.kind === 'normal' ? 'device' : dev === step.kind ? 'device+sink' : 'sink';
      events.push({
        ts: tb, from: ta, register, kind, detectedBy, before: before * (register === 'export' ? specE.scale : specI.scale), after: after * (register === 'export' ? specE.scale : specI.scale),
        estimate: mwh(step.counts * kpc), uncredited: 0, creditedByNote: 0, importCharged: 0, notes: opts.notes.get(`${tb}:${kind}`) ?? [],
      });
    };
    add('export', stepE, devE, polls.e[a]!, polls.e[k]!, kpcE);
    add('import', stepI, devI, polls.i[a]!, polls.i[k]!, kpcI);
    const accepted = events.every((ev) => ev.notes.some((x) => x.standing === null && x.note.credit)) && (stepE.kind === 'normal' || NOTE_CREDITABLE.has(stepE.kind));
    const ic = mwh(importCharge(stepI, boundI) * kpcI);
    chargedI = ic;
    const sIc = sh(ic);
    t.eventImportCharge += sIc;
    const sE = sh(E);
    const primary = events.find((ev) => ev.register === 'export') ?? events[0]!;
    primary.importCharged = sIc;
    if (accepted) {
      t.noteCredited += sE;
      primary.creditedByNote = sE;
      creditedE = E;
    } else {
      t.eventWithheld += sE;
      primary.uncredited = sE;
    }
    out.events.push(...events);
  }

  // calibration overdue for part of the step: reduce (or withhold) for that part
  const due = Math.min(va.overdueFrom, vb.overdueFrom);
  if (tb > due) {
    const d = Math.max(ta, due);
    const frac = (tb - d) / dt;
    const reduction = opts.calibration === 'exclude'
      ? Math.ceil(creditedE * frac) + Math.ceil((mpe / 100) * chargedI * frac)
      : Math.ceil((mpe / 100) * (creditedE + chargedI) * frac);
    t.calibrationReduction += share(reduction, d, tb, from, to);
    // one entry per meter and due date, however many plans restated them
    const key = `${va.record.serial}\u0000${va.record.calibrationDue}`;
    const o = overdue.get(key) ?? { planEpoch: va.epoch, planSeq: va.seq, serial: va.record.serial, calibrationDue: va.record.calibrationDue, overdueFrom: va.overdueFrom, ms: 0 };
    o.ms += Math.max(0, Math.min(tb, to) - Math.max(d, from));
    overdue.set(key, o);
  }
}

/** Add a later slice of the same meter's period: its shares add up, the steps it shares with this one merge. */
export function addSlice(acc: MeterEnergy, part: MeterEnergy): void {
  for (const k of Object.keys(acc.totals) as (keyof EnergyTotals)[]) acc.totals[k] += part.totals[k];
  for (const e of part.events) {
    const held = acc.events.find((x) => x.ts === e.ts && x.register === e.register && x.kind === e.kind);
    if (!held) acc.events.push({ ...e });
    else {
      held.uncredited += e.uncredited;
      held.creditedByNote += e.creditedByNote;
      held.importCharged += e.importCharged;
    }
  }
  for (const g of part.gaps) {
    const held = acc.gaps.find((x) => x.from === g.from && x.to === g.to);
    if (held) held.uncredited += g.uncredited;
    else acc.gaps.push({ ...g });
  }
  for (const o of part.overdue) {
    const held = acc.overdue.find((x) => x.serial === o.serial && x.calibrationDue === o.calibrationDue);
    if (held) held.ms += o.ms;
    else acc.overdue.push({ ...o });
  }
}

/** Credited net energy from the totals, mWh. */
export function credited(t: EnergyTotals): number {
  return t.creditedExport + t.noteCredited - t.chargedImport - t.eventImportCharge - t.calibrationReduction;
}

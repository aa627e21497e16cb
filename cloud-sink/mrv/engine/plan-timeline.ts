// Which monitoring plan was in force for a meter at each time: a plan holds from its timestamp
// until the next plan of the same meter (in journal order), and a plan the report cannot use
// (protocol/plan.ts planProblem) holds too, crediting nothing, so that nothing falls back to an
// older plan the device had replaced. Journal order runs across recovery epochs: by epoch, then
// seq. A plan a later epoch carried over unchanged (the same record but for its seq) is the
// earlier one, not a new declaration.
import { ACCURACY_CLASS_MPE_PERCENT, parsePlanDate, planProblem, type PlanRecord } from '../../../protocol/plan.ts';
import type { PlanEntry } from '../store/types.ts';
import { firstOfCarried } from './epochs.ts';

const DAY = 86_400_000;

export interface PlanView {
  /** the recovery epoch and seq of the plan record */
  epoch: number;
  seq: number;
  record: PlanRecord;
  /** in force over [from, to) */
  from: number;
  to: number;
  problem: string | null;
  /** what must stay the same for a register step across two plans to be a plain step */
  identity: string;
  mpePercent: number;
  /** the first instant the calibration is overdue: the day after calibrationDue, UTC */
  overdueFrom: number;
}

function identityOf(r: PlanRecord): string {
  const reg = (c: PlanRecord['export']) => (c ? [c.metric, c.type, c.bits, c.signed, c.scale, c.unit, c.rolloverKwh ?? null] : null);
  return JSON.stringify([r.serial, reg(r.export), reg(r.import)]);
}

/** Per meter (sensor), its plans in force order. */
export function planTimelines(entries: readonly PlanEntry[]): Map<string, PlanView[]> {
  const bySensor = new Map<string, PlanEntry[]>();
  const declared = firstOfCarried(entries, (e) => {
    const { seq: _seq, ...content } = e.record;
    return JSON.stringify(content);
  });
  for (const e of declared) {
    let list = bySensor.get(e.record.sensor);
    if (!list) bySensor.set(e.record.sensor, (list = []));
    list.push(e);
  }
  const out = new Map<string, PlanView[]>();
  for (const [sensor, list] of bySensor) {
    const views: PlanView[] = [];
    for (const e of list) {
      const r = e.record;
      // a later plan stamped earlier (the device's clock stepped back) starts where the last one did
      const from = Math.max(r.ts, views.at(-1)?.from ?? -Infinity);
      const prev = views.at(-1);
      if (prev) prev.to = from;
      const problem = planProblem(r);
      views.push({
        epoch: e.epoch ?? 1, seq: e.seq, record: r, from, to: Infinity, problem, identity: problem ? `invalid:${e.epoch ?? 1}:${e.seq}` : identityOf(r),
        mpePercent: ACCURACY_CLASS_MPE_PERCENT[r.accuracyClass] ?? 0,
        overdueFrom: (parsePlanDate(r.calibrationDue) ?? Infinity) + DAY,
      });
    }
    // a plan replaced at the same instant never held
    out.set(sensor, views.filter((v) => v.to > v.from));
  }
  return out;
}

/** The plan in force at ts, or null before the first. */
export function planAt(views: readonly PlanView[], ts: number): PlanView | null {
  let lo = 0;
  let hi = views.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (views[mid]!.from <= ts) lo = mid + 1;
    else hi = mid;
  }
  const v = views[lo - 1];
  return v && ts < v.to ? v : null;
}

/** The plans in force at some time in [from, to). */
export function plansOver(views: readonly PlanView[], from: number, to: number): PlanView[] {
  return views.filter((v) => v.from < to && v.to > from);
}

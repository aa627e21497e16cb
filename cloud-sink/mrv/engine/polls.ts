// A meter's good polls: the instants at which both plan registers (export and import) were read,
// under a usable plan, with neither value missing, flagged or at odds with the plan's register
// description. Everything else is left out; the steps between good polls are what gets credited.
import { toCounts } from '../../../protocol/meter-register.ts';
import { EVENT_BITS, F, lowerBound, type SeriesPoints } from '../index/chunk-codec.ts';
import type { PlanView } from './plan-timeline.ts';

const UNUSABLE = F.NULL | F.BAD | F.META_MISMATCH;

export interface Polls {
  n: number;
  ts: Float64Array;
  /** register values in counts of the plan's register */
  e: Float64Array;
  i: Float64Array;
  /** the device's event bits on each register's reading */
  evE: Uint8Array;
  evI: Uint8Array;
  seqE: Float64Array;
  seqI: Float64Array;
  /** the epochs whose chains hold the two readings (a seq is only a record's number within its epoch) */
  epochE: Uint32Array;
  epochI: Uint32Array;
  /** the plan (index into the views) in force */
  plan: Int32Array;
}

export function goodPolls(views: readonly PlanView[], series: ReadonlyMap<string, SeriesPoints>): Polls {
  let cap = 0;
  for (const v of views) cap = Math.max(cap, series.get(v.record.export?.metric)?.n ?? 0);
  cap = Math.max(16, cap);
  const out: Polls = {
    n: 0, ts: new Float64Array(cap), e: new Float64Array(cap), i: new Float64Array(cap), evE: new Uint8Array(cap), evI: new Uint8Array(cap),
    seqE: new Float64Array(cap), seqI: new Float64Array(cap), epochE: new Uint32Array(cap), epochI: new Uint32Array(cap), plan: new Int32Array(cap),
  };
  for (let vi = 0; vi < views.length; vi++) {
    const v = views[vi]!;
    if (v.problem) continue;
    const E = series.get(v.record.export.metric);
    const I = series.get(v.record.import.metric);
    if (E && I) mergeEpoch(out, v, vi, E, I);
  }
  return out;
}

/**
 * The good polls of one plan's time: the export and import readings at the same instant, both
 * usable. The device flags an event on the reading that ends its step from the last value it
 * read; that is this step only when no reading the sink left out (flagged, not failed) lies
 * between, so a device flag is kept only then.
 */
function mergeEpoch(out: Polls, v: PlanView, vi: number, E: SeriesPoints, I: SeriesPoints): void {
  const specE = v.record.export;
  const specI = v.record.import;
  const eTs = E.ts;
  const iTs = I.ts;
  let a = lowerBound(eTs, E.n, v.from);
  let b = lowerBound(iTs, I.n, v.from);
  let lastReadE = -1;
  let lastReadI = -1;
  let goodE = -1;
  let goodI = -1;
  while (a < E.n && b < I.n) {
    const ta = eTs[a]!;
    const tb = iTs[b]!;
    if (ta >= v.to || tb >= v.to) break;
    if (ta !== tb) {
      if (ta < tb) {
        if (!(E.flags[a]! & F.NULL)) lastReadE = a;
        a++;
      } else {
        if (!(I.flags[b]! & F.NULL)) lastReadI = b;
        b++;
      }
      continue;
    }
    const fe = E.flags[a]!;
    const fi = I.flags[b]!;
    if (((fe | fi) & UNUSABLE) === 0) {
      const k = out.n++;
      if (k === out.ts.length) grow(out);
      out.ts[k] = ta;
      out.e[k] = toCounts(E.value[a]!, specE);
      out.i[k] = toCounts(I.value[b]!, specI);
      out.evE[k] = lastReadE === goodE ? fe & EVENT_BITS : 0;
      out.evI[k] = lastReadI === goodI ? fi & EVENT_BITS : 0;
      out.seqE[k] = E.seq[a]!;
      out.seqI[k] = I.seq[b]!;
      out.epochE[k] = E.epoch[a]!;
      out.epochI[k] = I.epoch[b]!;
      out.plan[k] = vi;
      goodE = a;
      goodI = b;
    }
    if (!(fe & F.NULL)) lastReadE = a;
    if (!(fi & F.NULL)) lastReadI = b;
    a++;
    b++;
  }
}

function grow(p: Polls): void {
  const cap = p.ts.length * 2;
  for (const k of ['ts', 'e', 'i', 'seqE', 'seqI'] as const) {
    const next = new Float64Array(cap);
    next.set(p[k]);
    p[k] = next;
  }
  for (const k of ['evE', 'evI'] as const) {
    const next = new Uint8Array(cap);
    next.set(p[k]);
    p[k] = next;
  }
  for (const k of ['epochE', 'epochI'] as const) {
    const next = new Uint32Array(cap);
    next.set(p[k]);
    p[k] = next;
  }
  const plan = new Int32Array(cap);
  plan.set(p.plan);
  p.plan = plan;
}

// Streams that lose readings, made from a NAB corpus: each stream loses a share of its rows at
// random, alone or in bursts (a lost LoRa uplink is one reading, a node out of range or a meter
// missing its polls for a while is a run of them), and is scored on the rows that remain.
//
// The labels stay what they were: an anomaly happened when it happened whatever the link did, and
// NAB's windows are spans of time. A window is scored over the rows left inside it, as NAB's
// scorer takes a window (every row whose timestamp is within its limits): its limits become its
// first and last remaining rows, and a window with no row left is dropped, since no detector could
// have found it. The probation is NAB's 15% of the rows the file has, the remaining ones
// (sweeper.ts counts them by itself). Windows are those of the stream before it lost anything
// (the published ones, or for short streams those labelled on the whole cut or piece), so the same
// events are scored with and without the losses.
//
// Which rows go depends only on the seed, the stream's name and its length, so a stream loses the
// same rows whichever files or categories are run with it.
import { createHash } from 'node:crypto';
import { prng } from '../../kernel/prng.ts';
import type { NabSeries, NabWindows } from './corpus.ts';

export interface DropPlan {
  /** the share of rows lost, in the long run, from 0 to MAX_DROP_SHARE */
  share: number;
  /**
   * the mean length of a run of lost rows, for losses in bursts; absent, each row is lost
   * independently of the others (runs of mean length 1 / (1 - share))
   */
  burst?: number;
  seed: number;
}

export const DEFAULT_DROP_SEED = 1;

/** The most a stream may lose: beyond it too little is left to score. */
export const MAX_DROP_SHARE = 0.9;

/**
 * Which of `rows` rows are kept (1) or lost (0). Losses follow a two-state chain: from a kept row
 * a loss starts with chance q, a run of losses goes on with chance 1 - 1 / burst (so its length is
 * geometric with mean `burst`), and q = share / (burst (1 - share)) makes `share` the long-run
 * share of rows lost. Independent losses are the chain with burst 1 / (1 - share), where q is the
 * share. The first row's state is drawn from the share.
 */
export function keptRows(rows: number, plan: DropPlan, name: string): Uint8Array {
  checkPlan(plan);
  const kept = new Uint8Array(rows).fill(1);
  if (plan.share === 0) return kept;
  const random = prng(streamSeed(plan.seed, name));
  const burst = plan.burst ?? 1 / (1 - plan.share);
  const start = plan.share / (burst * (1 - plan.share));
  const goOn = 1 - 1 / burst;
  let lost = random() < plan.share;
  for (let i = 0; i < rows; i++) {
    if (i > 0) lost = random() < (lost ? goOn : start);
    if (lost) kept[i] = 0;
  }
  return kept;
}

/** Each stream with the rows its plan loses taken out, and its windows over the rows left. */
export function dropReadings(series: readonly NabSeries[], windows: NabWindows, plan: DropPlan): { series: NabSeries[]; windows: NabWindows } {
  checkPlan(plan);
  if (plan.share === 0) return { series: series.slice(), windows };
  const outWindows: NabWindows = {};
  const out = series.map((s) => {
    const w = windows[s.name];
    if (!w) throw new Error(`${s.name}: not in the labels`);
    const kept = keptRows(s.timestamps.length, plan, s.name);
    const left: NabSeries = { name: s.name, timestamps: s.timestamps.filter((_, i) => kept[i] === 1), values: s.values.filter((_, i) => kept[i] === 1) };
    outWindows[s.name] = windowsOverRows(left.timestamps, w);
    return left;
  });
  return { series: out, windows: outWindows };
}

/** `windows` as the first and last of `timestamps` (ascending) within each; windows holding none go. */
export function windowsOverRows(timestamps: readonly number[], windows: readonly (readonly [number, number])[]): [number, number][] {
  const out: [number, number][] = [];
  for (const [start, end] of windows) {
    const first = firstAtOrAfter(timestamps, start);
    if (first >= timestamps.length || timestamps[first]! > end) continue;
    const last = firstAtOrAfter(timestamps, end + 1) - 1;
    out.push([timestamps[first]!, timestamps[last]!]);
  }
  return out;
}

function firstAtOrAfter(timestamps: readonly number[], t: number): number {
  let lo = 0;
  let hi = timestamps.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (timestamps[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The shortest mean run of losses that can lose `share` of the rows: a loss cannot start more often than at every kept row. */
export function leastBurst(share: number): number {
  return Math.max(1, share / (1 - share));
}

function checkPlan(plan: DropPlan): void {
  if (!(plan.share >= 0 && plan.share <= MAX_DROP_SHARE)) throw new Error(`drop share must be from 0 to ${MAX_DROP_SHARE}, got ${plan.share}`);
  if (plan.burst !== undefined) {
    const least = leastBurst(plan.share);
    if (!(plan.burst >= least && Number.isFinite(plan.burst))) throw new Error(`burst length must be at least ${least} at share ${plan.share}, got ${plan.burst}`);
  }
  if (!Number.isInteger(plan.seed)) throw new Error(`seed must be an integer, got ${plan.seed}`);
}

/** a 32-bit seed for one stream, from the run's seed and the stream's name */
function streamSeed(seed: number, name: string): number {
  return createHash('sha256').update(`${seed}\0${name}`).digest().readUInt32LE(0);
}

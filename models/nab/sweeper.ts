// The NAB scoring rules, reimplemented from the benchmark's published description:
// - each labelled window is worth tpWeight if its first detection is at the window's left edge,
//   less the later it comes (a scaled sigmoid of the position in the window), and -fnWeight if
//   nothing in it is detected;
// - each detection outside a window costs fpWeight, scaled by the same sigmoid of its distance past
//   the previous window's right edge (a detection just after a window costs little);
// - the first 15% of a file (at most 750 rows) is a probation period that is not scored;
// - a threshold turns anomaly scores into detections (score >= threshold), and the threshold is
//   chosen by sweeping every distinct score over the whole corpus.
// Each file's points are kept in flat typed arrays so that sweeping a corpus of a few hundred
// thousand rows stays quick.

export interface CostMatrix {
  tpWeight: number;
  fpWeight: number;
  fnWeight: number;
  tnWeight?: number;
}

/** The NAB weight of a detection at a relative position: -1 = window start, 0 = window end, > 0 = after it. */
export function scaledSigmoid(position: number): number {
  if (position >= 3) return -1;
  return 2 / (1 + Math.exp(5 * position)) - 1;
}

export function probationaryLength(rows: number, probationPercent = 0.15): number {
  return Math.min(Math.floor(probationPercent * rows), probationPercent * 5000);
}

/** One file's scorable points (after probation), with what a detection at each would be worth. */
export interface SweptFile {
  name: string;
  /** detector output per scorable point */
  scores: Float64Array;
  /** weighted score of a detection at that point (positive in a window, negative outside) */
  worth: Float64Array;
  /** index of the window the point is in, or -1 */
  window: Int32Array;
  /** windows with at least one scorable point: the ones that count as misses when undetected */
  windows: number;
  /** rows in the file, probation included */
  rows: number;
}

/**
 * Weigh every point of one file. `windows` are [start, end] timestamps that coincide with rows of
 * the file, as NAB's labels do; a window whose start is not a row is never entered, as in NAB.
 */
export function sweepFile(name: string, timestamps: readonly number[], scores: ArrayLike<number>, windows: readonly (readonly [number, number])[], cost: CostMatrix, probationPercent = 0.15): SweptFile {
  const n = timestamps.length;
  if (scores.length !== n) throw new Error(`${name}: ${scores.length} scores for ${n} rows`);
  const probation = probationaryLength(n, probationPercent);
  const first = Math.max(0, Math.ceil(probation));
  const count = Math.max(0, n - first);
  const out: SweptFile = { name, scores: new Float64Array(count), worth: new Float64Array(count), window: new Int32Array(count).fill(-1), windows: 0, rows: n };
  const indexOf = new Map<number, number>();
  for (let i = n - 1; i >= 0; i--) indexOf.set(timestamps[i]!, i); // first occurrence wins
  const maxTp = scaledSigmoid(-1);
  const pending = windows.slice();
  let inWindow: readonly [number, number] | null = null;
  let windowId = -1;
  let right = -1;
  let width = 0;
  let prevRight = -1;
  let prevWidth = 0;
  const seenWindows = new Set<number>();
  let nextId = 0;
  for (let i = 0; i < n; i++) {
    const t = timestamps[i]!;
    if (pending.length > 0 && t === pending[0]![0]) {
      inWindow = pending.shift()!;
      windowId = nextId++;
      right = indexOf.get(inWindow[1]) ?? -1;
      if (right < 0) throw new Error(`${name}: window end ${new Date(inWindow[1]).toISOString()} is not a row of the file`);
      width = right - i + 1;
    }
    let worth: number;
    if (inWindow) {
      worth = (scaledSigmoid(-(right - i + 1) / width) * cost.tpWeight) / maxTp;
    } else {
      const position = prevRight < 0 ? 3 : Math.abs(prevRight - i) / (prevWidth - 1);
      worth = scaledSigmoid(position) * cost.fpWeight;
    }
    if (i >= probation) {
      const k = i - first;
      out.scores[k] = scores[i]!;
      out.worth[k] = worth;
      if (inWindow) {
        out.window[k] = windowId;
        seenWindows.add(windowId);
      }
    }
    if (inWindow && t === inWindow[1]) {
      prevRight = i;
      prevWidth = width;
      inWindow = null;
    }
  }
  out.windows = seenWindows.size;
  return out;
}

export interface FileScore {
  score: number;
  tp: number;
  tn: number;
  fp: number;
  fn: number;
  /** rows in the file, probation included (NAB's Total_Count) */
  total: number;
}

/** A file's score with detections where score >= threshold. */
export function scoreAtThreshold(f: SweptFile, threshold: number, cost: CostMatrix): FileScore {
  const best = new Float64Array(f.windows).fill(-cost.fnWeight);
  const ids = new Map<number, number>();
  let fpSum = 0;
  let tp = 0;
  let tn = 0;
  let fp = 0;
  let fn = 0;
  for (let k = 0; k < f.scores.length; k++) {
    const w = f.window[k]!;
    const hit = f.scores[k]! >= threshold;
    if (w < 0) {
      if (hit) {
        fp++;
        fpSum += f.worth[k]!;
      } else tn++;
    } else {
      let slot = ids.get(w);
      if (slot === undefined) ids.set(w, (slot = ids.size));
      if (hit) {
        tp++;
        if (f.worth[k]! > best[slot]!) best[slot] = f.worth[k]!;
      } else fn++;
    }
  }
  let score = fpSum;
  for (const b of best) score += b;
  return { score, tp, tn, fp, fn, total: f.rows };
}

export interface ThresholdScore {
  threshold: number;
  score: number;
}

/**
 * The corpus score at every distinct threshold, from the highest (nothing detected) down. Windows
 * of different files are kept apart. Returns the best (highest score; among equal scores the
 * highest threshold, as NAB's stable sort picks) and the whole curve.
 */
export function sweepThresholds(files: readonly SweptFile[], cost: CostMatrix): { best: ThresholdScore; curve: ThresholdScore[] } {
  let total = 0;
  let windowCount = 0;
  for (const f of files) total += f.scores.length;
  const scores = new Float64Array(total);
  const worth = new Float64Array(total);
  const window = new Int32Array(total);
  let o = 0;
  for (const f of files) {
    scores.set(f.scores, o);
    worth.set(f.worth, o);
    // renumber windows corpus-wide, densely
    const local = new Map<number, number>();
    for (let k = 0; k < f.scores.length; k++) {
      const w = f.window[k]!;
      if (w < 0) window[o + k] = -1;
      else {
        let g = local.get(w);
        if (g === undefined) local.set(w, (g = windowCount + local.size));
        window[o + k] = g;
      }
    }
    windowCount += local.size;
    o += f.scores.length;
  }
  const order = new Uint32Array(total);
  for (let i = 0; i < total; i++) order[i] = i;
  order.sort((a, b) => scores[b]! - scores[a]!);
  const best = new Float64Array(windowCount).fill(-cost.fnWeight);
  let sum = -cost.fnWeight * windowCount;
  let threshold = 1.1;
  const curve: ThresholdScore[] = [];
  for (let j = 0; j < total; j++) {
    const i = order[j]!;
    if (scores[i] !== threshold) {
      curve.push({ threshold, score: sum });
      threshold = scores[i]!;
    }
    const w = window[i]!;
    if (w < 0) sum += worth[i]!;
    else if (worth[i]! > best[w]!) {
      sum += worth[i]! - best[w]!;
      best[w] = worth[i]!;
    }
  }
  curve.push({ threshold, score: sum });
  let top = curve[0]!;
  for (const c of curve) if (c.score > top.score) top = c;
  return { best: top, curve };
}

/**
 * NAB's normalisation: 0 = the null detector, which detects nothing and so scores -fnWeight for
 * every window it could have found (`scorableWindows`), 100 = every labelled window detected at its
 * left edge (`labelledWindows` x tpWeight).
 */
export function normalizedScore(raw: number, scorableWindows: number, labelledWindows: number, cost: CostMatrix): number {
  const nullScore = -cost.fnWeight * scorableWindows;
  const perfect = cost.tpWeight * labelledWindows;
  return (100 * (raw - nullScore)) / (perfect - nullScore);
}

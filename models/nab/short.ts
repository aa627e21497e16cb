// Short streams from a NAB corpus: each file cut to its first `maxSteps` rows and labelled as NAB's
// labeller labels a file of that length. Many real streams are a few thousand points long (one to
// two weeks at 5 minutes), and a detector whose windows are a week or two of steps may never fill
// them there; the corpus's files run to 22,000 points. Cutting them gives a measure of how the
// detector does before it has seen a week, on the same labelled anomalies.
//
// The windows are rebuilt from the anomaly points (`combined_labels.json`) that fall in the kept
// rows, as NAB's labeller builds them for a whole file: each window is 10% of the file's length
// divided by its number of anomalies, centred on the anomaly, clipped to the file, overlapping
// windows merged. The original windows would not do: they are sized by the whole file's length,
// so a cut file would carry windows wider than a file of its length ever has. NAB's probation (15%
// of a file's rows) follows the cut length by itself (sweeper.ts).
import { readFileSync } from 'node:fs';
import { UserError } from '../../kernel/user-error.ts';
import { parseNabTimestamp, type NabSeries, type NabWindows } from './corpus.ts';

/** NAB's window size: a tenth of the file, shared among its anomalies */
const WINDOW_SHARE = 0.1;

/** `combined_labels.json`: `{"<category>/<file>.csv": ["timestamp", ...]}`, as epoch ms. */
export function readNabAnomalies(file: string): Record<string, number[]> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UserError(`cannot read anomaly labels ${file}: ${e.code ?? e.message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UserError(`anomaly labels ${file}: expected an object of file name to timestamps`);
  const out: Record<string, number[]> = {};
  for (const [name, points] of Object.entries(raw)) {
    if (!Array.isArray(points)) throw new UserError(`anomaly labels ${file}: ${name}: expected a list of timestamps`);
    out[name] = points.map((p, i) => {
      const t = parseNabTimestamp(String(p));
      if (!Number.isFinite(t)) throw new UserError(`anomaly labels ${file}: ${name}: point ${i} is not a timestamp`);
      return t;
    });
  }
  return out;
}

/** The windows NAB's labeller gives `anomalies` in a file with these rows. */
export function labelWindows(timestamps: readonly number[], anomalies: readonly number[]): [number, number][] {
  const n = timestamps.length;
  if (n === 0) return [];
  const at = new Map<number, number>();
  timestamps.forEach((t, i) => {
    if (!at.has(t)) at.set(t, i);
  });
  const rows = anomalies.flatMap((a) => (at.has(a) ? [at.get(a)!] : [])).sort((a, b) => a - b);
  if (rows.length === 0) return [];
  const length = Math.floor((WINDOW_SHARE * n) / rows.length);
  const merged: [number, number][] = [];
  for (const r of rows) {
    const left = Math.max(0, r - Math.floor(length / 2));
    const right = Math.min(n - 1, r + Math.floor(length / 2));
    const prev = merged.at(-1);
    if (prev && left <= prev[1]) prev[1] = Math.max(prev[1], right);
    else merged.push([left, right]);
  }
  return merged.map(([l, r]) => [timestamps[l]!, timestamps[r]!]);
}

/**
 * Each series split into consecutive pieces of about `steps` rows (as many pieces as the series
 * holds whole `steps`, at least one, shared out evenly), each a stream of its own named
 * `<category>/<file>.csv#<k>`, with the windows NAB would give a file of its length: many more
 * short streams, and windows, than the first rows of each file give, each detector run starting
 * fresh on its piece.
 */
export function splitStreams(series: readonly NabSeries[], anomalies: Record<string, readonly number[]>, steps: number): { series: NabSeries[]; windows: NabWindows } {
  if (!(Number.isInteger(steps) && steps > 0)) throw new Error(`steps must be a positive integer, got ${steps}`);
  const windows: NabWindows = {};
  const out: NabSeries[] = [];
  for (const s of series) {
    const points = anomalies[s.name];
    if (!points) throw new UserError(`${s.name}: not in the anomaly labels`);
    const n = s.timestamps.length;
    const pieces = Math.max(1, Math.floor(n / steps));
    for (let k = 0; k < pieces; k++) {
      const from = Math.round((k * n) / pieces);
      const to = Math.round(((k + 1) * n) / pieces);
      const piece: NabSeries = { name: `${s.name}#${k + 1}`, timestamps: s.timestamps.slice(from, to), values: s.values.slice(from, to) };
      windows[piece.name] = labelWindows(piece.timestamps, points);
      out.push(piece);
    }
  }
  return { series: out, windows };
}

/** Each series cut to its first `maxSteps` rows, with the windows NAB would give the cut file. */
export function shortStreams(series: readonly NabSeries[], anomalies: Record<string, readonly number[]>, maxSteps: number): { series: NabSeries[]; windows: NabWindows } {
  if (!(Number.isInteger(maxSteps) && maxSteps > 0)) throw new Error(`maxSteps must be a positive integer, got ${maxSteps}`);
  const windows: NabWindows = {};
  const out = series.map((s) => {
    const points = anomalies[s.name];
    if (!points) throw new UserError(`${s.name}: not in the anomaly labels`);
    const cut: NabSeries = { name: s.name, timestamps: s.timestamps.slice(0, maxSteps), values: s.values.slice(0, maxSteps) };
    windows[s.name] = labelWindows(cut.timestamps, points);
    return cut;
  });
  return { series: out, windows };
}

// `fieldproof eval nab`: run the detector over every file of a NAB-layout corpus as the device
// scores a stream (runs.ts), then score it with the NAB rules; under --cv, with every setting of the
// grid (grid.ts) cross-validated over the categories (crossval.ts).
import { defaultDetectorParams, type DetectorParams, type JudgeParams } from '../detector/detector.ts';
import { SurpriseJudge } from '../detector/judge.ts';
import { defaultTrainOptions } from '../model/train.ts';
import type { ModelPolicy } from '../stream-scorer.ts';
import { UserError } from '../../kernel/user-error.ts';
import { listNabFiles, readNabSeries, type NabSeries, type NabWindows } from './corpus.ts';
import { runApart } from './apart-runs.ts';
import { shortStreams, splitStreams } from './short.ts';
import { dropReadings, type DropPlan } from './drops.ts';
import { atFireLevels, bestOnTraining, categoryOf, crossValidate, crossValidateEach, type Candidate, type CrossValidation, type HeldOutPart, type ScoredSeries } from './crossval.ts';
import type { SeriesSurprises } from './first-stage.ts';
import { scoreStreams, type Progress } from './runs.ts';
import { cvGrid, retrains, settingsOf, type CvGrid, type GridName } from './grid.ts';
import { normalizedScore, scoreAtThreshold, sweepFile, sweepThresholds, type CostMatrix, type FileScore, type SweptFile } from './sweeper.ts';

export type { SeriesSurprises } from './first-stage.ts';

/** The cost matrices of NAB's three application profiles. */
export const NAB_PROFILES: Record<string, CostMatrix> = {
  standard: { tpWeight: 1, fpWeight: 0.11, fnWeight: 1, tnWeight: 1 },
  reward_low_FP_rate: { tpWeight: 1, fpWeight: 0.22, fnWeight: 1, tnWeight: 1 },
  reward_low_FN_rate: { tpWeight: 1, fpWeight: 0.11, fnWeight: 2, tnWeight: 1 },
};

export interface EvalOptions {
  profile: string;
  cost: CostMatrix;
  /** fixed threshold; swept over the corpus when absent */
  threshold?: number;
  model: boolean;
  params?: DetectorParams;
  policy?: ModelPolicy;
  /** cross-validate over the categories: choices made on the others, each category scored with them */
  cv?: 'category';
  /** the settings cross-validation chooses among (grid.ts): every data-picked one ('full', the default) or the tail share alone */
  grid?: GridName;
  /** only the files of these categories (for quick runs; the scores are then of that subset) */
  categories?: readonly string[];
  /**
   * short streams: each file cut to its first maxSteps rows, labelled from `anomalies` (the anomaly
   * points of combined_labels.json) as NAB labels a file of that length (short.ts)
   */
  maxSteps?: number;
  /** short streams: each file split into pieces of about this many rows, each labelled as maxSteps does */
  splitSteps?: number;
  anomalies?: Record<string, readonly number[]>;
  /** streams that lose readings: each stream (whole, cut or piece) loses rows as planned (drops.ts) */
  drop?: DropPlan;
  progress?: Progress;
}

export interface EvalResult {
  profile: string;
  threshold: number;
  swept: boolean;
  score: number;
  raw: number;
  model: boolean;
  /** with maxSteps: the length each file was cut to */
  max_steps?: number;
  /** with splitSteps: the length each file was split into pieces of */
  split_steps?: number;
  /** with drop: the plan each stream lost rows by, and the rows and labelled windows it took away */
  drop?: DropPlan & { rows_lost: number; windows_lost: number };
  windows: number;
  readings: number;
  seconds: number;
  files: Record<string, number>;
  counts: Record<string, Omit<FileScore, 'score'>>;
  /** per category at the corpus-wide threshold: raw, and normalised when it has windows */
  categories: Record<string, { raw: number; score: number | null }>;
  /** with `cv`: the normalised score over the held-out categories, and each held-out part */
  cv_score?: number;
  cv_raw?: number;
  /** with `cv`: the held-out parts each at its own best threshold (an oracle), and the gap to cv_score */
  cv_own_threshold_score?: number;
  cv_threshold_gap?: number;
  cv?: (HeldOutPart & { settings: Record<string, number> })[];
  /** with `cv`: the grid chosen from (grid.ts), and the values it gives each setting it moves, the default first */
  cv_grid?: GridName;
  cv_settings?: Record<string, number[]>;
  /** with `cv`: each candidate setting's in-sample score (threshold swept on all files) */
  cv_candidates?: Record<string, number>;
  /** with `cv`: each fold's threshold is the chosen setting's fire level, the device's one alert threshold */
  cv_threshold?: 'fire_level';
  /** with `cv`: the same grid with the threshold swept freely per fold, a second choice the device never makes */
  cv_free_threshold?: { cv_score: number; cv_raw: number; cv: Pick<HeldOutPart, 'category' | 'candidate' | 'threshold' | 'raw' | 'score'>[] };
  /** the detector's defaults scored at their fire level (the device's alert threshold), beside `score` at the swept threshold */
  score_at_fire_level?: number;
}

/** Scores from kept first-stage figures, judged with `params`: what the detector with them would have said. */
export function judge(s: SeriesSurprises, params: JudgeParams): Float64Array {
  const j = new SurpriseJudge(params);
  const out = new Float64Array(s.stepped.length);
  for (let i = 0; i < out.length; i++) if (s.stepped[i]) out[i] = j.update({ value: s.value[i]!, novelty: s.novelty[i]!, forecast: s.forecast[i]! }).score;
  return out;
}

/** A grid point's scores on every series, and the value it gives every setting the grid moves. */
export type GridCandidate = Candidate & { settings: Record<string, number> };

/**
 * Every point of the grid as a candidate: its first stage's kept figures (`kept[k][i]`: stage k
 * of the grid, series i) judged with its judging settings. The default point keeps the scores the
 * detector gave while it ran.
 */
export function gridCandidates(grid: CvGrid, series: readonly ScoredSeries[], kept: readonly (readonly SeriesSurprises[])[], base: DetectorParams, progress?: Progress): GridCandidate[] {
  return grid.points.map((p, k) => {
    const unmoved = Object.keys(p.moved).length === 0;
    const params = { ...base, ...grid.stages[p.stage]!.surprise, ...p.judge };
    const scored = unmoved ? series : series.map((s, i) => ({ ...s, scores: judge(kept[p.stage]![i]!, params) }));
    progress?.(k + 1, grid.points.length, `grid: ${p.label}`);
    return { label: p.label, series: scored, settings: settingsOf(grid, p) };
  });
}

/** Score already computed anomaly scores (a detector's NAB results, or ours) against the labels. */
export function scoreCorpus(series: readonly ScoredSeries[], windows: NabWindows, profile: string, cost: CostMatrix, threshold?: number) {
  const swept: SweptFile[] = [];
  let labelled = 0;
  for (const s of series) {
    const w = windows[s.name];
    if (!w) throw new UserError(`${s.name}: not in the labels file`);
    labelled += w.length;
    swept.push(sweepFile(s.name, s.timestamps, s.scores, w, cost));
  }
  const chosen = threshold ?? sweepThresholds(swept, cost).best.threshold;
  const files: Record<string, number> = {};
  const counts: Record<string, Omit<FileScore, 'score'>> = {};
  const perCategory = new Map<string, { raw: number; scorable: number; labelled: number }>();
  let raw = 0;
  let scorable = 0;
  for (const f of swept) {
    const r = scoreAtThreshold(f, chosen, cost);
    files[f.name] = r.score;
    counts[f.name] = { tp: r.tp, tn: r.tn, fp: r.fp, fn: r.fn, total: r.total };
    raw += r.score;
    scorable += f.windows;
    const c = perCategory.get(categoryOf(f.name)) ?? { raw: 0, scorable: 0, labelled: 0 };
    c.raw += r.score;
    c.scorable += f.windows;
    c.labelled += windows[f.name]!.length;
    perCategory.set(categoryOf(f.name), c);
  }
  const categories: Record<string, { raw: number; score: number | null }> = {};
  for (const [name, c] of [...perCategory].sort(([a], [b]) => (a < b ? -1 : 1))) categories[name] = { raw: c.raw, score: c.labelled > 0 ? normalizedScore(c.raw, c.scorable, c.labelled, cost) : null };
  return { profile, threshold: chosen, swept: threshold === undefined, raw, score: normalizedScore(raw, scorable, labelled, cost), windows: labelled, files, counts, categories };
}

/**
 * The cross-validation's figures as `eval nab --cv category --json` reports them, the threshold
 * swept per fold as NAB sweeps it: for a published detector's outputs, which have no fire level.
 */
export function crossValidated(candidates: readonly Candidate[], windows: NabWindows, cost: CostMatrix) {
  return cvFigures(crossValidate(candidates, windows, cost));
}

function cvFigures(cv: CrossValidation) {
  return { cv_score: cv.cvScore, cv_raw: cv.cvRaw, cv_own_threshold_score: cv.ownScore, cv_threshold_gap: cv.ownScore - cv.cvScore, cv: cv.parts };
}

/**
 * The detector's grid cross-validated: each setting scored at its own fire level, the one alert
 * threshold the device has (`cv_score`, `cv`); beside it, the same grid with the threshold swept
 * freely per fold as for a published detector, a second choice the device never makes
 * (`cv_free_threshold`).
 */
export function gridCrossValidated(candidates: readonly GridCandidate[], windows: NabWindows, cost: CostMatrix, fireLevel: number) {
  const [tied, free] = crossValidateEach(candidates, windows, cost, [atFireLevels(candidates.map((c) => c.settings.fireLevel ?? fireLevel)), bestOnTraining]);
  return {
    cv_threshold: 'fire_level' as const,
    ...cvFigures(tied!),
    cv_free_threshold: {
      cv_score: free!.cvScore, cv_raw: free!.cvRaw,
      cv: free!.parts.map((p) => ({ category: p.category, candidate: p.candidate, threshold: p.threshold, raw: p.raw, score: p.score })),
    },
  };
}

export async function evaluateNab(dataDir: string, labelled: NabWindows, opts: EvalOptions): Promise<EvalResult> {
  const started = Date.now();
  const list = listNabFiles(dataDir).filter((f) => {
    if (opts.categories && !opts.categories.includes(categoryOf(f.name))) return false;
    if (labelled[f.name]) return true;
    opts.progress?.(0, 0, `${f.name}: not in the labels file, skipped`);
    return false;
  });
  if (list.length === 0) throw new UserError(`no file under ${dataDir} is named in the labels file${opts.categories ? ` in categories ${opts.categories.join(', ')}` : ''}`);
  let data: NabSeries[] = list.map((f) => readNabSeries(f.path, f.name));
  let windows = labelled;
  if (opts.maxSteps !== undefined) {
    if (!opts.anomalies) throw new Error('short streams need the anomaly points to label the cut files');
    ({ series: data, windows } = shortStreams(data, opts.anomalies, opts.maxSteps));
  }
  if (opts.splitSteps !== undefined) {
    if (!opts.anomalies) throw new Error('short streams need the anomaly points to label the pieces');
    ({ series: data, windows } = splitStreams(data, opts.anomalies, opts.splitSteps));
  }
  // after the cut or split: the windows were labelled on the stream as it was, before its losses
  let lost: { rows_lost: number; windows_lost: number } | undefined;
  if (opts.drop) {
    const before = { rows: rowsOf(data), windows: windowsOf(data, windows) };
    ({ series: data, windows } = dropReadings(data, windows, opts.drop));
    lost = { rows_lost: before.rows - rowsOf(data), windows_lost: before.windows - windowsOf(data, windows) };
  }
  const base = opts.params ?? defaultDetectorParams;
  const grid = opts.cv ? cvGrid(opts.grid ?? 'full', base, opts.model ? defaultTrainOptions : null) : null;
  const { series, kept, readings } = await scoreGridStages(data, grid, opts);
  const r = scoreCorpus(series, windows, opts.profile, opts.cost, opts.threshold);
  const atFire = scoreCorpus(series, windows, opts.profile, opts.cost, base.fireLevel).score;
  const out: EvalResult = { ...r, model: opts.model, ...(opts.maxSteps !== undefined ? { max_steps: opts.maxSteps } : {}), ...(opts.splitSteps !== undefined ? { split_steps: opts.splitSteps } : {}), ...(opts.drop && lost ? { drop: { ...opts.drop, ...lost } } : {}), readings, seconds: 0, score_at_fire_level: atFire };
  if (grid) {
    const candidates = gridCandidates(grid, series, kept, base, opts.progress);
    opts.progress?.(0, 0, `cross-validating: ${candidates.length} candidates, ${new Set(series.map((s) => categoryOf(s.name))).size} folds`);
    const cv = gridCrossValidated(candidates, windows, opts.cost, base.fireLevel);
    const settings = new Map(candidates.map((c) => [c.label, c.settings]));
    Object.assign(out, cv, { cv: cv.cv.map((part) => ({ ...part, settings: settings.get(part.candidate)! })), cv_grid: grid.name, cv_settings: grid.settings });
    // what each setting scores in-sample, for comparison with what the folds chose
    out.cv_candidates = Object.fromEntries(candidates.map((c) => [c.label, scoreCorpus(c.series, windows, opts.profile, opts.cost).score]));
  }
  out.seconds = (Date.now() - started) / 1000;
  return out;
}

/**
 * Every stream scored as the device would, and the kept figures of every stage of the grid
 * (`kept[k][i]`: stage k's on stream i, k = 0 the detector's own): the surprise settings run beside
 * the detector (first-stage.ts), each forecaster setting in a run of its own, since its trainings
 * differ (apart-runs.ts, in worker threads while the main run goes on).
 */
async function scoreGridStages(data: readonly NabSeries[], grid: CvGrid | null, opts: EvalOptions): Promise<{ series: ScoredSeries[]; kept: SeriesSurprises[][]; readings: number }> {
  const stages = grid?.stages ?? [{ surprise: {}, training: {} }];
  const beside = [...stages.keys()].filter((k) => k > 0 && !retrains(stages[k]!));
  const apart = [...stages.keys()].filter((k) => retrains(stages[k]!));
  const { model, params, policy } = opts;
  const runs = apart.map((k) => ({
    label: `forecaster ${Object.entries(stages[k]!.training).map(([key, v]) => `${key}=${v}`).join(' ')}`,
    run: { model, ...(params ? { params } : {}), ...(policy ? { policy } : {}), training: stages[k]!.training },
  }));
  // the workers start first: the main run holds this thread until its first training
  const [others, main] = await Promise.all([runApart(data, runs, opts.progress), scoreStreams(data, { ...opts, firstStages: beside.map((k) => stages[k]!.surprise) })]);
  const kept: SeriesSurprises[][] = [main.kept[0]!];
  beside.forEach((k, j) => (kept[k] = main.kept[j + 1]!));
  apart.forEach((k, j) => (kept[k] = others[j]!));
  return { series: main.series, kept, readings: main.readings };
}

function rowsOf(series: readonly NabSeries[]): number {
  return series.reduce((n, s) => n + s.timestamps.length, 0);
}

function windowsOf(series: readonly NabSeries[], windows: NabWindows): number {
  return series.reduce((n, s) => n + (windows[s.name]?.length ?? 0), 0);
}

// Cross-validation over NAB's categories: for each category in turn, everything the evaluation
// chooses from labelled data (which of the candidate detector settings, and the threshold: swept
// freely, or the setting's own fire level as the device alerts) is chosen on the other categories
// alone, and the held-out category is scored with those choices.
// The held-out parts' raw scores are added and normalised as for the whole corpus, so `cvScore`
// is on the same scale as the in-sample score: the gap between the two is what the choices owe to
// having seen the data they are scored on.
//
// The bookkeeping is deliberately narrow: the chooser is a function handed only the training
// files' weighted points (SweptFile), so nothing of a held-out file (its scores, its labels, even
// its name) can reach a choice made for it. The tests instrument the chooser to check exactly that.
import { normalizedScore, scoreAtThreshold, sweepFile, sweepThresholds, type CostMatrix, type SweptFile } from './sweeper.ts';
import type { NabWindows } from './corpus.ts';

/** One file's anomaly scores, as a detector produced them. */
export interface ScoredSeries {
  name: string;
  timestamps: readonly number[];
  scores: ArrayLike<number>;
}

/** A setting of the detector and its scores on every file of the corpus. */
export interface Candidate {
  label: string;
  series: readonly ScoredSeries[];
}

export interface Choice {
  /** index into the candidates */
  candidate: number;
  threshold: number;
  /** the raw score the choice earned on the files it was chosen on */
  raw: number;
}

/**
 * Picks a candidate and threshold from training files only: `train[c]` holds candidate c's
 * weighted points on the training files (the same files, in the same order, for every candidate).
 */
export type Chooser = (train: readonly (readonly SweptFile[])[], cost: CostMatrix) => Choice;

/**
 * The candidate and threshold with the highest raw score on the training files; on a tie the
 * earlier candidate (the list starts with the detector's defaults) and the higher threshold win.
 */
export const bestOnTraining: Chooser = (train, cost) => {
  let best: Choice | null = null;
  train.forEach((files, candidate) => {
    const { best: top } = sweepThresholds(files, cost);
    if (!best || top.score > best.raw) best = { candidate, threshold: top.threshold, raw: top.score };
  });
  if (!best) throw new Error('no candidates to choose from');
  return best;
};

/**
 * Each candidate at its own fire level, the score at which the detector raises an alert and then
 * stays quiet for a while: the device has one alert threshold, and a detection silences what
 * follows only when it is an alert (deviceDetectorParamsAt), so the threshold of a setting is its
 * fire level, not a second number chosen beside it. The candidate with the highest raw score on
 * the training files at its level wins; on a tie, the earlier (the detector's defaults first).
 * `levels[c]` is candidate c's fire level: a setting of the candidate, not taken from any data.
 */
export function atFireLevels(levels: readonly number[]): Chooser {
  return (train, cost) => {
    let best: Choice | null = null;
    train.forEach((files, candidate) => {
      const threshold = levels[candidate];
      if (threshold === undefined) throw new Error(`no fire level for candidate ${candidate}`);
      let raw = 0;
      for (const f of files) raw += scoreAtThreshold(f, threshold, cost).score;
      if (!best || raw > best.raw) best = { candidate, threshold, raw };
    });
    if (!best) throw new Error('no candidates to choose from');
    return best;
  };
}

/** `<category>/<file>.csv` -> `<category>` */
export function categoryOf(name: string): string {
  const slash = name.indexOf('/');
  return slash < 0 ? '' : name.slice(0, slash);
}

export interface HeldOutPart {
  category: string;
  files: number;
  windows: number;
  /** the choice made on the other categories */
  candidate: string;
  threshold: number;
  /** the held-out category's raw score with that choice */
  raw: number;
  /** normalised within the category; null when it has no windows (no perfect score to scale by) */
  score: number | null;
  fp: number;
  /** labelled windows with no detection in them */
  missed: number;
  /**
   * what the category would score at its own best threshold, with the same setting: an oracle no
   * deployment has, reported (never chosen from) to show what a new category loses by taking the
   * threshold chosen elsewhere
   */
  own_threshold: number;
  own_raw: number;
  own_score: number | null;
}

export interface CrossValidation {
  /** normalised score over all held-out parts, each scored with the choices made without it */
  cvScore: number;
  cvRaw: number;
  /** the same held-out parts, each at its own best threshold (the oracle of HeldOutPart.own_*) */
  ownScore: number;
  parts: HeldOutPart[];
}

export function crossValidate(candidates: readonly Candidate[], windows: NabWindows, cost: CostMatrix, opts: { groupOf?: (name: string) => string; chooser?: Chooser } = {}): CrossValidation {
  return crossValidateEach(candidates, windows, cost, [opts.chooser ?? bestOnTraining], opts)[0]!;
}

/** The same candidates cross-validated with each of `choosers`: every file is weighed once for all of them. */
export function crossValidateEach(candidates: readonly Candidate[], windows: NabWindows, cost: CostMatrix, choosers: readonly Chooser[], opts: { groupOf?: (name: string) => string } = {}): CrossValidation[] {
  const groupOf = opts.groupOf ?? categoryOf;
  if (candidates.length === 0) throw new Error('no candidates to cross-validate');
  const names = candidates[0]!.series.map((s) => s.name);
  for (const c of candidates) {
    if (c.series.length !== names.length || c.series.some((s, i) => s.name !== names[i])) throw new Error(`candidate ${c.label} was not run on the same files`);
  }
  // every file weighed once per candidate; folds only pick which of these a chooser is given
  const swept = candidates.map((c) =>
    c.series.map((s) => {
      const w = windows[s.name];
      if (!w) throw new Error(`${s.name}: not in the labels file`);
      return sweepFile(s.name, s.timestamps, s.scores, w, cost);
    }),
  );
  const groups = [...new Set(names.map(groupOf))].sort();
  if (groups.length < 2) throw new Error('cross-validation needs at least two categories');
  return choosers.map((chooser) => {
    const parts: HeldOutPart[] = [];
    let cvRaw = 0;
    let ownRaw = 0;
    let scorable = 0;
    let labelled = 0;
    for (const g of groups) {
      const held = names.flatMap((n, i) => (groupOf(n) === g ? [i] : []));
      const kept = names.flatMap((n, i) => (groupOf(n) === g ? [] : [i]));
      const choice = chooser(
        swept.map((files) => kept.map((i) => files[i]!)),
        cost,
      );
      const chosen = swept[choice.candidate];
      if (!chosen) throw new Error(`the chooser picked candidate ${choice.candidate} of ${candidates.length}`);
      let raw = 0;
      let fp = 0;
      let missed = 0;
      let partScorable = 0;
      let partLabelled = 0;
      for (const i of held) {
        const f = chosen[i]!;
        const r = scoreAtThreshold(f, choice.threshold, cost);
        raw += r.score;
        fp += r.fp;
        missed += missedWindows(f, choice.threshold);
        partScorable += f.windows;
        partLabelled += windows[names[i]!]!.length;
      }
      const own = sweepThresholds(held.map((i) => chosen[i]!), cost).best;
      cvRaw += raw;
      ownRaw += own.score;
      scorable += partScorable;
      labelled += partLabelled;
      parts.push({
        category: g,
        files: held.length,
        windows: partLabelled,
        candidate: candidates[choice.candidate]!.label,
        threshold: choice.threshold,
        raw,
        score: partLabelled > 0 ? normalizedScore(raw, partScorable, partLabelled, cost) : null,
        fp,
        missed,
        own_threshold: own.threshold,
        own_raw: own.score,
        own_score: partLabelled > 0 ? normalizedScore(own.score, partScorable, partLabelled, cost) : null,
      });
    }
    return { cvScore: normalizedScore(cvRaw, scorable, labelled, cost), cvRaw, ownScore: normalizedScore(ownRaw, scorable, labelled, cost), parts };
  });
}

/** windows of a file with no point at or above the threshold */
export function missedWindows(f: SweptFile, threshold: number): number {
  const hit = new Set<number>();
  const seen = new Set<number>();
  for (let k = 0; k < f.scores.length; k++) {
    const w = f.window[k]!;
    if (w < 0) continue;
    seen.add(w);
    if (f.scores[k]! >= threshold) hit.add(w);
  }
  return seen.size - hit.size;
}

// Running the device's detector over NAB-layout series, reading by reading as the device scores a
// stream (the same StreamScorer and model policy; the one difference is that a run waits for each
// training to finish where the device carries on with the old weights, so that results do not
// depend on the machine's speed), keeping the first stage's figures of every step for judge().
import { defaultDetectorParams, type DetectorParams, type SurpriseParams } from '../detector/detector.ts';
import { trainerInThread, type TrainOptions } from '../model/train.ts';
import { StreamScorer, defaultModelPolicy, type ModelPolicy } from '../stream-scorer.ts';
import type { NabSeries } from './corpus.ts';
import type { ScoredSeries } from './crossval.ts';
import { emptySurprises, FirstStageFollower, noteStep, type SeriesSurprises } from './first-stage.ts';

/** progress of a long run: `done` of `total`, and what was just done */
export type Progress = (done: number, total: number, what: string) => void;

/** How a series is scored: the detector's settings, its forecaster's, and further first stages beside it. */
export interface SeriesRun {
  model: boolean;
  params?: DetectorParams;
  policy?: ModelPolicy;
  /** the forecaster's training, moved off the device's defaults */
  training?: Partial<TrainOptions>;
  /** further first-stage settings run beside the detector (first-stage.ts) */
  firstStages?: readonly Partial<SurpriseParams>[];
}

/**
 * Anomaly scores of one series, scored reading by reading as the device would, and the first
 * stage's figures at each step, from which judge() scores it again with other settings: those of
 * `params` first, then those of each further first-stage setting in `firstStages` (first-stage.ts).
 */
export async function scoreSeries(values: readonly number[], timestamps: readonly number[], opts: SeriesRun): Promise<{ scores: Float64Array; surprises: SeriesSurprises[] }> {
  const policy = { ...(opts.policy ?? defaultModelPolicy), enabled: opts.model };
  const params = opts.params ?? defaultDetectorParams;
  const scorer = new StreamScorer(params, policy, opts.model ? trainerInThread(opts.training) : null);
  const n = values.length;
  const scores = new Float64Array(n);
  const own = emptySurprises(n);
  const followers = (opts.firstStages ?? []).map((p) => new FirstStageFollower({ ...params, ...p }, opts.model, n));
  for (let i = 0; i < n; i++) {
    scores[i] = scorer.score(values[i]!, timestamps[i]!).score;
    const s = scorer.lastSurprises;
    if (s) {
      noteStep(own, i, s);
      // the weights this step was scored with: a training it started has not yet come back
      for (const f of followers) f.step(i, s.value, scorer.model);
    }
    const pending = scorer.pendingTraining;
    if (pending) await pending;
  }
  return { scores, surprises: [own, ...followers.map((f) => f.figures)] };
}

/**
 * Every stream scored as the device would, and the first stage's kept figures: `kept[k][i]` is
 * first stage k's on stream i, k = 0 the detector's own, then one per `firstStages` setting.
 */
export async function scoreStreams(data: readonly NabSeries[], opts: SeriesRun & { progress?: Progress }): Promise<{ series: ScoredSeries[]; kept: SeriesSurprises[][]; readings: number }> {
  const series: ScoredSeries[] = [];
  const kept: SeriesSurprises[][] = [{}, ...(opts.firstStages ?? [])].map(() => []);
  let readings = 0;
  for (const [i, s] of data.entries()) {
    const { scores, surprises } = await scoreSeries(s.values, s.timestamps, opts);
    readings += s.values.length;
    series.push({ name: s.name, timestamps: s.timestamps, scores });
    surprises.forEach((f, k) => kept[k]!.push(f));
    opts.progress?.(i + 1, data.length, s.name);
  }
  return { series, kept, readings };
}


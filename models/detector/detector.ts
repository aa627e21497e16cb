// The causal anomaly detector for one stream (a sensor's metric), at the detector's time step
// (stream-scorer.ts). Each update sees only the steps up to now. Two stages:
//   - surprises.ts: what is surprising about each step: the novelty of its recent shape (a
//     nearest-neighbour non-conformity in the spirit of KNN-CAD) and the error of the learned
//     forecaster (the TensorFlow.js model's weights, run in plain JS);
//   - judge.ts: how surprising is too surprising for this stream: each surprise against the
//     stream's own history of it (an anomaly likelihood), new shapes only at values in the tails
//     of the stream's recent past, and a value beyond the range seen so far; while the stream is
//     young (its first two weeks), unseen transitions between bands of its range as well
//     (transitions.ts), judged the same way, since its other windows are not yet full.
// The split lets an evaluation keep the first stage's figures and try the second with other
// settings (cross-validation chooses among a few), without running the costly part again.
import { SurpriseJudge, type DetectorVerdict, type JudgeParams } from './judge.ts';
import { SurpriseSource, type Forecaster, type SurpriseParams, type Surprises } from './surprises.ts';

export type { DetectorVerdict, Forecaster, JudgeParams, SurpriseParams, Surprises };
export type { SurpriseKind } from './judge.ts';

export type DetectorParams = SurpriseParams & JudgeParams;

export const defaultDetectorParams: DetectorParams = {
  levelWindow: 400,
  smooth: 4,
  historyWindow: 2016,
  warmup: 144,
  suppress: 24,
  fireLevel: 0.7,
  fullScale: 12,
  rangeMargin: 0,
  newExtremes: true,
  contextLength: 8,
  contextMemory: 288,
  contextTailWindow: 4032,
  contextTailShare: 0.01,
  forecastWeight: 1,
  forecastWarmup: 100,
  forecastFloor: 0.1,
  forecastJitter: 3,
  forecastDeviation: 1,
  forecastJudgedAfter: 2016,
  transitionLength: 4,
  transitionLevels: 16,
};

/**
 * The detector as the device runs it: new extremes are left to the rules' level check, which is
 * held to the false alarm budget (see `newExtremes`); everything else as on NAB.
 */
export const deviceDetectorParams: DetectorParams = { ...defaultDetectorParams, newExtremes: false };

/**
 * The device's detector for the alert threshold the operator set (`model.threshold`): a detection
 * silences the next steps (`suppress`) only when it is an alert. With a fire level of its own, an
 * operator who raised the threshold would have steps silenced after a score no one was alerted
 * to, and could miss the alert that follows; one who lowered it would get several alerts for one
 * event. The NAB evaluation's cross-validation scores each setting at its fire level for the same
 * reason (models/README.md).
 */
export function deviceDetectorParamsAt(threshold: number): DetectorParams {
  return { ...deviceDetectorParams, fireLevel: threshold };
}

export class StreamDetector {
  private readonly source: SurpriseSource;
  private readonly judge: SurpriseJudge;
  /** the first stage's figures for the latest step */
  last: Surprises | null = null;

  constructor(p: DetectorParams = defaultDetectorParams, forecaster: Forecaster | null = null) {
    this.source = new SurpriseSource(p, forecaster);
    this.judge = new SurpriseJudge(p);
  }

  update(x: number): DetectorVerdict {
    this.last = this.source.update(x);
    return this.judge.update(this.last);
  }
}

// Scoring one stream the way the device does: the statistical detector, fed by the TensorFlow.js
// forecaster once one is trained, and the policy that decides when to (re)train it from the
// stream's own recent history. Training is asynchronous (a worker thread on the device): until new
// weights arrive the old ones, or none, are used, so scoring never waits.
import { StreamDetector, defaultDetectorParams, type DetectorParams, type DetectorVerdict, type Surprises } from './detector/detector.ts';
import { MlpForecaster } from './model/forecaster.ts';
import type { ForecasterWeights } from './model/weights.ts';

export interface ModelPolicy {
  /** use the learned forecaster at all */
  enabled: boolean;
  /** readings before the first training */
  minTrainReadings: number;
  /** readings since the last training before the next one */
  retrainReadings: number;
  /** and at least this much reading time (ts) since the last training */
  retrainIntervalMs: number;
  /** most recent readings kept to train on */
  historySize: number;
}

export const defaultModelPolicy: ModelPolicy = { enabled: true, minTrainReadings: 400, retrainReadings: 2000, retrainIntervalMs: 3_600_000, historySize: 3000 };

/**
 * Trains on `history` a challenger to `current` (the model in use, or null); resolves with the new
 * weights, or null to keep what is in use (history too short, no period, or the current model
 * forecasts the history at least as well: see `improves`).
 */
export type TrainFn = (history: Float64Array, current: ForecasterWeights | null, stepMs: number) => Promise<ForecasterWeights | null>;

/**
 * The finest time step the detector looks at. A stream read faster is seen as the means of its
 * readings over about this long: at a reading every few seconds, windows of a few hundred readings
 * would cover minutes, and the detector's memory (a day of shapes, weeks of levels at this step)
 * and the forecaster's period (a day is 288 steps) would be out of reach. The readings themselves
 * are still checked one by one by the rules (spikes, stuck values, gaps).
 */
export const DETECTOR_STEP_MS = 300_000;
/** gaps between readings the stream's interval is the median of */
const GAPS_KEPT = 15;

const QUIET: DetectorVerdict = { score: 0, kind: 'none' };

export class StreamScorer {
  private readonly detector: StreamDetector;
  private readonly gaps: number[] = [];
  private lastTs = Number.NaN;
  private blockSum = 0;
  private blockCount = 0;
  /** the detector's first-stage figures for the latest reading, null when it did not complete a step */
  lastSurprises: Surprises | null = null;
  private readonly forecaster: MlpForecaster | null;
  private readonly history: Float32Array | null;
  private head = 0;
  private stored = 0;
  private readings = 0;
  private lastTrainAt = 0;
  private lastTrainTs = Number.NEGATIVE_INFINITY;
  private training: Promise<void> | null = null;
  trainings = 0;
  trainFailures = 0;

  private readonly policy: ModelPolicy;
  private readonly train: TrainFn | null;

  constructor(
    params: DetectorParams = defaultDetectorParams,
    policy: ModelPolicy = defaultModelPolicy,
    train: TrainFn | null = null,
    initial: ForecasterWeights | null = null,
  ) {
    this.policy = policy;
    this.train = train;
    const useModel = policy.enabled && train !== null;
    this.forecaster = useModel ? new MlpForecaster() : null;
    this.history = useModel ? new Float32Array(policy.historySize) : null;
    this.detector = new StreamDetector(params, this.forecaster);
    if (initial && this.forecaster) {
      this.forecaster.setWeights(initial);
      // a model loaded from disk counts as a training at start-up
      this.lastTrainAt = 0;
    }
  }

  /** the stream's usual interval between readings (the median of the last gaps), 0 while unknown */
  get interval(): number {
    if (this.gaps.length < 5) return 0;
    const sorted = this.gaps.slice().sort((a, b) => a - b);
    return sorted[sorted.length >> 1]!;
  }

  /** readings the detector sees as one: about DETECTOR_STEP_MS of them at the stream's interval */
  get blockSize(): number {
    const interval = this.interval;
    return interval > 0 ? Math.max(1, Math.round(DETECTOR_STEP_MS / interval)) : 1;
  }

  /**
   * Score one reading (causal: uses this reading and earlier ones only). A reading that completes
   * a block is scored (the block's mean); the others score 0.
   */
  score(value: number, ts: number): DetectorVerdict {
    const gap = ts - this.lastTs;
    if (gap > 0) {
      this.gaps.push(gap);
      if (this.gaps.length > GAPS_KEPT) this.gaps.shift();
    }
    this.lastTs = ts;
    this.blockSum += value;
    this.blockCount++;
    this.lastSurprises = null;
    if (this.blockCount < this.blockSize) return QUIET;
    const mean = this.blockCount === 1 ? value : this.blockSum / this.blockCount;
    this.blockSum = 0;
    this.blockCount = 0;
    return this.scoreStep(mean, ts);
  }

  private scoreStep(value: number, ts: number): DetectorVerdict {
    const verdict = this.detector.update(value);
    this.lastSurprises = this.detector.last;
    this.readings++;
    if (this.history) {
      this.history[this.head] = value;
      this.head = (this.head + 1) % this.history.length;
      if (this.stored < this.history.length) this.stored++;
      this.maybeTrain(ts);
    }
    return verdict;
  }

  /** The pending training, if one is running (the evaluation waits for it, the device does not). */
  get pendingTraining(): Promise<void> | null {
    return this.training;
  }

  get model(): ForecasterWeights | null {
    return this.forecaster?.model ?? null;
  }

  /** Use weights trained elsewhere (a model saved by an earlier run), unless a newer one arrived. */
  adopt(w: ForecasterWeights): void {
    if (!this.forecaster) return;
    const current = this.forecaster.model;
    if (current && current.trainedAt >= w.trainedAt) return;
    this.forecaster.setWeights(w);
  }

  private maybeTrain(ts: number): void {
    if (this.training || !this.train) return;
    const p = this.policy;
    // without a model yet (never trained, history too short, or the trainer was busy) try again
    // every quarter of minTrainReadings; with one, retrain each time the history has doubled (a
    // young model has seen too little to know the stream's period) and then on the regular schedule
    const due =
      this.forecaster!.model === null
        ? this.readings >= p.minTrainReadings && (this.lastTrainAt === 0 || this.readings - this.lastTrainAt >= Math.ceil(p.minTrainReadings / 4))
        : this.readings - this.lastTrainAt >= Math.min(p.retrainReadings, Math.max(this.lastTrainAt, p.minTrainReadings)) && ts - this.lastTrainTs >= p.retrainIntervalMs;
    if (!due) return;
    this.lastTrainAt = this.readings;
    this.lastTrainTs = ts;
    const snapshot = this.snapshot();
    this.training = this.train(snapshot, this.forecaster!.model, this.interval * this.blockSize).then(
      (w) => {
        this.trainings++;
        if (w) this.forecaster!.setWeights(w);
      },
      () => {
        this.trainFailures++;
      },
    ).finally(() => {
      this.training = null;
    });
  }

  /** the kept history, oldest first */
  private snapshot(): Float64Array {
    const h = this.history!;
    const out = new Float64Array(this.stored);
    const start = (this.head - this.stored + h.length) % h.length;
    for (let i = 0; i < this.stored; i++) out[i] = h[(start + i) % h.length]!;
    return out;
  }
}

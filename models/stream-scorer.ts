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
/**
 * The most steps filled in for readings lost between two steps. The detector's shapes are
 * `contextLength` (8) steps: a gap of at most half of one leaves every shape at least half made of
 * readings, so its novelty still speaks of the stream. A longer gap (a link down, a meter off) is
 * not filled: a straight line standing for whole shapes would enter the day of shapes as shapes
 * the stream has shown, and the forecaster's history as what it did, so after an outage the
 * stream resumes as if the outage had not been (its windows lose that stretch of the clock).
 */
export const MAX_FILLED_STEPS = 4;

const QUIET: DetectorVerdict = { score: 0, kind: 'none' };

export class StreamScorer {
  private readonly detector: StreamDetector;
  private readonly gaps: number[] = [];
  private lastTs = Number.NaN;
  /** the last step's value, for filling in lost steps */
  private lastStepValue = Number.NaN;
  /** steps filled in for lost readings: seen by the detector's first stage, never scored */
  filledSteps = 0;
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
    const previous = this.lastTs;
    const gap = ts - previous;
    // whole steps lost before this reading, by the stream's habits before this gap counts among them
    const missing = this.missingSteps(gap);
    if (gap > 0) {
      this.gaps.push(gap);
      if (this.gaps.length > GAPS_KEPT) this.gaps.shift();
    }
    this.lastTs = ts;
    this.lastSurprises = null;
    let verdict = QUIET;
    if (missing > 0) {
      // a block begun before the gap is closed as a step of what it holds: a step is the readings
      // of about DETECTOR_STEP_MS, not of however long the link was down
      if (this.blockCount > 0) verdict = this.closeBlock(previous);
      this.fillSteps(missing, value);
    }
    this.blockSum += value;
    this.blockCount++;
    if (this.blockCount < this.blockSize) return verdict;
    const own = this.closeBlock(ts);
    return own.score >= verdict.score ? own : verdict;
  }

  /** whole steps without a reading in a gap between two readings (0 while the interval is unknown) */
  private missingSteps(gap: number): number {
    const interval = this.interval;
    if (!(interval > 0 && gap > 0)) return 0;
    // the reading would have come one interval after the one before it
    return Math.max(0, Math.round((gap - interval) / (interval * this.blockSize)));
  }

  /** Feed the detector's first stage the steps lost before `next`, on the line to it; at most MAX_FILLED_STEPS. */
  private fillSteps(missing: number, next: number): void {
    if (missing > MAX_FILLED_STEPS || !Number.isFinite(this.lastStepValue)) return;
    const from = this.lastStepValue;
    for (let k = 1; k <= missing; k++) {
      const x = from + ((next - from) * k) / (missing + 1);
      this.detector.fill(x);
      this.keep(x);
      this.filledSteps++;
    }
  }

  private closeBlock(ts: number): DetectorVerdict {
    const mean = this.blockCount === 1 ? this.blockSum : this.blockSum / this.blockCount;
    this.blockSum = 0;
    this.blockCount = 0;
    return this.scoreStep(mean, ts);
  }

  private scoreStep(value: number, ts: number): DetectorVerdict {
    const verdict = this.detector.update(value);
    this.lastSurprises = this.detector.last;
    this.lastStepValue = value;
    this.keep(value);
    if (this.history) this.maybeTrain(ts);
    return verdict;
  }

  /** a step, read or filled in, into the forecaster's training history */
  private keep(value: number): void {
    this.readings++;
    if (!this.history) return;
    this.history[this.head] = value;
    this.head = (this.head + 1) % this.history.length;
    if (this.stored < this.history.length) this.stored++;
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

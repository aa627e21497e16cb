// The validation of one stream (a sensor's metric): its rules, then the anomaly detector on the
// values the rules let through. The validation component keeps one per stream; `eval faults`
// runs the same class over generated streams, so that what it measures is what the device does.
import type { ReadingInput } from '../protocol/records.ts';
import { FLAG_FACTORS, type StreamRuleChecker } from './rules/rules.ts';
import type { StreamScorer } from './stream-scorer.ts';

export interface Assessment {
  flags: string[];
  /** multiplier (0..1) for the reading's quality score */
  factor: number;
}

export class StreamValidator {
  readonly rules: StreamRuleChecker;
  readonly scorer: StreamScorer | null;
  private readonly threshold: number;

  constructor(
    rules: StreamRuleChecker,
    scorer: StreamScorer | null,
    /** anomaly score at and above which a reading is flagged `anomaly` */
    threshold: number,
  ) {
    this.rules = rules;
    this.scorer = scorer;
    this.threshold = threshold;
  }

  /** `wallNow`: the device's clock (ms since the epoch); `monoNow`: its monotonic clock (ms). */
  check(input: ReadingInput, wallNow: number, monoNow: number): Assessment {
    const flags: string[] = [];
    this.rules.check(input, wallNow, monoNow, flags);
    let factor = 1;
    for (const f of flags) factor *= FLAG_FACTORS[f] ?? 1;
    // values the rules already reject would only teach the detector that nonsense is normal
    if (this.scorer && input.value !== null && !flags.includes('out_of_range')) {
      const v = this.scorer.score(input.value, input.ts);
      if (v.score >= this.threshold) {
        flags.push('anomaly');
        factor *= 1 - 0.5 * v.score;
      }
    }
    return { flags, factor };
  }

  /** whether the stream has gone quiet for longer than its own arrivals make believable, at `monoNow` */
  silent(monoNow: number): boolean {
    return this.rules.silent(monoNow);
  }

  /** the pending training of the stream's forecaster, if one is running */
  get pendingTraining(): Promise<void> | null {
    return this.scorer?.pendingTraining ?? null;
  }
}

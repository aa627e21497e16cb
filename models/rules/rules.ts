// The rules every reading is checked against, per stream (sensor + metric): physical range, rate
// of change, a stuck (flat-lined) value, missing data against the expected interval, and a sane
// device clock. Each broken rule adds a flag and lowers the quality score; nothing is dropped.
import type { ReadingInput } from '../../protocol/records.ts';
import type { RuleConfig, ValidationConfig } from '../config.ts';
import { SENSOR_SPECS } from './specs.ts';

export interface StreamRules {
  min: number;
  max: number;
  maxRatePerS: number;
  stuckAfter: number;
  expectedIntervalMs: number | null;
  gapFactor: number;
}

/** What a broken rule does to the quality score. */
export const FLAG_FACTORS: Record<string, number> = {
  out_of_range: 0.2,
  rate_of_change: 0.5,
  stuck: 0.5,
  data_gap: 0.9,
  clock_future: 0.5,
  clock_backwards: 0.5,
  clock_jump: 0.7,
};

function matches(rule: RuleConfig, sensor: string, metric: string): boolean {
  if (rule.metric !== undefined && rule.metric !== metric) return false;
  if (rule.sensor === undefined) return true;
  return rule.sensor.endsWith('*') ? sensor.startsWith(rule.sensor.slice(0, -1)) : rule.sensor === sensor;
}

/** The rules of one stream: spec defaults, then every matching config rule in order. */
export function rulesFor(config: ValidationConfig, sensor: string, metric: string): StreamRules {
  const spec = SENSOR_SPECS[metric];
  const r: StreamRules = {
    min: spec?.min ?? Number.NEGATIVE_INFINITY,
    max: spec?.max ?? Number.POSITIVE_INFINITY,
    maxRatePerS: spec?.maxRatePerS ?? Number.POSITIVE_INFINITY,
    stuckAfter: config.stuckAfter,
    expectedIntervalMs: null,
    gapFactor: config.gapFactor,
  };
  for (const rule of config.rules) {
    if (!matches(rule, sensor, metric)) continue;
    if (rule.min !== undefined) r.min = rule.min;
    if (rule.max !== undefined) r.max = rule.max;
    if (rule.maxRatePerS !== undefined) r.maxRatePerS = rule.maxRatePerS;
    if (rule.stuckAfter !== undefined) r.stuckAfter = rule.stuckAfter;
    if (rule.expectedIntervalMs !== undefined) r.expectedIntervalMs = rule.expectedIntervalMs;
    if (rule.gapFactor !== undefined) r.gapFactor = rule.gapFactor;
  }
  return r;
}

/** Rule state of one stream. `now` is the device's monotonic clock in ms (for clock checks). */
export class StreamRuleChecker {
  private prevValue: number | null = null;
  private prevValueTs = 0;
  private prevTs: number | null = null;
  private prevArrival = 0;
  private same = 0;
  private learnedInterval = 0;
  private intervals = 0;

  private readonly rules: StreamRules;
  private readonly clock: ValidationConfig['clock'];

  constructor(
    rules: StreamRules,
    clock: ValidationConfig['clock'],
  ) {
    this.rules = rules;
    this.clock = clock;
  }

  check(r: ReadingInput, wallNow: number, monoNow: number, flags: string[]): void {
    const rules = this.rules;
    // clock: in the future, going backwards, or moving unlike the elapsed time
    if (r.ts > wallNow + this.clock.maxFutureMs) flags.push('clock_future');
    if (this.prevTs !== null) {
      const dts = r.ts - this.prevTs;
      if (dts < 0) flags.push('clock_backwards');
      else if (Math.abs(dts - (monoNow - this.prevArrival)) > this.clock.maxJumpMs) flags.push('clock_jump');
      else {
        const interval = rules.expectedIntervalMs ?? (this.intervals >= 5 ? this.learnedInterval : 0);
        if (interval > 0 && dts > interval * rules.gapFactor) flags.push('data_gap');
        if (dts > 0) {
          // a slow moving average of the interval, robust to the occasional gap
          const clipped = this.intervals >= 5 ? Math.min(dts, this.learnedInterval * 3) : dts;
          this.learnedInterval = this.intervals === 0 ? dts : this.learnedInterval + (clipped - this.learnedInterval) * 0.05;
          this.intervals++;
        }
      }
    }
    if (r.ts >= (this.prevTs ?? Number.NEGATIVE_INFINITY)) this.prevTs = r.ts;
    this.prevArrival = monoNow;

    const v = r.value;
    if (v === null) return;
    if (v < rules.min || v > rules.max) flags.push('out_of_range');
    if (this.prevValue !== null) {
      const dt = (r.ts - this.prevValueTs) / 1000;
      if (dt > 0 && Math.abs(v - this.prevValue) / dt > rules.maxRatePerS) flags.push('rate_of_change');
      this.same = v === this.prevValue ? this.same + 1 : 0;
      if (rules.stuckAfter > 0 && this.same + 1 >= rules.stuckAfter) flags.push('stuck');
    }
    this.prevValue = v;
    this.prevValueTs = r.ts;
  }
}

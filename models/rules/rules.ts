// The rules every reading is checked against, per stream (sensor + metric): physical range, rate
// of change, a stuck (flat-lined) value, missing data, spikes and noise, a level unlike the
// stream's earlier days at that hour, and a sane device clock. Each broken rule adds a flag and
// lowers the quality score; nothing is dropped.
// Stuck values, missing data, spikes, noise and levels are judged against the stream's own habits
// (repeats.ts, arrivals.ts, excursions.ts, levels.ts): each is flagged when an ordinary stream
// like this one would produce it less often than `falseAlarmsPerDay` a day. An operator's fixed limits
// (`stuckAfter`, `expectedIntervalMs` with `gapFactor`) apply as well when configured.
import type { ReadingInput } from '../../protocol/records.ts';
import type { RuleConfig, ValidationConfig } from '../config.ts';
import { ArrivalModel } from './arrivals.ts';
import { EXCURSION_BLOCK_MS, ExcursionChecks } from './excursions.ts';
import { LevelCheck } from './levels.ts';
import { RepeatModel } from './repeats.ts';
import { SENSOR_SPECS } from './specs.ts';

const DAY_MS = 86_400_000;
/** the level check judges 5-minute means: its budget is spread over those */
const LEVEL_STEP_MS = 300_000;

export interface StreamRules {
  min: number;
  max: number;
  maxRatePerS: number;
  stuckAfter: number;
  expectedIntervalMs: number | null;
  gapFactor: number;
  /** false alarms a day each self-calibrated check (stuck, missing data) may cost a healthy stream */
  falseAlarmsPerDay: number;
  /** bounded by the clear sky: an hour's best short of earlier days' is flagged (levels.ts) */
  clearSky: boolean;
}

/** What a broken rule does to the quality score. */
export const FLAG_FACTORS: Record<string, number> = {
  out_of_range: 0.2,
  rate_of_change: 0.5,
  stuck: 0.5,
  spike: 0.5,
  noisy: 0.8,
  level: 0.7,
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
    falseAlarmsPerDay: config.falseAlarmsPerDay,
    clearSky: false,
  };
  for (const rule of config.rules) {
    if (!matches(rule, sensor, metric)) continue;
    if (rule.min !== undefined) r.min = rule.min;
    if (rule.max !== undefined) r.max = rule.max;
    if (rule.maxRatePerS !== undefined) r.maxRatePerS = rule.maxRatePerS;
    if (rule.stuckAfter !== undefined) r.stuckAfter = rule.stuckAfter;
    if (rule.expectedIntervalMs !== undefined) r.expectedIntervalMs = rule.expectedIntervalMs;
    if (rule.gapFactor !== undefined) r.gapFactor = rule.gapFactor;
    if (rule.falseAlarmsPerDay !== undefined) r.falseAlarmsPerDay = rule.falseAlarmsPerDay;
    if (rule.clearSky !== undefined) r.clearSky = rule.clearSky;
  }
  return r;
}

/** Rule state of one stream. `now` is the device's monotonic clock in ms (for clock checks). */
export class StreamRuleChecker {
  private prevValue: number | null = null;
  private prevValueTs = 0;
  private prevTs: number | null = null;
  private prevArrival: number | null = null;
  private readonly arrivals = new ArrivalModel();
  private readonly repeats = new RepeatModel();
  private readonly excursions = new ExcursionChecks();
  private readonly levels: LevelCheck;

  private readonly rules: StreamRules;
  private readonly clock: ValidationConfig['clock'];

  constructor(
    rules: StreamRules,
    clock: ValidationConfig['clock'],
  ) {
    this.rules = rules;
    this.clock = clock;
    this.levels = new LevelCheck(rules.clearSky);
  }

  /** the stream's interval: the configured one, else the learned one (0 while unknown) */
  private interval(): number {
    return this.rules.expectedIntervalMs ?? this.arrivals.interval();
  }

  /**
   * The chance per reading below which a self-calibrated check flags: the daily false alarm
   * budget spread over the readings of a day. 0 while the interval is unknown.
   */
  private risk(): number {
    return (this.rules.falseAlarmsPerDay * this.interval()) / DAY_MS;
  }

  /** Whether `elapsedMs` without a reading is a gap this stream would not ordinarily have. */
  private isGap(elapsedMs: number): boolean {
    const interval = this.interval();
    if (interval <= 0) return false;
    if (elapsedMs > interval * this.rules.gapFactor) return true;
    const missing = this.arrivals.missingIn(elapsedMs);
    return missing > 0 && this.arrivals.chanceOfMissing(missing) < this.risk();
  }

  /** Whether the stream has gone quiet for longer than its own arrivals make believable, at `monoNow`. */
  silent(monoNow: number): boolean {
    return this.prevArrival !== null && this.isGap(monoNow - this.prevArrival);
  }

  check(r: ReadingInput, wallNow: number, monoNow: number, flags: string[]): void {
    const rules = this.rules;
    // clock: in the future, going backwards, or moving unlike the elapsed time
    if (r.ts > wallNow + this.clock.maxFutureMs) flags.push('clock_future');
    if (this.prevTs !== null) {
      const dts = r.ts - this.prevTs;
      if (dts < 0) flags.push('clock_backwards');
      else if (Math.abs(dts - (monoNow - (this.prevArrival ?? monoNow))) > this.clock.maxJumpMs) flags.push('clock_jump');
      else {
        if (this.isGap(dts)) flags.push('data_gap');
        this.arrivals.observe(dts);
      }
    }
    if (r.ts >= (this.prevTs ?? Number.NEGATIVE_INFINITY)) this.prevTs = r.ts;
    this.prevArrival = monoNow;

    const v = r.value;
    if (v === null) return;
    const outOfRange = v < rules.min || v > rules.max;
    if (outOfRange) flags.push('out_of_range');
    if (this.prevValue !== null) {
      const dt = (r.ts - this.prevValueTs) / 1000;
      if (dt > 0 && Math.abs(v - this.prevValue) / dt > rules.maxRatePerS) flags.push('rate_of_change');
    }
    this.repeats.observe(v);
    const run = this.repeats.runLength;
    if (run > 0 && ((rules.stuckAfter > 0 && run + 1 >= rules.stuckAfter) || this.repeats.chanceOfRun() < this.risk())) flags.push('stuck');
    this.excursions.check(v, r.ts, (rules.falseAlarmsPerDay * Math.max(EXCURSION_BLOCK_MS, this.interval())) / DAY_MS, flags);
    // a value the sensor cannot report would widen a week of the stream's levels
    if (!outOfRange) this.levels.check(v, r.ts, (rules.falseAlarmsPerDay * LEVEL_STEP_MS) / DAY_MS, this.risk(), flags);
    this.prevValue = v;
    this.prevValueTs = r.ts;
  }
}

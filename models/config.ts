// The `validation:` section of the device config: rules per sensor or metric (defaults from the
// sensor specs in rules/specs.ts), and the anomaly model.
import { z } from 'zod';

const ruleSchema = z.strictObject({
  /** a sensor id, or a prefix ending in `*` (`co2-*`); absent = every sensor */
  sensor: z.string().min(1).optional(),
  /** a metric name; absent = every metric */
  metric: z.string().min(1).optional(),
  /** physical range; defaults from the metric's sensor spec */
  min: z.number().optional(),
  max: z.number().optional(),
  /** largest believable change per second */
  maxRatePerS: z.number().positive().optional(),
  /** this many identical readings in a row means a stuck sensor (0 = only the learned check) */
  stuckAfter: z.number().int().min(0).optional(),
  /** false alarms a day each self-calibrated rule may cost this stream */
  falseAlarmsPerDay: z.number().positive().max(100).optional(),
  /** the interval readings are expected at; learned from the stream when absent */
  expectedIntervalMs: z.number().int().positive().optional(),
  /** a gap longer than this many expected intervals is flagged as missing data */
  gapFactor: z.number().min(1).optional(),
  /**
   * the stream is bounded by the clear sky (a PV string's current, irradiance): an hour's best
   * below that hour's best on earlier days is a loss of gain, not clouds
   */
  clearSky: z.boolean().optional(),
});

const modelSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** anomaly score (0..1) at and above which a reading is flagged `anomaly` */
  threshold: z.number().min(0).max(1).default(0.7),
  /** readings a stream needs before its model is first trained */
  minTrainReadings: z.number().int().min(50).default(400),
  /** retrain after this many new readings ... */
  retrainReadings: z.number().int().positive().default(2000),
  /** ... and at least this long since the last training */
  retrainIntervalMs: z.number().int().min(0).default(3_600_000),
  /** recent readings kept per stream to train on */
  historySize: z.number().int().min(100).max(100_000).default(3000),
  /** streams that get a learned model; the others are scored by the statistical detectors only */
  maxStreams: z.number().int().min(0).default(64),
  /** training jobs allowed to wait for the worker; more are skipped until the next retrain */
  maxQueuedTrainings: z.number().int().positive().default(4),
});

const clockSchema = z.strictObject({
  /** a reading stamped further than this in the future is flagged */
  maxFutureMs: z.number().int().positive().default(60_000),
  /** the device clock moving this much more (or less) than the elapsed time between readings */
  maxJumpMs: z.number().int().positive().default(30_000),
});

export const validationSchema = z.strictObject({
  rules: z.array(ruleSchema).default([]),
  /** a reading's rules: the defaults below, then each matching rule in order overriding them */
  /** a fixed limit: this many identical readings in a row mean a stuck sensor (0 = only the learned check) */
  stuckAfter: z.number().int().min(0).default(0),
  /** a fixed limit: a gap longer than this many intervals is missing data, whatever the stream's habits */
  gapFactor: z.number().min(1).default(5),
  /**
   * false alarms a day each self-calibrated rule (stuck, missing data) may cost a healthy stream:
   * a run of repeats or a silence is flagged when the stream's own habits make it rarer than that
   */
  falseAlarmsPerDay: z.number().positive().max(100).default(0.01),
  model: modelSchema.default(modelSchema.parse({})),
  clock: clockSchema.default(clockSchema.parse({})),
});

export type ValidationConfig = z.output<typeof validationSchema>;
export type RuleConfig = z.output<typeof ruleSchema>;

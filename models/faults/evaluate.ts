// `fieldproof eval faults`: the device's validation path (rules, then the anomaly detector, as
// StreamValidator applies them) over the generated sensors of scenario.ts, each as if on its own
// device. Per fault type: the share found, the delay to the first flag, and the false alarms the
// healthy stretches raise per sensor-day. Trainings are waited for, as in the NAB evaluation, so
// the figures do not depend on the machine's speed.
import type { ReadingInput } from '../../protocol/records.ts';
import { validationSchema, type ValidationConfig } from '../config.ts';
import { deviceDetectorParamsAt } from '../detector/detector.ts';
import { trainInThread } from '../model/train.ts';
import { rulesFor, StreamRuleChecker } from '../rules/rules.ts';
import { StreamScorer } from '../stream-scorer.ts';
import { StreamValidator } from '../stream-validator.ts';
import { FAULT_TYPES, type FaultType } from './catalogue.ts';
import { FAULT_PLAN, generateScenario, type GeneratedSensor } from './scenario.ts';
import { DAY_MS, HOUR_MS, MINUTE_MS, type StreamKind } from './streams.ts';

/** clean readings of a flag kind before its alert clears, as the alerts' default `clearAfter` */
export const CLEAR_AFTER = 10;
/** how often the device looks for silent streams */
export const SILENCE_CHECK_MS = 10_000;
/** healthy data starts counting for false alarms after a day to learn the stream ... */
export const LEARN_MS = DAY_MS;
/** ... and again an hour after a fault has ended */
export const AFTER_FAULT_MS = HOUR_MS;
/** a fault found later than this after its start does not count as found ... */
export const FIND_WITHIN_MS = DAY_MS;
/** ... nor later than this after its end (the readings that show a fault's end still find it) */
export const FIND_AFTER_END_MS = 5 * MINUTE_MS;

/** What one sensor's run produced: its fault's detection and its false alarms. */
export interface SensorOutcome {
  id: string;
  kind: StreamKind;
  type: FaultType;
  /** ms from the fault's start to the first flag at or after it, null when not found */
  delayMs: number | null;
  /** the flag that found it */
  foundBy: string | null;
  /** alarms raised in healthy stretches, by flag */
  falseAlarms: Record<string, number>;
  healthyMs: number;
  readings: number;
}

/** Alerts as the device's alert engine raises them: once per flag kind until it is clear again. */
class AlarmTracker {
  private readonly clean = new Map<string, number>();

  /** the kinds newly raised by this reading's flags */
  observe(flags: readonly string[]): string[] {
    const raised: string[] = [];
    for (const [kind, run] of this.clean) {
      if (flags.includes(kind)) continue;
      if (run + 1 >= CLEAR_AFTER) this.clean.delete(kind);
      else this.clean.set(kind, run + 1);
    }
    for (const f of flags) {
      if (!this.clean.has(f)) raised.push(f);
      this.clean.set(f, 0);
    }
    return raised;
  }
}

export interface FaultsOptions {
  /** use the TensorFlow.js forecaster, as the device does by default */
  model: boolean;
  config?: ValidationConfig;
  kinds?: readonly StreamKind[];
  types?: readonly FaultType[];
  /** another seed for the plan (the plan's own when absent): a check on streams the validation was not developed on */
  seed?: number;
  progress?: (done: number, total: number, id: string) => void;
}

/**
 * The configuration an operator would give these sensors: the defaults, and the PV strings marked
 * as bounded by the clear sky (what they are is known at installation, not learned).
 */
export function scenarioConfig(): ValidationConfig {
  return validationSchema.parse({ rules: [{ sensor: 'pv-*', clearSky: true }] });
}

function validatorFor(s: GeneratedSensor, config: ValidationConfig, model: boolean): StreamValidator {
  const rules = new StreamRuleChecker(rulesFor(config, s.id, s.spec.metric), config.clock);
  const m = config.model;
  const useModel = model && m.enabled;
  const policy = { enabled: useModel, minTrainReadings: m.minTrainReadings, retrainReadings: m.retrainReadings, retrainIntervalMs: m.retrainIntervalMs, historySize: m.historySize };
  const scorer = m.enabled ? new StreamScorer(deviceDetectorParamsAt(m.threshold), policy, useModel ? trainInThread : null) : null;
  return new StreamValidator(rules, scorer, m.threshold);
}

/** Run one sensor through the validation, reading by reading, with the device's silence checks between. */
export async function runSensor(s: GeneratedSensor, opts: { model: boolean; config?: ValidationConfig }): Promise<SensorOutcome> {
  const config = opts.config ?? scenarioConfig();
  const v = validatorFor(s, config, opts.model);
  const alarms = new AlarmTracker();
  const { start, end } = s.fault;
  const dataStart = FAULT_PLAN.start;
  const findUntil = Math.min(start + FIND_WITHIN_MS, end + FIND_AFTER_END_MS);
  const healthy = (ts: number) => ts >= dataStart + LEARN_MS && (ts < start || ts >= end + AFTER_FAULT_MS);
  let delayMs: number | null = null;
  let foundBy: string | null = null;
  const falseAlarms: Record<string, number> = {};
  const note = (ts: number, flags: readonly string[]) => {
    if (flags.length > 0 && delayMs === null && ts >= start && ts <= findUntil) {
      delayMs = ts - start;
      foundBy = flags[0]!;
    }
    for (const kind of alarms.observe(flags)) if (healthy(ts)) falseAlarms[kind] = (falseAlarms[kind] ?? 0) + 1;
  };
  let nextCheck = dataStart + SILENCE_CHECK_MS;
  let silent = false;
  for (const r of s.readings) {
    // the device's periodic look for streams that have gone quiet, up to this reading's arrival
    for (; nextCheck < r.ts; nextCheck += SILENCE_CHECK_MS) {
      const now = v.silent(nextCheck);
      if (now && !silent) note(nextCheck, ['stream_silent']);
      silent = now;
    }
    silent = false;
    // a polled sensor that did not answer: the driver keeps the reading, flagged, with no value
    const driverFlags = r.value === null ? ['no_response'] : [];
    const input: ReadingInput = { sensor: s.id, metric: s.spec.metric, ts: r.ts, value: r.value, unit: s.spec.unit };
    const out = v.check(input, r.ts, r.ts);
    note(r.ts, [...driverFlags, ...out.flags]);
    const pending = v.pendingTraining;
    if (pending) await pending;
  }
  let healthyMs = 0;
  const dataEnd = dataStart + FAULT_PLAN.days * DAY_MS;
  healthyMs += Math.max(0, start - (dataStart + LEARN_MS));
  healthyMs += Math.max(0, dataEnd - (end + AFTER_FAULT_MS));
  return { id: s.id, kind: s.spec.kind, type: s.fault.type, delayMs, foundBy, falseAlarms, healthyMs, readings: s.readings.length };
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

export interface FaultTypeFigures {
  faults: number;
  /** share found within a day of the start (or of the end, for faults that end sooner) */
  found: number;
  within_5_min: number;
  within_24_h: number;
  median_delay_s: number | null;
  /** the flag that found each fault */
  found_by: Record<string, number>;
  by_kind: Record<string, { found: number; within_5_min: number; median_delay_s: number | null }>;
}

/** The figures `eval faults --json` prints, from every sensor's outcome. */
export function summarise(outcomes: readonly SensorOutcome[], seconds: number) {
  const shareWithin = (os: readonly SensorOutcome[], ms: number) => (os.length === 0 ? 0 : round(os.filter((o) => o.delayMs !== null && o.delayMs <= ms).length / os.length));
  const delay = (os: readonly SensorOutcome[]) => {
    const m = median(os.flatMap((o) => (o.delayMs === null ? [] : [o.delayMs / 1000])));
    return m === null ? null : round(m, 1);
  };
  const faults: Partial<Record<FaultType, FaultTypeFigures>> = {};
  for (const type of FAULT_TYPES) {
    const os = outcomes.filter((o) => o.type === type);
    if (os.length === 0) continue;
    const foundBy: Record<string, number> = {};
    for (const o of os) if (o.foundBy) foundBy[o.foundBy] = (foundBy[o.foundBy] ?? 0) + 1;
    const byKind: FaultTypeFigures['by_kind'] = {};
    for (const kind of new Set(os.map((o) => o.kind))) {
      const k = os.filter((o) => o.kind === kind);
      byKind[kind] = { found: round(k.filter((o) => o.delayMs !== null).length / k.length), within_5_min: shareWithin(k, 5 * MINUTE_MS), median_delay_s: delay(k) };
    }
    faults[type] = { faults: os.length, found: round(os.filter((o) => o.delayMs !== null).length / os.length), within_5_min: shareWithin(os, 5 * MINUTE_MS), within_24_h: shareWithin(os, DAY_MS), median_delay_s: delay(os), found_by: foundBy, by_kind: byKind };
  }
  const alarmsOf = (os: readonly SensorOutcome[]) => os.reduce((a, o) => a + Object.values(o.falseAlarms).reduce((x, y) => x + y, 0), 0);
  const daysOf = (os: readonly SensorOutcome[]) => os.reduce((a, o) => a + o.healthyMs, 0) / DAY_MS;
  const byFlag: Record<string, number> = {};
  for (const o of outcomes) for (const [f, n] of Object.entries(o.falseAlarms)) byFlag[f] = (byFlag[f] ?? 0) + n;
  const byKind: Record<string, number> = {};
  for (const kind of new Set(outcomes.map((o) => o.kind))) {
    const os = outcomes.filter((o) => o.kind === kind);
    byKind[kind] = round(alarmsOf(os) / daysOf(os));
  }
  const sensorDays = daysOf(outcomes);
  const perDay = sensorDays > 0 ? alarmsOf(outcomes) / sensorDays : 0;
  const quick = outcomes.filter((o) => o.type === 'stuck' || o.type === 'spike' || o.type === 'dropout');
  const drift = outcomes.filter((o) => o.type === 'drift');
  const targets = {
    stuck_spike_dropout_within_5_min: shareWithin(quick, 5 * MINUTE_MS),
    drift_within_24_h: shareWithin(drift, DAY_MS),
    false_alarms_per_sensor_day: round(perDay, 4),
  };
  const met = targets.stuck_spike_dropout_within_5_min >= 0.95 && targets.drift_within_24_h >= 0.8 && targets.false_alarms_per_sensor_day <= 0.1;
  return {
    sensors: outcomes.length,
    readings: outcomes.reduce((a, o) => a + o.readings, 0),
    healthy_sensor_days: round(sensorDays, 1),
    false_alarms: alarmsOf(outcomes),
    false_alarms_per_sensor_day: round(perDay, 4),
    false_alarms_by_flag: byFlag,
    false_alarms_per_sensor_day_by_kind: byKind,
    faults,
    targets: { ...targets, met },
    seconds: round(seconds, 1),
  };
}

export async function evaluateFaults(opts: FaultsOptions) {
  const started = Date.now();
  const outcomes: SensorOutcome[] = [];
  const total = (opts.kinds?.length ?? 4) * (opts.types?.length ?? FAULT_TYPES.length) * FAULT_PLAN.sensorsPerCell;
  for (const s of generateScenario(opts.kinds, opts.types, opts.seed)) {
    outcomes.push(await runSensor(s, { model: opts.model, ...(opts.config ? { config: opts.config } : {}) }));
    opts.progress?.(outcomes.length, total, s.id);
  }
  return { model: opts.model, seed: opts.seed ?? FAULT_PLAN.seed, ...summarise(outcomes, (Date.now() - started) / 1000) };
}

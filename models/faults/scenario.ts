// The fixed scenario `eval faults` runs: which sensors, for how long, and which fault each gets,
// all from one seed. The plan was fixed before any part of the validation was tuned against it,
// and a test pins a digest of everything it generates, so that a result cannot come from quietly
// changing the data.
import { prng } from '../../kernel/prng.ts';
import { FAULT_DRAWS, FAULT_TYPES, pvGainLossPerDay, type Fault, type FaultType } from './catalogue.ts';
import { DAY_MS, measure, quantise, readingTimes, STREAM_SPECS, truthAt, type GeneratedReading, type StreamKind, type StreamSpec } from './streams.ts';

export const FAULT_PLAN = {
  seed: 20_240_401,
  /** Monday 1 April 2024, 00:00 UTC */
  start: Date.UTC(2024, 3, 1),
  /** days of data per sensor */
  days: 8,
  /** faults start in [faultFrom, faultTo) days after the start: after four days of healthy data */
  faultFrom: 4,
  faultTo: 7,
  /** days of healthy readings a sensor's scale (its daily span) is measured on */
  scaleDays: 3,
  /** sensors per stream kind and fault type: each gets exactly one fault */
  sensorsPerCell: 5,
} as const;

export const STREAM_KINDS: readonly StreamKind[] = ['co2', 'power', 'pv', 'lora_temperature'];

export interface GeneratedSensor {
  id: string;
  spec: StreamSpec;
  /** the sensor's daily span: 99th minus 1st percentile of its healthy readings over the first days */
  scale: number;
  fault: Fault;
  readings: GeneratedReading[];
}

/** A seed for one part of one sensor, so that each part draws from its own sequence. */
function seedOf(seed: number, ...parts: number[]): number {
  let h = seed >>> 0;
  for (const p of parts) h = Math.imul(h ^ (p + 0x9e3779b9), 0x85ebca6b) >>> 0;
  return h;
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]!;
}

/**
 * One sensor of `kind` with one fault of `type`: the k-th of its cell. `withoutFault`: the same
 * sensor with the same readings and losses, the fault drawn but not applied (for tests). `seed`:
 * the plan's own unless asked otherwise (`eval faults --seed`, to see whether figures hold on
 * streams the checks were not developed on).
 */
export function generateSensor(kind: StreamKind, type: FaultType, k: number, withoutFault = false, seed: number = FAULT_PLAN.seed): GeneratedSensor {
  const spec = STREAM_SPECS[kind];
  const ki = STREAM_KINDS.indexOf(kind);
  const ti = FAULT_TYPES.indexOf(type);
  const times = readingTimes(spec, FAULT_PLAN.start, FAULT_PLAN.days, prng(seedOf(seed, ki, ti, k, 1)));
  const truth = truthAt(kind, times, seedOf(seed, ki, ti, k, 2));
  const noise = prng(seedOf(seed, ki, ti, k, 3));
  const healthy = Float64Array.from(truth, (v) => measure(spec, v, 0, noise));

  const scaleEnd = FAULT_PLAN.start + FAULT_PLAN.scaleDays * DAY_MS;
  const early = Float64Array.from(healthy.filter((_, i) => times[i]! < scaleEnd)).sort();
  const scale = percentile(early, 0.99) - percentile(early, 0.01);

  // the fault: when, how long, how large
  const draw = prng(seedOf(seed, ki, ti, k, 4));
  const from = FAULT_PLAN.start + FAULT_PLAN.faultFrom * DAY_MS;
  const to = FAULT_PLAN.start + FAULT_PLAN.faultTo * DAY_MS;
  const dataEnd = FAULT_PLAN.start + FAULT_PLAN.days * DAY_MS;
  let start = from + draw() * (to - from);
  // a PV string shows nothing at night whatever its health: its faults begin in daylight
  for (let tries = 0; kind === 'pv' && tries < 1000 && truthNear(times, truth, start) < 0.2 * scale; tries++) start = from + draw() * (to - from);
  start = Math.round(start);
  const duration = FAULT_DRAWS[type].duration(draw);
  const end = Math.min(dataEnd, start + duration);
  let size = FAULT_DRAWS[type].size(draw, scale);
  if (type === 'drift' && kind === 'pv') size = pvGainLossPerDay(draw);
  const fault: Fault = { type, start, end, size };
  if (type === 'spike') fault.readings = 1 + Math.floor(draw() * 3);

  const lost = prng(seedOf(seed, ki, ti, k, 5));
  const readings: GeneratedReading[] = [];
  let lastReported: number | null = null;
  let spikeLeft = fault.readings ?? 0;
  for (let i = 0; i < times.length; i++) {
    const t = times[i]!;
    // an uplink lost on the way is simply not there (the draw is made for every reading, so
    // that the losses do not depend on the fault)
    const isLost = lost() < spec.lossRate;
    let value: number | null = healthy[i]!;
    // a spike lasts its readings, whatever its (zero) duration says
    const on = !withoutFault && t >= start && (type === 'spike' ? spikeLeft > 0 : t < end);
    if (on) {
      switch (type) {
        case 'stuck':
          if (lastReported !== null) value = lastReported;
          break;
        case 'spike':
          if (spikeLeft > 0) {
            spikeLeft--;
            fault.end = t + 1;
            // a spike never reads below the quantity's floor: it goes the other way
            const up = healthy[i]! + size;
            value = Math.max(spec.floor, up) === up ? up : healthy[i]! - size;
            value = quantise(value, spec.resolution);
          }
          break;
        case 'drift':
          value = kind === 'pv' ? measure(spec, truth[i]! * Math.max(0, 1 - (size * (t - start)) / DAY_MS), 0, noise) : measure(spec, truth[i]! + (size * (t - start)) / DAY_MS, 0, noise);
          break;
        case 'dropout':
          value = null;
          break;
        case 'noise':
          value = measure(spec, truth[i]!, size, noise);
          break;
        case 'offset':
          value = measure(spec, truth[i]! + size, 0, noise);
          break;
      }
    }
    if (type === 'stuck' && t < start) lastReported = isLost ? lastReported : value;
    if (isLost) continue;
    // a node that has gone quiet sends nothing; a polled sensor that stops answering leaves a null
    if (value === null && !spec.polled) continue;
    readings.push({ ts: t, value });
  }
  return { id: `${kind}-${type}-${k + 1}`, spec, scale, fault, readings };
}

/** the true value at the reading nearest to t */
function truthNear(times: readonly number[], truth: Float64Array, t: number): number {
  let lo = 0;
  let hi = times.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return truth[lo]!;
}

/** Every sensor of the plan, in a fixed order: kind, then fault type, then number. */
export function* generateScenario(kinds: readonly StreamKind[] = STREAM_KINDS, types: readonly FaultType[] = FAULT_TYPES, seed: number = FAULT_PLAN.seed): Generator<GeneratedSensor> {
  for (const kind of kinds) for (const type of types) for (let k = 0; k < FAULT_PLAN.sensorsPerCell; k++) yield generateSensor(kind, type, k, false, seed);
}

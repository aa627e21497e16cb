// Healthy sensor streams of the kinds the product reads, generated from simple physical models:
// what each sensor would report if nothing were wrong with it. Faults are added on top
// (catalogue.ts). Everything is a pure function of a seed, so every run sees the same streams.
import { prng } from '../../kernel/prng.ts';

export type StreamKind = 'co2' | 'power' | 'pv' | 'lora_temperature';

export interface StreamSpec {
  kind: StreamKind;
  metric: string;
  unit: string;
  /** the reading interval as the source polls (or the node sends) */
  intervalMs: number;
  /** what the source reports to: values are rounded to this */
  resolution: number;
  /** physical floor of the quantity (readings never go below it); -Infinity when none */
  floor: number;
  /** share of readings lost on the way (LoRa uplinks), independently of each other */
  lossRate: number;
  /** whether the source is wired and polled: a sensor that stops answering leaves a null reading */
  polled: boolean;
  /** how the source delivers readings, for the catalogue */
  about: string;
}

export const STREAM_SPECS: Record<StreamKind, StreamSpec> = {
  co2: { kind: 'co2', metric: 'co2_ppm', unit: 'ppm', intervalMs: 30_000, resolution: 1, floor: 0, lossRate: 0, polled: true, about: 'MH-Z19 over serial in an office room, polled every 30 s' },
  power: { kind: 'power', metric: 'power_kw', unit: 'kW', intervalMs: 15_000, resolution: 0.001, floor: Number.NEGATIVE_INFINITY, lossRate: 0, polled: true, about: "a building's ION7550 meter over Modbus, polled every 15 s" },
  pv: { kind: 'pv', metric: 'current_a', unit: 'A', intervalMs: 60_000, resolution: 0.01, floor: 0, lossRate: 0, polled: true, about: 'one PV string\'s current from a combiner box over Modbus, every 60 s' },
  lora_temperature: { kind: 'lora_temperature', metric: 'temperature_c', unit: 'degC', intervalMs: 60_000, resolution: 0.01, floor: Number.NEGATIVE_INFINITY, lossRate: 0.05, polled: false, about: 'an outdoor LoRaWAN temperature node sending every 60 s, 5% of uplinks lost' },
};

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** One reading as a source hands it over: `value` null when the sensor did not answer. */
export interface GeneratedReading {
  ts: number;
  value: number | null;
}

/** Gaussian draws from a seeded uniform source (Box-Muller). */
export function gaussian(rand: () => number): number {
  const u = 1 - rand();
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** `value` at `resolution` (1, 0.01, 0.001...), without binary fractions trailing behind */
export function quantise(value: number, resolution: number): number {
  const steps = Math.round(1 / resolution);
  return steps >= 1 ? Math.round(value * steps) / steps : Math.round(value / resolution) * resolution;
}

/** The true (noise-free) quantity of one sensor over time, sampled at the given times. */
type Truth = (times: readonly number[], rand: () => number) => Float64Array;

const hourOf = (ts: number) => ((ts % DAY_MS) + DAY_MS) % DAY_MS / HOUR_MS;
/** days since the epoch start, 0 = Thursday 1970-01-01; the generator starts on a Monday */
const weekdayOf = (ts: number) => (Math.floor(ts / DAY_MS) + 4) % 7; // 0 = Sunday

/**
 * Indoor CO2 from a mass balance: each occupant adds about 18 l/h of CO2 to the room, ventilation
 * pulls the room towards the outdoor 420 ppm (strongly while the building's HVAC runs on working
 * hours, weakly otherwise). Occupancy follows a working day with arrivals, a lunch dip and
 * departures that vary from day to day, and nobody at weekends.
 */
const co2Truth: Truth = (times, rand) => {
  const volume = 100 + rand() * 150; // m3
  const crowd = 5 + Math.floor(rand() * 16);
  const out = new Float64Array(times.length);
  let c = 420 + rand() * 30;
  let day = -1;
  let arrive = 8;
  let leave = 17.5;
  let people = crowd;
  for (let i = 0; i < times.length; i++) {
    const t = times[i]!;
    const d = Math.floor(t / DAY_MS);
    if (d !== day) {
      day = d;
      arrive = 7.5 + rand() * 1.5;
      leave = 16.5 + rand() * 2;
      people = Math.round(crowd * (0.6 + rand() * 0.5));
    }
    const h = hourOf(t);
    const wd = weekdayOf(t);
    const working = wd >= 1 && wd <= 5;
    let n = 0;
    if (working && h >= arrive && h < leave) {
      const ramp = Math.min(1, (h - arrive) / 0.75, (leave - h) / 0.5);
      n = people * ramp * (h >= 12 && h < 13 ? 0.4 : 1);
    }
    const ach = working && h >= 7 && h < 19 ? 2 : 0.3; // air changes per hour
    const dtH = i === 0 ? 0 : (t - times[i - 1]!) / HOUR_MS;
    // integrate in steps of at most a minute so that the balance stays stable
    for (let left = dtH; left > 0; left -= 1 / 60) {
      const step = Math.min(left, 1 / 60);
      c += ((n * 0.018 * 1e6) / volume - ach * (c - 420)) * step;
    }
    out[i] = c;
  }
  return out;
};

/**
 * A building's active power: a base load, HVAC and lighting on working days with morning and
 * evening ramps, and a few compressors cycling on and off (steps of a few kW at random moments).
 */
const powerTruth: Truth = (times, rand) => {
  const base = 15 + rand() * 25;
  const working = 30 + rand() * 50;
  const units = Array.from({ length: 3 }, () => ({ kw: 3 + rand() * 5, on: false, until: 0, onMin: 4 + rand() * 8, offMin: 8 + rand() * 15 }));
  const out = new Float64Array(times.length);
  for (let i = 0; i < times.length; i++) {
    const t = times[i]!;
    const h = hourOf(t);
    const wd = weekdayOf(t);
    let p = base;
    if (wd >= 1 && wd <= 5) {
      const ramp = Math.max(0, Math.min(1, (h - 6.5) / 1.5, (19 - h) / 1.5));
      p += working * ramp;
    } else p += working * 0.1;
    for (const u of units) {
      if (t >= u.until) {
        u.on = !u.on;
        const mean = u.on ? u.onMin : u.offMin;
        u.until = t + mean * MINUTE_MS * (0.5 + rand());
      }
      if (u.on) p += u.kw;
    }
    out[i] = p;
  }
  return out;
};

/**
 * A PV string's current: a clear-sky arc between sunrise and sunset (spring at mid latitudes),
 * times the clouds' transmittance. Each day has its own cloudiness; clouds come and go as a
 * two-state process whose edges take a minute or two. Exactly zero at night (the inverter is off).
 */
const pvTruth: Truth = (times, rand) => {
  const peak = 7 + rand() * 3; // A at a clear noon
  const out = new Float64Array(times.length);
  let day = -1;
  let cloudiness = 0;
  let cloudy = false;
  let transmit = 1;
  let level = 1;
  for (let i = 0; i < times.length; i++) {
    const t = times[i]!;
    const d = Math.floor(t / DAY_MS);
    if (d !== day) {
      day = d;
      cloudiness = rand() < 0.3 ? 0.05 : rand() < 0.5 ? 0.4 : 0.8;
    }
    const h = hourOf(t);
    const sunrise = 6;
    const sunset = 19.5;
    if (h <= sunrise || h >= sunset) {
      out[i] = 0;
      continue;
    }
    // a cloud arrives with a chance per minute that grows with the day's cloudiness, and passes
    if (!cloudy && rand() < cloudiness * 0.08) (cloudy = true), (transmit = 0.15 + rand() * 0.35);
    else if (cloudy && rand() < 0.15) cloudy = false;
    const target = cloudy ? transmit : 1;
    level += (target - level) * 0.6;
    const arc = Math.sin((Math.PI * (h - sunrise)) / (sunset - sunrise)) ** 1.3;
    out[i] = peak * arc * level;
  }
  return out;
};

/**
 * Outdoor air temperature: a daily swing (coolest before dawn, warmest mid-afternoon) on top of
 * weather that wanders over hours (a slow random walk pulled back to the season's mean).
 */
const temperatureTruth: Truth = (times, rand) => {
  const mean = 8 + rand() * 12;
  const swing = 3 + rand() * 5;
  const out = new Float64Array(times.length);
  let weather = 0;
  for (let i = 0; i < times.length; i++) {
    const t = times[i]!;
    const dtH = i === 0 ? 0 : (t - times[i - 1]!) / HOUR_MS;
    weather += -weather * 0.05 * dtH + gaussian(rand) * 0.6 * Math.sqrt(dtH);
    out[i] = mean + weather + swing * Math.sin(((hourOf(t) - 9) / 24) * 2 * Math.PI);
  }
  return out;
};

const TRUTH: Record<StreamKind, Truth> = { co2: co2Truth, power: powerTruth, pv: pvTruth, lora_temperature: temperatureTruth };

/** The sensor's own noise on top of the truth, in the stream's units (σ). */
export function sensorNoise(kind: StreamKind, truth: number): number {
  switch (kind) {
    case 'co2':
      return 4; // MH-Z19 readings wander by a few ppm from one to the next
    case 'power':
      return 0.003 * Math.abs(truth) + 0.02; // meter class 0.2S plus load flicker
    case 'pv':
      return truth > 0 ? 0.004 * truth + 0.01 : 0;
    case 'lora_temperature':
      return 0.04; // a SHT3x-class sensor's repeatability
  }
}

/** The reading times of one sensor from `start` for `days`, before any uplink is lost. */
export function readingTimes(spec: StreamSpec, start: number, days: number, rand: () => number): number[] {
  const out: number[] = [];
  const end = start + days * DAY_MS;
  // a node's clock and the radio add a second or two of jitter; a polled source is on time
  const jitter = spec.polled ? 0 : 2000;
  for (let t = start; t < end; t += spec.intervalMs) out.push(Math.round(t + (jitter > 0 ? (rand() - 0.5) * 2 * jitter : 0)));
  return out;
}

/** The true quantity at each reading time, noise-free, for one sensor. */
export function truthAt(kind: StreamKind, times: readonly number[], seed: number): Float64Array {
  return TRUTH[kind](times, prng(seed));
}

/** What the sensor reports for a true value: the truth plus its noise, at its resolution, above its floor. */
export function measure(spec: StreamSpec, truth: number, extraNoise: number, rand: () => number): number {
  const v = truth + gaussian(rand) * (sensorNoise(spec.kind, truth) + extraNoise);
  return quantise(Math.max(spec.floor, v), spec.resolution);
}

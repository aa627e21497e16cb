// The quality a driver gives each reading: a score in [0, 1] and flags saying why it is not 1.
// Deductions add up; the validation chain in the runtime may lower the score further.
//
//   calibration   half a year old: -0.1, rising linearly to -0.3 at a year and beyond
//                 ("calibration_aging", then "calibration_stale"); never calibrated / unknown: no deduction,
//                 flag "calibration_unknown" only when the driver was told to expect a date
//   warm-up       -0.5, "warming_up" (the sensor is not yet in spec)
//   range         -0.5, "out_of_range" (outside what the sensor can measure)
//   retries       -0.05 per extra attempt the read needed, at most -0.2, "retried"
//   signal        RSSI below -110 dBm or SNR below -10 dB: -0.1, "weak_signal"
//   battery       below 20 %: -0.1, "battery_low"
// A failed read has value null, score 0 and the failure's flag (timeout, bad_checksum, ...).
import type { Quality } from '../protocol/records.ts';

const DAY_MS = 86_400_000;
export const HALF_YEAR_MS = 182.5 * DAY_MS;
export const YEAR_MS = 365 * DAY_MS;

export interface QualityInputs {
  now: number;
  value: number;
  /** when the sensor was last calibrated (ms since epoch); undefined when unknown */
  calibratedAt?: number;
  /** flag an unknown calibration date (for sensors that need calibrating) */
  expectCalibration?: boolean;
  warmingUp?: boolean;
  /** the measurable range; a value outside it is flagged */
  range?: { min: number; max: number };
  /** extra attempts the read needed (0 = answered first time) */
  retries?: number;
  rssiDbm?: number;
  snrDb?: number;
  batteryPercent?: number;
  /** flags the driver adds itself (e.g. counter_reset) with their own deduction */
  extra?: { flag: string; deduction: number }[];
}

/** The calibration deduction for an age in ms: 0 before half a year, 0.1 at half a year, 0.3 from a year. */
export function calibrationDeduction(ageMs: number): number {
  if (ageMs < HALF_YEAR_MS) return 0;
  if (ageMs >= YEAR_MS) return 0.3;
  return 0.1 + (0.2 * (ageMs - HALF_YEAR_MS)) / (YEAR_MS - HALF_YEAR_MS);
}

export function assessQuality(q: QualityInputs): Quality {
  let score = 1;
  const flags: string[] = [];
  if (q.calibratedAt !== undefined) {
    const age = q.now - q.calibratedAt;
    const d = calibrationDeduction(age);
    if (d > 0) {
      score -= d;
      flags.push(age >= YEAR_MS ? 'calibration_stale' : 'calibration_aging');
    }
  } else if (q.expectCalibration) {
    flags.push('calibration_unknown');
  }
  if (q.warmingUp) {
    score -= 0.5;
    flags.push('warming_up');
  }
  if (q.range && (q.value < q.range.min || q.value > q.range.max)) {
    score -= 0.5;
    flags.push('out_of_range');
  }
  if (q.retries && q.retries > 0) {
    score -= Math.min(0.2, 0.05 * q.retries);
    flags.push('retried');
  }
  if ((q.rssiDbm !== undefined && q.rssiDbm < -110) || (q.snrDb !== undefined && q.snrDb < -10)) {
    score -= 0.1;
    flags.push('weak_signal');
  }
  if (q.batteryPercent !== undefined && q.batteryPercent < 20) {
    score -= 0.1;
    flags.push('battery_low');
  }
  if (q.extra) {
    for (const e of q.extra) {
      score -= e.deduction;
      flags.push(e.flag);
    }
  }
  return { score: Math.round(Math.max(0, Math.min(1, score)) * 1000) / 1000, flags };
}

/** The quality of a read that failed: nothing to trust, one flag saying why. */
export function failedQuality(flag: string): Quality {
  return { score: 0, flags: [flag] };
}

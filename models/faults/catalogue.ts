// The faults injected into the generated streams: what each does to the readings, how large and
// how long it is. Sizes are in units of the sensor's own daily span (`scale`: the spread between
// the 1st and 99th percentile of its healthy readings over the first days), so that a fault means
// the same to a CO2 sensor as to a power meter. The reasons for each fault are in README.md.
import { DAY_MS, HOUR_MS, MINUTE_MS } from './streams.ts';

export type FaultType = 'stuck' | 'spike' | 'drift' | 'dropout' | 'noise' | 'offset';

export const FAULT_TYPES: readonly FaultType[] = ['stuck', 'spike', 'drift', 'dropout', 'noise', 'offset'];

/** One fault as injected: its type, start, end and size (the sign included). */
export interface Fault {
  type: FaultType;
  /** reading time at which it begins */
  start: number;
  /** reading time at which the sensor is healthy again (the end of the data for lasting faults) */
  end: number;
  /**
   * stuck: the value it sticks at; spike: the jump added; drift: the offset reached per day (a
   * fraction of the gain per day for PV); noise: the extra noise (σ); offset: the step added;
   * dropout: 0
   */
  size: number;
  /** spike: readings it lasts */
  readings?: number;
}

export interface FaultDraw {
  /** how long the fault lasts, in ms (Infinity: until the data ends) */
  duration: (rand: () => number) => number;
  /** its size from the sensor's scale */
  size: (rand: () => number, scale: number) => number;
}

const uniform = (rand: () => number, lo: number, hi: number) => lo + rand() * (hi - lo);
const sign = (rand: () => number) => (rand() < 0.5 ? -1 : 1);

/** How each fault's duration and size are drawn. */
export const FAULT_DRAWS: Record<FaultType, FaultDraw> = {
  // the value freezes for two to eight hours, then the sensor recovers
  stuck: { duration: (r) => uniform(r, 2, 8) * HOUR_MS, size: () => 0 },
  // one to three readings off by 30% to 100% of the daily span
  spike: { duration: () => 0, size: (r, scale) => sign(r) * uniform(r, 0.3, 1) * scale },
  // an offset growing steadily to 50% to 100% of the daily span in a day, until the data ends
  drift: { duration: () => Number.POSITIVE_INFINITY, size: (r, scale) => sign(r) * uniform(r, 0.5, 1) * scale },
  // no value for half an hour to four hours
  dropout: { duration: (r) => uniform(r, 0.5, 4) * HOUR_MS, size: () => 0 },
  // extra noise of 5% to 15% of the daily span (σ) for six hours to a day
  noise: { duration: (r) => uniform(r, 6, 24) * HOUR_MS, size: (r, scale) => uniform(r, 0.05, 0.15) * scale },
  // a step of 20% to 50% of the daily span, until the data ends
  offset: { duration: () => Number.POSITIVE_INFINITY, size: (r, scale) => sign(r) * uniform(r, 0.2, 0.5) * scale },
};

/** PV drift is a loss of gain (soiling, a failing connector): the share of output lost per day. */
export function pvGainLossPerDay(rand: () => number): number {
  return uniform(rand, 0.3, 0.6);
}

export { DAY_MS, HOUR_MS, MINUTE_MS };

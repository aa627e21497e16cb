// A batch's readings folded by series (sensor and metric) in one pass: each series' latest
// reading, its units, and its hourly sums over the non-null values, with each reading's series.
// Both stores index from this; per reading it is two map lookups of names the batch repeats.
import { hourStart, type ReadingRow } from './types.ts';

export interface HourSums {
  n: number;
  sum: number;
  min: number;
  max: number;
}

/** One sensor and metric of a batch. */
export interface SeriesSlot {
  sensor: string;
  metric: string;
  /** the unit of its first reading */
  unit: string;
  /** the other units the same sensor and metric came in, if any */
  otherUnits: string[] | null;
  /** the last by ts, then seq */
  latest: ReadingRow;
  /** the sums of each UTC hour (its start, ms) with non-null readings */
  hours: Map<number, HourSums>;
}

export interface FoldedBatch {
  /** in the order first met */
  slots: SeriesSlot[];
  /** each reading's slot, by the reading's index */
  slotOf: SeriesSlot[];
}

/** Whether `a` comes after `b`: by ts, then seq. */
export const isLater = (a: ReadingRow, b: ReadingRow) => a.ts > b.ts || (a.ts === b.ts && a.seq > b.seq);

export function foldBySeries(rows: readonly ReadingRow[]): FoldedBatch {
  const bySensor = new Map<string, Map<string, SeriesSlot>>();
  const slots: SeriesSlot[] = [];
  const slotOf: SeriesSlot[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    let byMetric = bySensor.get(r.sensor);
    if (byMetric === undefined) bySensor.set(r.sensor, (byMetric = new Map()));
    let slot = byMetric.get(r.metric);
    if (slot === undefined) {
      slot = { sensor: r.sensor, metric: r.metric, unit: r.unit, otherUnits: null, latest: r, hours: new Map() };
      byMetric.set(r.metric, slot);
      slots.push(slot);
    } else {
      if (r.unit !== slot.unit && !slot.otherUnits?.includes(r.unit)) (slot.otherUnits ??= []).push(r.unit);
      if (isLater(r, slot.latest)) slot.latest = r;
    }
    slotOf[i] = slot;
    if (r.value !== null) addToHour(slot.hours, r.ts, r.value);
  }
  return { slots, slotOf };
}

function addToHour(hours: Map<number, HourSums>, ts: number, value: number): void {
  const hour = hourStart(ts);
  const h = hours.get(hour);
  if (h === undefined) hours.set(hour, { n: 1, sum: value, min: value, max: value });
  else {
    h.n++;
    h.sum += value;
    if (value < h.min) h.min = value;
    if (value > h.max) h.max = value;
  }
}

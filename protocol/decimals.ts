// A number as an integer mantissa and a count of decimals (v = m / 10^scale exactly): how the
// columnar body and the sink's chunks write readings compactly and without loss. Meter and sensor
// values are decimals of a few places, and their mantissas' deltas take a byte or two where a
// float takes eight. A value no scale up to MAX_DECIMALS writes exactly (or whose mantissa would
// pass the caller's limit) is written as a float by the caller.

export const MAX_DECIMALS = 9;
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/** The fewest decimals that write `v` exactly, with its mantissa; null when none up to MAX_DECIMALS does. */
export function decimal(v: number, limit = Number.MAX_SAFE_INTEGER): { scale: number; m: number } | null {
  for (let scale = 0; scale <= MAX_DECIMALS; scale++) {
    const m = Math.round(v * POW10[scale]!);
    if (!(Math.abs(m) <= limit)) return null; // larger scales only make it larger; NaN and infinities end here too
    if (m / POW10[scale]! === v) return { scale, m };
  }
  return null;
}

/**
 * The fewest decimals that write every value of a column exactly, each mantissa within `limit`
 * (a column's values share one scale); null when there is none. `valueAt` gives null for a value
 * the column does not hold (a failed read). A value exact at some scale is exact at every larger
 * one, so the scale only grows as the column is read, and the limit is checked at the scale
 * finally used.
 */
export function commonDecimals(count: number, valueAt: (k: number) => number | null, limit = Number.MAX_SAFE_INTEGER): number | null {
  let scale = 0;
  for (let k = 0; k < count; k++) {
    const v = valueAt(k);
    if (v === null) continue;
    for (;;) {
      const m = Math.round(v * POW10[scale]!);
      if (!(Math.abs(m) <= limit)) return null;
      if (m / POW10[scale]! === v) break;
      if (++scale > MAX_DECIMALS) return null;
    }
  }
  return scale;
}

/** 10^scale, for a scale of at most MAX_DECIMALS. */
export function pow10(scale: number): number {
  return POW10[scale]!;
}

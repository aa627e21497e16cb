// Energy at the period's edges: an amount that accrued over [t0, t1] (the interval between two
// readings) is shared out in proportion to time, that is by interpolating the register linearly
// between the readings. Amounts are integer milliwatt-hours and each share is the difference of a
// rounded-down cumulative share at the period's two ends, so the shares of consecutive periods add
// up exactly to the share of their union (the cumulative shares telescope), and a share is never
// more than the exact proportion (rounding down; for a charge, which is negative, that is the
// larger charge).

/** The part of `amount` (integer, accruing evenly over [t0, t1]) that falls in [from, to). */
export function share(amount: number, t0: number, t1: number, from: number, to: number): number {
  if (amount === 0 || t1 <= from || t0 >= to) return 0;
  if (t0 >= from && t1 <= to) return amount;
  return cumulative(amount, t0, t1, to) - cumulative(amount, t0, t1, from);
}

/** floor(amount * (t - t0) / (t1 - t0)), clamped to [0, amount]; exact in big integers. */
function cumulative(amount: number, t0: number, t1: number, t: number): number {
  if (t <= t0) return 0;
  if (t >= t1) return amount;
  const num = BigInt(amount) * BigInt(t - t0);
  const den = BigInt(t1 - t0);
  let q = num / den;
  if (num % den !== 0n && num < 0n) q -= 1n;
  return Number(q);
}

/** mWh as kWh, for output. */
export function kwh(mwh: number): number {
  return mwh / 1e6;
}

/** kWh as integer mWh. */
export function mwh(kwhValue: number): number {
  return Math.round(kwhValue * 1e6);
}

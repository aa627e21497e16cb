// The dominant period of a stream, from the autocorrelation of its recent history: many sensor
// signals repeat daily (or with a machine's cycle), and a forecaster that also sees the values one
// period ago can tell a missing or shrunken peak from normal behaviour. Runs at training time.

/** The autocorrelation of `history` at `lag`, normalised by the overlap (NaN when it is too short). */
export function autocorrelation(history: ArrayLike<number>, lag: number): number {
  const n = history.length;
  if (lag < 1 || n - lag < 2) return Number.NaN;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += history[i]!;
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (history[i]! - mean) ** 2;
  if (!(v > 0)) return Number.NaN;
  let s = 0;
  for (let i = lag; i < n; i++) s += (history[i]! - mean) * (history[i - lag]! - mean);
  return s / (n - lag) / (v / n);
}

const DAY_MS = 86_400_000;

/**
 * The calendar's periods (a day, a week) in steps of `stepMs`, that the history repeats with:
 * sun, occupancy, traffic and weather follow the clock, so a daily cycle need not be discovered
 * from two full cycles of history as an unknown period must; it is only confirmed, by the same
 * correlation the discovered one needs, over the one cycle and a bit that a young stream has.
 * Returns 0 when neither is confirmed.
 */
export function calendarPeriod(history: ArrayLike<number>, stepMs: number, minLag: number, maxLag: number, reach: number, minCorrelation = 0.5): number {
  if (!(stepMs > 0)) return 0;
  for (const days of [1, 7]) {
    const lag = Math.round((days * DAY_MS) / stepMs);
    if (lag < minLag || lag > maxLag || history.length < lag + reach) continue;
    if (autocorrelation(history, lag) >= minCorrelation) return lag;
  }
  return 0;
}

/**
 * The lag (in readings) of the first strong autocorrelation peak between `minLag` and a third of
 * the history, or 0 when the history shows no clear repetition.
 */
export function dominantPeriod(history: ArrayLike<number>, minLag: number, maxLag = Math.floor(history.length / 3), minCorrelation = 0.5): number {
  const n = history.length;
  const hi = Math.min(maxLag, Math.floor(n / 2));
  if (hi <= minLag + 2) return 0;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += history[i]!;
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (history[i]! - mean) ** 2;
  if (!(v > 0)) return 0;
  const acf = new Float64Array(hi + 2);
  for (let lag = minLag - 1; lag <= hi + 1; lag++) {
    let s = 0;
    for (let i = lag; i < n; i++) s += (history[i]! - mean) * (history[i - lag]! - mean);
    // normalised by the overlap, so long lags are not penalised for having fewer pairs
    acf[lag] = (s / (n - lag)) / (v / n);
  }
  let best = 0;
  for (let lag = minLag; lag <= hi; lag++) if (acf[lag]! > best) best = acf[lag]!;
  if (best < minCorrelation) return 0;
  // the first local peak close to the best one (the fundamental period, not a multiple of it),
  // after a real dip: a smooth, slowly wandering signal has high autocorrelation at every short
  // lag without repeating
  let trough = acf[minLag]!;
  for (let lag = minLag; lag <= hi; lag++) {
    const a = acf[lag]!;
    if (a < trough) trough = a;
    if (a >= 0.9 * best && a - trough >= 0.2 && a >= acf[lag - 1]! && a >= acf[lag + 1]!) return lag;
  }
  return 0;
}

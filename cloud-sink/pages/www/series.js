// The readings API's buckets as uPlot columns, for the device page's charts.

/** Steps a chart is drawn with: the smallest that keeps a range within TARGET_BUCKETS buckets. */
const TARGET_BUCKETS = 600;
const STEPS = [1000, 5000, 10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000, 6 * 3_600_000, 86_400_000];

export function chooseStep(spanMs) {
  return STEPS.find((s) => spanMs / s <= TARGET_BUCKETS) ?? STEPS[STEPS.length - 1];
}

/**
 * Columns [x in seconds, min, avg, max] from buckets [{t, min, avg, max}] in time order. The API
 * leaves out a bucket with no reading; where the next bucket is more than one step later, a null
 * point one step after the last breaks the lines, so that a gap is drawn as a gap.
 */
export function columns(points, step) {
  const xs = [], mins = [], avgs = [], maxs = [];
  let gaps = 0;
  for (let i = 0; i < points.length; i++) {
    const p = points[i];
    if (i > 0 && p.t - points[i - 1].t > step) {
      xs.push((points[i - 1].t + step) / 1000);
      mins.push(null);
      avgs.push(null);
      maxs.push(null);
      gaps++;
    }
    xs.push(p.t / 1000);
    mins.push(p.min);
    avgs.push(p.avg);
    maxs.push(p.max);
  }
  return { data: [xs, mins, avgs, maxs], gaps };
}

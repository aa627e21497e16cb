// One meter read under two sensors: two driver entries polling the same meter (over TCP and RTU,
// or a config entry copied) journal the same registers twice, and adding the two would report
// twice the meter's energy. A meter is known by its serial: where two sensors' plans in force over
// the period name the same serial and their readings overlap in time, the meter counts once in the
// device's totals, under the first sensor by name; the others keep their own section, marked. A
// sensor whose readings overlap the first's only in part is left out of the totals altogether:
// the conservative reading. A meter renamed (read under a new sensor after the old one stopped)
// counts under each name for its own time.

interface MeterSpan {
  sensor: string;
  plans: readonly { serial: string }[];
  readings: { before: { ts: number } | null; first: { ts: number } | null; last: { ts: number } | null; after: { ts: number } | null };
}

/** For each sensor that repeats an earlier sensor's meter, that earlier sensor. */
export function repeatedMeters(meters: readonly MeterSpan[]): Map<string, string> {
  const out = new Map<string, string>();
  const span = (m: MeterSpan) => {
    const lo = (m.readings.before ?? m.readings.first)?.ts;
    const hi = (m.readings.after ?? m.readings.last)?.ts;
    return lo === undefined || hi === undefined ? null : { lo, hi };
  };
  const sorted = [...meters].sort((a, b) => a.sensor.localeCompare(b.sensor));
  for (const [k, m] of sorted.entries()) {
    const s = span(m);
    if (!s) continue;
    const serials = new Set(m.plans.map((p) => p.serial));
    const earlier = sorted.slice(0, k).find((o) => {
      const t = span(o);
      return !out.has(o.sensor) && t !== null && t.lo <= s.hi && s.lo <= t.hi && o.plans.some((p) => serials.has(p.serial));
    });
    if (earlier) out.set(m.sensor, earlier.sensor);
  }
  return out;
}

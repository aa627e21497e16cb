// The Things Stack's normalized payload (what a codec's normalizeUplink returns): standard
// quantities in standard units, so that readings of one kind are named alike whoever made the
// device. Each measurement becomes readings named by the field's path in the schema
// (`air.temperature`, `soil.moisture`, `action.contactState`), in the schema's unit; the dots
// keep these names apart from the vendor's own (README, "Normalized payloads").
import { collectData, ReadingCollector, type CodecReading, type Unmapped } from './readings.ts';

/** Units of the Device Repository's normalized payload schema, in the journal's spelling. */
export const NORMALIZED_UNITS: Record<string, string> = {
  'air.temperature': 'degC',
  'air.relativeHumidity': '%',
  'air.pressure': 'hPa',
  'air.co2': 'ppm',
  'air.lightIntensity': 'lx',
  'wind.speed': 'm/s',
  'wind.direction': 'deg',
  'soil.depth': 'cm',
  'soil.moisture': '%',
  'soil.temperature': 'degC',
  'soil.ec': 'dS/m',
  'soil.pH': 'pH',
  'soil.n': 'ppm',
  'soil.p': 'ppm',
  'soil.k': 'ppm',
  'water.temperature': 'degC',
  'water.pH': 'pH',
  'metering.water.total': 'L',
  'metering.electricity.energy': 'kWh',
  'metering.electricity.power': 'W',
  'metering.electricity.voltage': 'V',
  'metering.electricity.current': 'A',
  'position.latitude': 'deg',
  'position.longitude': 'deg',
  'position.altitude': 'm',
  'battery': 'V',
  'action.motion.count': '',
};

/** How far a measurement's own time may lie from the uplink's: older is a log replayed, never this old. */
const MAX_AGE_MS = 366 * 24 * 3600 * 1000;
const MAX_AHEAD_MS = 60_000;

export interface NormalizedReadings {
  readings: CodecReading[];
  unmapped: Unmapped[];
  unmappedCount: number;
  warnings: string[];
  /** normalizeUplink's own errors: its readings are not used */
  errors: string[];
}

/** Map normalizeUplink's result (`{data, warnings, errors}`) to readings. */
export function readingsFromNormalized(normalized: unknown, recvTime: number): NormalizedReadings {
  const out: NormalizedReadings = { readings: [], unmapped: [], unmappedCount: 0, warnings: [], errors: [] };
  if (normalized === null || typeof normalized !== 'object') return out;
  const r = normalized as { data?: unknown; warnings?: unknown; errors?: unknown };
  out.warnings = textList(r.warnings);
  out.errors = textList(r.errors);
  if (out.errors.length > 0 || r.data === undefined || r.data === null) return out;
  const measurements = Array.isArray(r.data) ? r.data : [r.data];
  // Several measurements of one time (several probes) are told apart as channels 1, 2, ...
  const times = measurements.map((m) => (m !== null && typeof m === 'object' && typeof (m as { time?: unknown }).time === 'string' ? (m as { time: string }).time : ''));
  const shared = new Set(times.filter((t, i) => times.indexOf(t) !== i));
  measurements.forEach((m, i) => {
    if (m === null || typeof m !== 'object' || Array.isArray(m)) {
      out.unmappedCount++;
      if (out.unmapped.length < 16) out.unmapped.push({ path: `normalized.${i}`, reason: 'not_a_value' });
      return;
    }
    const { time, ...fields } = m as Record<string, unknown>;
    let ts: number | undefined;
    if (typeof time === 'string') {
      const t = Date.parse(time);
      if (Number.isFinite(t) && t <= recvTime + MAX_AHEAD_MS && t >= recvTime - MAX_AGE_MS) ts = t;
      else {
        out.unmappedCount++;
        if (out.unmapped.length < 16) out.unmapped.push({ path: `normalized.${i}.time`, reason: 'bad_time' });
      }
    }
    const channel = measurements.length > 1 && shared.has(times[i]!) ? i + 1 : undefined;
    const c = new ReadingCollector({ ...(channel !== undefined ? { channel } : {}), ...(ts !== undefined ? { ts } : {}) });
    collectNormalized(c, fields, '', 0);
    out.readings.push(...c.readings);
    out.unmapped.push(...c.unmapped.slice(0, Math.max(0, 16 - out.unmapped.length)));
    out.unmappedCount += c.unmappedCount;
  });
  return out;
}

/** Schema paths joined with dots, each leaf in the schema's unit. */
function collectNormalized(c: ReadingCollector, value: unknown, path: string, depth: number): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && depth < 4) {
    for (const [k, v] of Object.entries(value)) {
      const key = k.replace(/[^A-Za-z0-9_-]+/g, '_');
      collectNormalized(c, v, path === '' ? key : `${path}.${key}`, depth + 1);
    }
    return;
  }
  if (Array.isArray(value) || (typeof value === 'object' && value !== null)) return collectData(c, value, path.replace(/\./g, '_'), depth);
  c.add(path, value, NORMALIZED_UNITS[path] ?? '', path);
}

function textList(v: unknown): string[] {
  return Array.isArray(v) ? v.slice(0, 16).map((w) => String(w).slice(0, 200)) : [];
}

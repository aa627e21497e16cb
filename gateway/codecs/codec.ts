// What a payload codec is to the gateway: bytes and port in, named numeric values out. Cayenne LPP
// is built in (cayenne-lpp.ts); vendors' decodeUplink(input) scripts run through js-codec.ts. Both are asked for a
// whole batch of uplinks at once, so that the per-call overhead of an isolated context is paid
// once per batch rather than once per uplink.
import { isValidName } from '../../protocol/records.ts';

export interface UplinkInput {
  bytes: Uint8Array;
  fPort: number;
  /** ms since the epoch */
  recvTime: number;
}

export interface CodecReading {
  /** becomes the sensor suffix: `<device>-<channel>` */
  channel?: number | string;
  metric: string;
  unit: string;
  value: number | null;
}

export type CodecOutcome =
  | { ok: true; readings: CodecReading[]; warnings: string[] }
  | { ok: false; reason: 'threw' | 'timeout' | 'bad_output' | 'codec_errors' | 'disabled'; error: string };

export interface Codec {
  readonly name: string;
  decodeBatch(inputs: readonly UplinkInput[]): CodecOutcome[];
}

/** Units guessed from the suffix of a decodeUplink output key (temperature_c, co2_ppm); a bare key gets no unit. */
const UNIT_SUFFIXES: [RegExp, string][] = [
  [/_(?:c|celsius|degc)$/i, 'degC'],
  [/_fahrenheit$/i, 'degF'],
  [/(?:^|_)(?:pct|percent|rh)$/i, '%'],
  [/(?:^|_)ppm$/i, 'ppm'],
  [/(?:^|_)ppb$/i, 'ppb'],
  [/(?:^|_)hpa$/i, 'hPa'],
  [/(?:^|_)pa$/i, 'Pa'],
  [/(?:^|_)(?:mv)$/i, 'mV'],
  [/_(?:v|volt|volts)$/i, 'V'],
  [/_amps?$/i, 'A'],
  [/_watts?$/i, 'W'],
  [/_(?:metres|meters)$/i, 'm'],
  [/(?:^|_)ma$/i, 'mA'],
  [/(?:^|_)kwh$/i, 'kWh'],
  [/(?:^|_)wh$/i, 'Wh'],
  [/(?:^|_)kw$/i, 'kW'],
  [/(?:^|_)lux$/i, 'lx'],
  [/(?:^|_)dbm$/i, 'dBm'],
  [/(?:^|_)mm$/i, 'mm'],
];

function unitFor(metric: string): string {
  for (const [re, unit] of UNIT_SUFFIXES) if (re.test(metric)) return unit;
  return '';
}

/** Most readings one uplink may yield: a codec that returns a huge object is a bug, not data. */
export const MAX_READINGS_PER_UPLINK = 64;

/**
 * Turn a decodeUplink result (`{data, warnings, errors}`, as ChirpStack v4 and The Things Stack define
 * it) into readings: every numeric or boolean leaf of `data` becomes one, named by its key path.
 */
export function readingsFromDecoded(result: unknown): CodecOutcome {
  if (typeof result !== 'object' || result === null || Array.isArray(result)) return { ok: false, reason: 'bad_output', error: 'decodeUplink did not return an object' };
  const r = result as { data?: unknown; warnings?: unknown; errors?: unknown };
  const warnings = Array.isArray(r.warnings) ? r.warnings.map(String) : [];
  if (Array.isArray(r.errors) && r.errors.length > 0) return { ok: false, reason: 'codec_errors', error: r.errors.map(String).join('; ').slice(0, 300) };
  if (typeof r.data !== 'object' || r.data === null) return { ok: false, reason: 'bad_output', error: 'decodeUplink returned no data object' };
  const readings: CodecReading[] = [];
  const walk = (value: unknown, path: string, depth: number): void => {
    if (readings.length >= MAX_READINGS_PER_UPLINK) return;
    if (typeof value === 'number') {
      if (!isValidName(path)) warnings.push(`skipped ${JSON.stringify(path)}: not a usable metric name`);
      else readings.push({ metric: path, unit: unitFor(path), value: Number.isFinite(value) ? value : null });
    } else if (typeof value === 'boolean') {
      if (isValidName(path)) readings.push({ metric: path, unit: '', value: value ? 1 : 0 });
    } else if (typeof value === 'object' && value !== null && depth < 4) {
      const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
      for (const [k, v] of entries) walk(v, path ? `${path}_${k.replace(/[^A-Za-z0-9._:-]/g, '_')}` : k.replace(/[^A-Za-z0-9._:-]/g, '_'), depth + 1);
    }
    // strings (status words, firmware versions) are not measurements and are left out
  };
  walk(r.data, '', 0);
  if (readings.length >= MAX_READINGS_PER_UPLINK) warnings.push(`kept the first ${MAX_READINGS_PER_UPLINK} values`);
  return { ok: true, readings, warnings };
}

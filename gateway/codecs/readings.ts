// From what a codec's decodeUplink returned (its `data`) to readings, keeping everything: the rules
// are in codecs/README.md ("Readings"). In short: numbers and numeric text are values; true/false
// are 1/0; `{value, unit}` objects use their unit; other text is kept as the reading's `state`;
// array elements that carry a measurement id are named by it; null is a reading without a value.
// What cannot become a reading (a name that is no name, text too long, nesting too deep, too
// many values) is listed as unmapped, never dropped without a word.
import { isValidName } from '../../protocol/records.ts';
import { isKnownUnit, normalizeUnit, unitFromName } from './units.ts';

export interface CodecReading {
  /** becomes the sensor suffix: `<device>-<channel>` */
  channel?: number | string;
  metric: string;
  unit: string;
  value: number | null;
  /** the codec's text for this value, when it said more than a number (LEAK, "2.3(low battery)") */
  state?: string;
  /** ms since the epoch, when the codec gave the measurement's own time */
  ts?: number;
  flags?: string[];
}

export interface Unmapped {
  path: string;
  reason: 'bad_name' | 'text_too_long' | 'too_deep' | 'too_many' | 'bad_time' | 'not_a_value';
}

/** Most readings one uplink may yield: a codec that returns a huge object is a bug, not data. */
export const MAX_READINGS_PER_UPLINK = 64;
/** Longest text kept as a state, in UTF-16 units. */
export const MAX_STATE_CHARS = 128;
/** Deepest nesting of `data` followed. */
export const MAX_DEPTH = 6;
/** Unmapped entries listed per uplink (the count is always exact). */
export const MAX_UNMAPPED_LISTED = 16;

/** Keys that name an array element (SenseCAP's measurementId, channel numbers, ...), in order of preference. */
const ID_KEYS = ['measurementId', 'measurement_id', 'measurementID', 'channelId', 'channel_id', 'channel', 'sensorId', 'sensor_id', 'id'];
/** Keys holding the value of an element or a `{value, unit}` object. */
const VALUE_KEYS = ['value', 'measurementValue', 'measurement_value', 'val'];
/** Descriptions beside a value, which are labels, not measurements. */
const LABEL_KEYS = new Set(['displayName', 'display_name', 'name', 'label', 'description', 'type', 'unit', 'units']);

const NUMBER = /^\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?/;

export class ReadingCollector {
  readonly readings: CodecReading[] = [];
  readonly unmapped: Unmapped[] = [];
  unmappedCount = 0;

  private readonly defaults: { channel?: number | string; ts?: number };

  constructor(defaults: { channel?: number | string; ts?: number } = {}) {
    this.defaults = defaults;
  }

  get full(): boolean {
    return this.readings.length >= MAX_READINGS_PER_UPLINK;
  }

  skip(path: string, reason: Unmapped['reason']): void {
    this.unmappedCount++;
    if (this.unmapped.length < MAX_UNMAPPED_LISTED) this.unmapped.push({ path: path.slice(0, 160), reason });
  }

  /** One value under a metric name; `unit` is what the codec stated, if anything. */
  add(metric: string, raw: unknown, statedUnit: string | undefined, path = metric): void {
    if (!isValidName(metric)) return this.skip(path, 'bad_name');
    if (this.full) return this.skip(path, 'too_many');
    const base = { ...(this.defaults.channel !== undefined ? { channel: this.defaults.channel } : {}), ...(this.defaults.ts !== undefined ? { ts: this.defaults.ts } : {}) };
    const unit = statedUnit !== undefined && normalizeUnit(statedUnit) !== '' ? normalizeUnit(statedUnit) : unitFromName(metric);
    if (typeof raw === 'number') {
      this.readings.push({ ...base, metric, unit, value: Number.isFinite(raw) ? raw : null, ...(Number.isFinite(raw) ? {} : { flags: ['codec_null'] }) });
    } else if (typeof raw === 'boolean') {
      this.readings.push({ ...base, metric, unit: statedUnit !== undefined ? normalizeUnit(statedUnit) : '', value: raw ? 1 : 0 });
    } else if (raw === null) {
      this.readings.push({ ...base, metric, unit, value: null, flags: ['codec_null'] });
    } else if (typeof raw === 'string') {
      const text = fromText(raw);
      if (text === null) return this.skip(path, 'text_too_long');
      this.readings.push({ ...base, metric, unit: text.unit !== '' ? text.unit : text.value === null ? (statedUnit !== undefined ? normalizeUnit(statedUnit) : '') : unit, value: text.value, ...(text.state !== undefined ? { state: text.state } : {}) });
    } else this.skip(path, 'not_a_value');
  }
}

/**
 * Text from a codec: "24.59" is the number; "21.5 °C" a number and its unit; "2.3(low battery)"
 * the number, with the whole text kept as the state; anything else ("LEAK") only a state.
 * Null when the text is too long to keep.
 */
export function fromText(raw: string): { value: number | null; unit: string; state?: string } | null {
  const s = raw.trim();
  if (s.length > MAX_STATE_CHARS) return null;
  const m = NUMBER.exec(s);
  if (m) {
    const value = Number(m[0]);
    const rest = s.slice(m[0].length).trim();
    if (Number.isFinite(value)) {
      if (rest === '') return { value, unit: '' };
      if (isKnownUnit(rest)) return { value, unit: normalizeUnit(rest) };
      // "2.3(low battery)", "12 steps"; not "0x1F", "2024-01-01", "12:30" or "1.2.3", which are text
      if (/^[\s([]/.test(rest)) return { value, unit: '', state: s };
    }
  }
  return { value: null, unit: '', state: s };
}

/** A key as part of a metric name: letters, digits, `_`, `-` and `:` (dots belong to normalized names). */
export function namepart(key: string): string {
  return key.replace(/[^A-Za-z0-9:-]+/g, '_').replace(/^_+|_+$/g, '');
}

/** A key appended to a name; '' when the key has nothing a name can hold. */
function join(path: string, key: string): string {
  const k = namepart(key);
  return k === '' ? '' : path === '' ? k : `${path}_${k}`;
}

function isPrimitive(v: unknown): v is string | number | boolean | null {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/** The key holding an element's id or value, if it has one. */
function firstKey(o: Record<string, unknown>, keys: readonly string[], accept: (v: unknown) => boolean): string | undefined {
  for (const k of keys) if (Object.hasOwn(o, k) && accept(o[k])) return k;
  return undefined;
}

/** Walk decoded `data` into the collector. */
export function collectData(c: ReadingCollector, value: unknown, path: string, depth: number): void {
  if (isPrimitive(value)) {
    if (path === '') return c.skip('(data)', 'not_a_value');
    return c.add(path, value, undefined);
  }
  if (typeof value !== 'object' || value === null) return;
  if (depth >= MAX_DEPTH) return c.skip(path, 'too_deep');
  if (Array.isArray(value)) return collectArray(c, value, path, depth);
  const o = value as Record<string, unknown>;
  const valueKey = path === '' ? undefined : firstKey(o, VALUE_KEYS, isPrimitive);
  if (valueKey !== undefined) {
    // {value, unit} (decentlab and others): one reading, in the stated unit; labels beside it are
    // descriptions, anything else is walked as a value of its own.
    const unit = typeof o.unit === 'string' ? o.unit : typeof o.units === 'string' ? o.units : undefined;
    c.add(path, o[valueKey], unit, path);
    for (const [k, v] of Object.entries(o)) {
      if (k === valueKey || LABEL_KEYS.has(k)) continue;
      const p = join(path, k);
      if (p === '') c.skip(`${path}.${k}`, 'bad_name');
      else collectData(c, v, p, depth + 1);
    }
    return;
  }
  for (const [k, v] of Object.entries(o)) {
    const p = join(path, k);
    if (p === '') c.skip(path === '' ? k : `${path}.${k}`, 'bad_name');
    else collectData(c, v, p, depth + 1);
  }
}

/**
 * Array elements that carry an id are named by it (`messages_4097`), so a value keeps its name
 * whatever its position; nested arrays of such elements are flattened; other elements are named
 * by position.
 */
function collectArray(c: ReadingCollector, items: unknown[], path: string, depth: number): void {
  items.forEach((item, i) => {
    if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
      const o = item as Record<string, unknown>;
      const idKey = firstKey(o, ID_KEYS, (v) => (typeof v === 'string' && v !== '') || typeof v === 'number');
      if (idKey !== undefined) {
        const named = join(path, String(o[idKey])) || path;
        const rest: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(o)) if (k !== idKey) rest[k] = v;
        return collectData(c, rest, named, depth + 1);
      }
    }
    if (Array.isArray(item) && item.some((e) => e !== null && typeof e === 'object' && !Array.isArray(e))) return collectArray(c, item, path, depth + 1);
    collectData(c, item, join(path, String(i)), depth + 1);
  });
}

// Units of codec values. A unit the codec states (`{value, unit}`, "24.5 °C") is kept, spelled the
// way the rest of the journal spells it when it is a common one (°C -> degC, %RH -> %); one it
// does not state is guessed only from an explicit unit token at the end of the value's name
// (temperature_c, BatV, co2_ppm), never from the quantity's name alone (`temperature` may be °F).

/** Common spellings of units in vendors' codecs, to the journal's spelling. */
const ALIASES: Record<string, string> = {
  '°c': 'degC', '℃': 'degC', 'degc': 'degC', 'deg c': 'degC', 'c': 'degC', 'celsius': 'degC', 'cel': 'degC',
  '°f': 'degF', '℉': 'degF', 'degf': 'degF', 'fahrenheit': 'degF',
  'k': 'K', 'kelvin': 'K',
  '%': '%', 'pct': '%', 'percent': '%', '%rh': '%', 'rh': '%', '% rh': '%',
  'ppm': 'ppm', 'ppb': 'ppb',
  'pa': 'Pa', 'hpa': 'hPa', 'kpa': 'kPa', 'mbar': 'hPa', 'bar': 'bar',
  'v': 'V', 'volt': 'V', 'volts': 'V', 'mv': 'mV',
  'a': 'A', 'ma': 'mA', 'w': 'W', 'kw': 'kW', 'wh': 'Wh', 'kwh': 'kWh', 'va': 'VA', 'var': 'var', 'hz': 'Hz',
  'lx': 'lx', 'lux': 'lx',
  'm': 'm', 'cm': 'cm', 'mm': 'mm', 'km': 'km',
  'm/s': 'm/s', 'km/h': 'km/h',
  'l': 'L', 'm3': 'm3', 'm³': 'm3',
  's': 's', 'ms': 'ms', 'min': 'min', 'h': 'h',
  'db': 'dB', 'dbm': 'dBm', 'dba': 'dBA',
  'g': 'g', 'mg/m3': 'mg/m3', 'µg/m3': 'ug/m3', 'ug/m3': 'ug/m3', 'μg/m3': 'ug/m3', 'µg/m³': 'ug/m3',
  '°': 'deg', 'deg': 'deg', 'us/cm': 'uS/cm', 'µs/cm': 'uS/cm', 'ms/cm': 'mS/cm',
  'w/m2': 'W/m2', 'w/m²': 'W/m2', 'ph': 'pH', 'mm/h': 'mm/h',
};

/** Longest unit text kept; longer is not a unit. */
const MAX_UNIT = 24;

/** A unit as the codec stated it, in the journal's spelling when it is a common one. */
export function normalizeUnit(unit: string): string {
  const u = unit.trim();
  if (u.length === 0 || u.length > MAX_UNIT) return '';
  return ALIASES[u.toLowerCase()] ?? u;
}

/** Whether text is a unit this module knows (for "21.5 °C" strings, which are a value and a unit). */
export function isKnownUnit(text: string): boolean {
  return ALIASES[text.trim().toLowerCase()] !== undefined;
}

/**
 * Unit tokens recognised at the end of a value's name, after `_` or a lowercase letter (TempC,
 * BatV). Single letters only count after an underscore or in those camel-case forms.
 */
const NAME_SUFFIXES: [RegExp, string][] = [
  [/(?:_(?:c|C|celsius|degc|degC)|[a-z]C)$/, 'degC'],
  [/_(?:f|fahrenheit|degf)$/i, 'degF'],
  [/(?:^|_)(?:pct|percent|rh)$/i, '%'],
  [/(?:^|_)ppm$/i, 'ppm'],
  [/(?:^|_)ppb$/i, 'ppb'],
  [/(?:^|_)hpa$/i, 'hPa'],
  [/(?:^|_)kpa$/i, 'kPa'],
  [/(?:^|_)pa$/i, 'Pa'],
  [/(?:^|_)mv$/i, 'mV'],
  [/(?:_(?:v|V|volt|volts)|[a-z]V)$/, 'V'],
  [/(?:^|_)ma$/i, 'mA'],
  [/_(?:a|amps?)$/i, 'A'],
  [/_(?:w|watts?)$/i, 'W'],
  [/(?:^|_)kwh$/i, 'kWh'],
  [/(?:^|_)wh$/i, 'Wh'],
  [/(?:^|_)kw$/i, 'kW'],
  [/(?:^|_)(?:lux|lx)$/i, 'lx'],
  [/(?:^|_)dbm$/i, 'dBm'],
  [/(?:^|_)mm$/i, 'mm'],
  [/(?:^|_)cm$/i, 'cm'],
  [/_(?:m|metres|meters)$/i, 'm'],
  [/(?:^|_)hz$/i, 'Hz'],
];

/** The unit a value's name states at its end (temperature_c, BatV, ILL_lx), or ''. */
export function unitFromName(name: string): string {
  // `TempC_SHT`: the unit sits before a sensor tag; look at the last two parts of the name.
  const parts = name.split('_');
  const candidates = parts.length > 1 ? [name, parts.slice(0, -1).join('_')] : [name];
  for (const c of candidates) {
    const bare = c.replace(/_?\d+$/, ''); // temperature_c_1, TempC2
    for (const [re, unit] of NAME_SUFFIXES) if (re.test(bare)) return unit;
  }
  return '';
}

// Reading data in the layout of the Numenta Anomaly Benchmark: `data/<category>/<file>.csv` with a
// `timestamp,value` header, and a labels file mapping `<category>/<file>.csv` to anomaly windows
// given as [start, end] timestamp strings.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { UserError } from '../../kernel/user-error.ts';

export interface NabSeries {
  /** `<category>/<file>.csv`, the key used by the labels file */
  name: string;
  timestamps: number[];
  values: number[];
}

export type NabWindows = Record<string, [number, number][]>;

/** NAB timestamps are UTC without a zone: `2014-07-01 00:00:00`, labels add `.000000`. */
export function parseNabTimestamp(s: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$/.exec(s.trim());
  if (!m) return Number.NaN;
  const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, ms);
}

/** A two-column CSV (timestamp and one number column). Bad lines are errors naming the line. */
export function parseNabCsv(name: string, text: string, column = 'value'): NabSeries {
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? '').split(',').map((h) => h.trim());
  const ti = header.indexOf('timestamp');
  const vi = header.indexOf(column);
  if (ti < 0 || vi < 0) throw new UserError(`${name}: header must name timestamp and ${column}, got ${JSON.stringify(lines[0] ?? '')}`);
  const timestamps: number[] = [];
  const values: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const cells = line.split(',');
    const ts = parseNabTimestamp(cells[ti] ?? '');
    const v = Number(cells[vi]);
    if (!Number.isFinite(ts)) throw new UserError(`${name}:${i + 1}: bad timestamp ${JSON.stringify(cells[ti])}`);
    if (!Number.isFinite(v) || cells[vi]!.trim() === '') throw new UserError(`${name}:${i + 1}: ${column} is not a number: ${JSON.stringify(cells[vi])}`);
    timestamps.push(ts);
    values.push(v);
  }
  return { name, timestamps, values };
}

/** Every CSV under dir, named `<category>/<file>.csv` relative to dir, sorted by name. */
export function listNabFiles(dir: string): { name: string; path: string }[] {
  let top: string[];
  try {
    top = readdirSync(dir);
  } catch (err) {
    throw new UserError(`cannot read data directory ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const out: { name: string; path: string }[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d).sort()) {
      const p = join(d, entry);
      if (statSync(p).isDirectory()) walk(p);
      else if (entry.endsWith('.csv')) out.push({ name: relative(dir, p).split(sep).join('/'), path: p });
    }
  };
  if (top.length === 0) throw new UserError(`data directory ${dir} is empty`);
  walk(dir);
  if (out.length === 0) throw new UserError(`no .csv files under ${dir}`);
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function readNabSeries(path: string, name: string, column = 'value'): NabSeries {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parseNabCsv(name, text, column);
}

/** `combined_windows.json`: `{"<category>/<file>.csv": [["start", "end"], ...]}`. */
export function readNabWindows(file: string): NabWindows {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UserError(`cannot read labels ${file}: ${e.code ?? e.message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UserError(`labels ${file}: expected an object of file name to windows`);
  const out: NabWindows = {};
  for (const [name, windows] of Object.entries(raw)) {
    if (!Array.isArray(windows)) throw new UserError(`labels ${file}: ${name}: expected a list of [start, end] windows`);
    out[name] = windows.map((w, i) => {
      const a = Array.isArray(w) && w.length === 2 ? parseNabTimestamp(String(w[0])) : Number.NaN;
      const b = Array.isArray(w) && w.length === 2 ? parseNabTimestamp(String(w[1])) : Number.NaN;
      if (!Number.isFinite(a) || !Number.isFinite(b) || b < a) throw new UserError(`labels ${file}: ${name}: window ${i} is not a [start, end] pair of timestamps`);
      return [a, b] as [number, number];
    });
  }
  return out;
}

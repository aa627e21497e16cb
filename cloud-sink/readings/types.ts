// The readings the sink serves as time series: every accepted `reading` record, by device, sensor,
// metric and time, kept beside the batches in the same store: by LevelDB in the write that accepts
// the batch, by PostgreSQL just after it (pg-indexer.ts; a query waits for what its process
// accepted). A batch is indexed once, and a duplicate adds nothing. Gap records are not readings:
// a client draws a gap where buckets are missing.
import { isValidName } from '../../protocol/records.ts';

/** One reading as the readings index holds it. */
export interface ReadingRow {
  sensor: string;
  metric: string;
  ts: number;
  value: number | null;
  unit: string;
  score: number;
  flags: string[];
  seq: number;
}

export interface SeriesQuery {
  device: string;
  sensor: string;
  metric: string;
  /** [from, to) in ms; buckets start at from + k * step */
  from: number;
  to: number;
  step: number;
}

export interface Bucket {
  /** the bucket's start, ms */
  t: number;
  min: number;
  avg: number;
  max: number;
  n: number;
}

export interface SeriesAnswer {
  /** the unit of the series' latest reading; null when the series is unknown */
  unit: string | null;
  points: Bucket[];
}

export interface LatestReading {
  sensor: string;
  metric: string;
  unit: string;
  ts: number;
  value: number | null;
  quality: { score: number; flags: string[] };
}

export interface ReadingsIndex {
  /** min/avg/max/n per step over the non-null readings of one series; empty buckets left out */
  series(q: SeriesQuery): Promise<SeriesAnswer>;
  /** the latest reading of each sensor and metric of a device, by sensor then metric, at most `limit` */
  latest(device: string, limit: number): Promise<LatestReading[]>;
}

/**
 * Timestamps the index holds: 1970 on (a device with an unset clock says 1970; before that is no
 * clock at all) and below 2^53 ms, which PostgreSQL's timestamptz and the LevelDB keys both hold.
 * A reading outside stays in its batch, provable, but is not a point of any series.
 */
export function indexableTs(ts: number): boolean {
  return Number.isSafeInteger(ts) && ts >= 0;
}

/**
 * The readings of a batch's canonical lines that the index holds: readings whose sensor and metric
 * are names the API can ask for (protocol/names.ts), with a timestamp it can hold. For batches the
 * store holds already (a fill-in); a batch being accepted brings its readings as decoded.
 */
export function readingRows(text: string): ReadingRow[] {
  return text === '' ? [] : readingRowsOfLines(text.split('\n'));
}

/** readingRows of the lines already split (as a store's batches() gives them). */
export function readingRowsOfLines(lines: readonly string[]): ReadingRow[] {
  const records: Record<string, unknown>[] = [];
  // the canonical line of a reading has "kind":"reading" among its first fields; others are skipped unparsed
  for (const line of lines) if (line.includes('"kind":"reading"')) records.push(JSON.parse(line) as Record<string, unknown>);
  return rowsOfRecords(records);
}

/** The readings among checked record objects (protocol/records.ts recordProblem), as the index holds them. */
export function rowsOfRecords(records: readonly Record<string, unknown>[]): ReadingRow[] {
  const out: ReadingRow[] = [];
  for (const r of records) {
    if (r.kind !== 'reading' || !isValidName(r.sensor) || !isValidName(r.metric) || !indexableTs(r.ts as number)) continue;
    const q = r.quality as { score?: unknown; flags?: unknown } | undefined;
    out.push({
      sensor: r.sensor, metric: r.metric, ts: r.ts as number, value: typeof r.value === 'number' ? r.value : null, unit: String(r.unit),
      score: typeof q?.score === 'number' ? q.score : 0, flags: Array.isArray(q?.flags) ? q.flags.map(String) : [], seq: r.seq as number,
    });
  }
  return out;
}

/**
 * The readings the index holds among readings decoded on arrival: the same test as readingRows,
 * each name tested once per batch (a batch repeats a few names many times).
 */
export function indexableRows(rows: readonly ReadingRow[]): ReadingRow[] {
  const names = new Map<string, boolean>();
  const named = (s: string) => {
    let ok = names.get(s);
    if (ok === undefined) names.set(s, (ok = isValidName(s)));
    return ok;
  };
  return rows.filter((r) => indexableTs(r.ts) && named(r.sensor) && named(r.metric));
}

export const HOUR_MS = 3600_000;

/** The start of the UTC hour `ts` falls in: what hourly sums and LevelDB's chunks are keyed by. */
export function hourStart(ts: number): number {
  return Math.floor(ts / HOUR_MS) * HOUR_MS;
}

/**
 * Whether a series query can read hourly sums: its buckets are made of whole UTC hours. Up to
 * `hourlyUntil` it does; the part of the last hour before `to` is read reading by reading.
 */
export function hourlyPlan(q: SeriesQuery): { hourlyUntil: number } | null {
  if (q.from % HOUR_MS !== 0 || q.step % HOUR_MS !== 0) return null;
  return { hourlyUntil: hourStart(q.to) };
}

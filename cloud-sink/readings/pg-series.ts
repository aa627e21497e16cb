// The series catalogue (readings_series, migration 007): each (device, sensor, metric, unit) under
// an integer id, which is what a row of readings_data names. Ids are remembered in the process, so
// a batch of known series asks the database nothing; a new series is added in a statement of its
// own, committed at once and outside the transaction storing the batch, so that the id it gets is
// there whatever becomes of that batch (an id without readings names nothing in the view), and two
// sink processes adding the same series meet on the unique key and read the same id.
import type pg from 'pg';

/** The most ids remembered; beyond, the memory starts again (and fills from the database as asked). */
const MAX_REMEMBERED = 100_000;

export interface SeriesKey {
  sensor: string;
  metric: string;
  unit: string;
}

export class SeriesCatalogue {
  /** device → sensor → metric → unit → id */
  private readonly known = new Map<string, Map<string, Map<string, Map<string, number>>>>();
  private remembered = 0;

  private readonly db: () => pg.Pool;

  constructor(db: () => pg.Pool) {
    this.db = db;
  }

  /** The ids of these series of a device, in their order: one lookup for any not yet known. */
  async ids(device: string, series: readonly SeriesKey[]): Promise<number[]> {
    const ids = series.map((s) => this.known.get(device)?.get(s.sensor)?.get(s.metric)?.get(s.unit));
    const missing = series.filter((_, i) => ids[i] === undefined);
    if (missing.length === 0) return ids as number[];
    const params = [device, missing.map((s) => s.sensor), missing.map((s) => s.metric), missing.map((s) => s.unit)];
    await this.db().query(
      `INSERT INTO readings_series (device, sensor, metric, unit) SELECT $1, s, m, u FROM unnest($2::text[], $3::text[], $4::text[]) AS x(s, m, u)
       ON CONFLICT DO NOTHING`, params);
    const { rows } = await this.db().query<{ id: number; sensor: string; metric: string; unit: string }>(
      `SELECT id, sensor, metric, unit FROM readings_series
       WHERE device = $1 AND (sensor, metric, unit) IN (SELECT * FROM unnest($2::text[], $3::text[], $4::text[]))`, params);
    if (this.remembered + rows.length > MAX_REMEMBERED) {
      this.known.clear();
      this.remembered = 0;
    }
    for (const r of rows) this.remember(device, r, r.id);
    return series.map((s, i) => {
      const id = ids[i] ?? this.known.get(device)?.get(s.sensor)?.get(s.metric)?.get(s.unit);
      if (id === undefined) throw new Error(`series ${device}/${s.sensor}/${s.metric} (${s.unit}) has no id after it was added`);
      return id;
    });
  }

  private remember(device: string, s: SeriesKey, id: number): void {
    const bySensor = getOrSet(this.known, device, () => new Map());
    const byMetric = getOrSet(bySensor, s.sensor, () => new Map());
    const byUnit = getOrSet(byMetric, s.metric, () => new Map<string, number>());
    if (!byUnit.has(s.unit)) this.remembered++;
    byUnit.set(s.unit, id);
  }
}

function getOrSet<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) map.set(key, (v = make()));
  return v;
}

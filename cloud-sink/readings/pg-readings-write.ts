// Writing accepted batches' readings into PostgreSQL, on the client of the transaction that takes
// their readings_pending entries out (pg-indexer.ts): once for the batches accepted meanwhile, not
// once per batch. The readings go in one binary COPY into readings_data (pg-copy.ts), each naming
// its series by id (pg-series.ts); each series' latest reading and each batch's hourly sums per
// series go in one more statement. Per reading the work is a few map lookups and 60-odd bytes
// written, where it was a JSON line parsed again, eight text arrays printed by the driver and
// parsed by the server, and a six-column unique key with three text columns checked and inserted.
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { ReadingsCopyWriter, COPY_COLUMNS } from './pg-copy.ts';
import type { SeriesCatalogue, SeriesKey } from './pg-series.ts';
import { foldBySeries, isLater, type SeriesSlot } from './fold.ts';
import type { ReadingRow } from './types.ts';

/** One accepted batch's readings, as the index holds them. */
export interface BatchReadings {
  device: string;
  epoch: number;
  batch: number;
  rows: readonly ReadingRow[];
}

/** ms since the epoch as timestamptz, exactly (a float division would round) */
const MS = (p: string) => `(timestamptz 'epoch' + ${p}::bigint * interval '1 millisecond')`;

const HOURLY_COLUMNS = 10;

/**
 * The latest reading of each series moved forward (only ever to a later ts, or a later seq at the
 * same ts), and the hourly sums added: $1..$9 the latest rows, $10..$19 the sums.
 */
const LATEST_AND_HOURLY_SQL = `
WITH latest AS (
  INSERT INTO readings_latest AS l (device, sensor, metric, ts, value, unit, quality, flags, seq)
  SELECT d, s, m, ${MS('t')}, v, u, q, f::text[], n
  FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::float8[], $6::text[], $7::float8[], $8::text[], $9::bigint[]) AS x(d, s, m, t, v, u, q, f, n)
  ON CONFLICT (device, sensor, metric) DO UPDATE
    SET ts = excluded.ts, value = excluded.value, unit = excluded.unit, quality = excluded.quality, flags = excluded.flags, seq = excluded.seq
    WHERE (l.ts, l.seq) < (excluded.ts, excluded.seq)
  RETURNING 1)
INSERT INTO readings_hourly (device, sensor, metric, hour, batch, epoch, n, sum, min, max)
SELECT d, s, m, ${MS('h')}, b, e, n, su, mi, ma
FROM unnest($10::text[], $11::text[], $12::text[], $13::bigint[], $14::bigint[], $15::int[], $16::int[], $17::float8[], $18::float8[], $19::float8[])
  AS x(d, s, m, h, b, e, n, su, mi, ma)
ON CONFLICT DO NOTHING`;

/** A PostgreSQL array literal of text elements: quality flags are free strings. */
function textArray(items: readonly string[]): string {
  return items.length === 0 ? '{}' : `{${items.map((s) => `"${s.replace(/[\\"]/g, '\\$&')}"`).join(',')}}`;
}

export class PgReadingsWriter {
  private readonly catalogue: SeriesCatalogue;

  constructor(catalogue: SeriesCatalogue) {
    this.catalogue = catalogue;
  }

  /** Write the readings of these batches on `c`, a client in a transaction. */
  async store(c: pg.PoolClient, batches: readonly BatchReadings[]): Promise<void> {
    const copy = new ReadingsCopyWriter();
    const latest = new Map<string, { device: string; slot: SeriesSlot }>();
    const hourly: unknown[][] = Array.from({ length: HOURLY_COLUMNS }, () => []);
    let rows = 0;
    for (const b of batches) {
      if (b.rows.length === 0) continue;
      const { slots, slotOf } = foldBySeries(b.rows);
      const ids = await this.seriesIds(b.device, slots);
      b.rows.forEach((r, i) => {
        const slot = slotOf[i]!;
        copy.row(r.unit === slot.unit ? ids.get(slot)! : ids.get(`${slot.sensor}\n${slot.metric}\n${r.unit}`)!, b.epoch, b.batch, r);
      });
      rows += b.rows.length;
      for (const slot of slots) {
        const key = `${b.device}\n${slot.sensor}\n${slot.metric}`;
        const held = latest.get(key);
        if (!held || isLater(slot.latest, held.slot.latest)) latest.set(key, { device: b.device, slot });
        for (const [hour, h] of slot.hours) {
          [b.device, slot.sensor, slot.metric, hour, b.batch, b.epoch, h.n, h.sum, h.min, h.max].forEach((v, k) => hourly[k]!.push(v));
        }
      }
    }
    if (rows === 0) return;
    await copyInto(c, copy.finish());
    const l = [...latest.values()].map((x) => ({ device: x.device, r: x.slot.latest }));
    // a named statement: parsed and planned once per connection, not once per group
    await c.query({
      name: 'fieldproof_readings_latest_hourly', text: LATEST_AND_HOURLY_SQL, values: [
        l.map((x) => x.device), l.map((x) => x.r.sensor), l.map((x) => x.r.metric), l.map((x) => x.r.ts), l.map((x) => x.r.value),
        l.map((x) => x.r.unit), l.map((x) => x.r.score), l.map((x) => textArray(x.r.flags)), l.map((x) => x.r.seq),
        ...hourly,
      ],
    });
  }

  /**
   * The series ids of a batch's slots: a slot's id under the slot itself (its first unit), that of
   * another unit the slot came in under "sensor\nmetric\nunit".
   */
  private async seriesIds(device: string, slots: readonly SeriesSlot[]): Promise<Map<SeriesSlot | string, number>> {
    const keys: SeriesKey[] = [];
    const names: (SeriesSlot | string)[] = [];
    for (const slot of slots) {
      keys.push(slot);
      names.push(slot);
      for (const unit of slot.otherUnits ?? []) {
        keys.push({ sensor: slot.sensor, metric: slot.metric, unit });
        names.push(`${slot.sensor}\n${slot.metric}\n${unit}`);
      }
    }
    const ids = await this.catalogue.ids(device, keys);
    return new Map(names.map((n, k) => [n, ids[k]!]));
  }
}

/** Send the rows through COPY on the transaction's client; resolves when the server has them. */
function copyInto(c: pg.PoolClient, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = c.query(copyStreams.from(`COPY readings_data ${COPY_COLUMNS} FROM STDIN (FORMAT binary)`));
    stream.on('error', reject);
    stream.on('finish', resolve);
    stream.end(data);
  });
}

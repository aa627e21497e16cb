// Readings of batches the sink holds but the readings table does not: batches whose entry in
// readings_pending (migration 007) was left behind: stored before the table existed, while the
// sink ran with the index off, or accepted by a process that died before it wrote their readings
// (pg-indexer.ts). Filled in from the stored canonical lines, read with the same readingRows and
// written by the same PgReadingsWriter as an accepted batch's, so that a filled-in batch is
// indexed exactly as it would have been on arrival. A few batches per transaction: their entries
// are locked (skipping those another process holds) and taken out in the transaction that writes
// their readings, so no batch's readings are written twice.
import type pg from 'pg';
import type { PgReadingsWriter } from './pg-readings-write.ts';
import { readingRows } from './types.ts';

/** Entries left behind (older than $1 ms), locked for this transaction; those another holds are skipped. */
const CLAIM_SQL = `
SELECT device, epoch, batch FROM readings_pending WHERE since < now() - $1::bigint * interval '1 millisecond'
ORDER BY since LIMIT $2 FOR UPDATE SKIP LOCKED`;

const KEYS = 'SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[])';

/** The stored lines of the claimed batches; a pruned batch's are empty and hold no readings. */
const LINES_SQL = `
SELECT device, epoch, batch, records FROM sink_batches
WHERE (device, epoch, batch) IN (${KEYS}) AND records IS NOT NULL AND records <> ''`;

/** Batches per transaction: their readings are held in memory while they are written. */
const CLAIM = 20;

/**
 * Fill in the readings of the entries in readings_pending older than `olderThanMs` (0: all), a
 * transaction at a time until none is left. Returns the readings added.
 */
export async function fillPending(db: () => pg.Pool, writer: PgReadingsWriter, olderThanMs: number): Promise<number> {
  let added = 0;
  for (;;) {
    const c = await db().connect();
    try {
      await c.query('BEGIN');
      const { rows } = await c.query<{ device: string; epoch: number; batch: string }>(CLAIM_SQL, [olderThanMs, CLAIM]);
      if (rows.length > 0) {
        const keys = [rows.map((r) => r.device), rows.map((r) => r.epoch), rows.map((r) => r.batch)];
        const held = await c.query<{ device: string; epoch: number; batch: string; records: string }>(LINES_SQL, keys);
        const batches = held.rows.map((b) => ({ device: b.device, epoch: b.epoch, batch: Number(b.batch), rows: readingRows(b.records) }));
        await writer.store(c, batches);
        for (const b of batches) added += b.rows.length;
        await c.query(`DELETE FROM readings_pending WHERE (device, epoch, batch) IN (${KEYS})`, keys);
      }
      await c.query('COMMIT');
      if (rows.length < CLAIM) return added;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw new Error(`filling in the readings of stored batches: ${(err as Error).message}`);
    } finally {
      c.release();
    }
  }
}

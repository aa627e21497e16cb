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
import { inTransaction } from '../store/pg-tx.ts';
import { readingRows } from './types.ts';

/** Entries left behind (older than $1 ms), locked for this transaction; those another holds are skipped. */
const CLAIM_SQL = `
SELECT device, epoch, batch FROM readings_pending WHERE since < now() - $1::bigint * interval '1 millisecond'
ORDER BY since LIMIT $2 FOR UPDATE SKIP LOCKED`;

const KEYS = 'SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[])';

/** The given batches' entries still in readings_pending, locked for this transaction; those another holds are skipped. */
const CLAIM_KEYS_SQL = `
SELECT device, epoch, batch FROM readings_pending WHERE (device, epoch, batch) IN (${KEYS}) FOR UPDATE SKIP LOCKED`;

/** The stored lines of the claimed batches; a pruned batch's are empty and hold no readings. */
const LINES_SQL = `
SELECT device, epoch, batch, records FROM sink_batches
WHERE (device, epoch, batch) IN (${KEYS}) AND records IS NOT NULL AND records <> ''`;

/** Batches per transaction: their readings are held in memory while they are written. */
const CLAIM = 20;

/** A batch by its key in readings_pending. */
export interface PendingKey {
  device: string;
  epoch: number;
  batch: number;
}

type Claim = (c: pg.PoolClient) => Promise<{ device: string; epoch: number; batch: string }[]>;

/**
 * Fill in the readings of the entries in readings_pending older than `olderThanMs` (0: all), a
 * transaction at a time until none is left. Returns the readings added.
 */
export async function fillPending(db: () => pg.Pool, writer: PgReadingsWriter, olderThanMs: number): Promise<number> {
  let added = 0;
  for (;;) {
    const { claimed, readings } = await fillClaimed(db, writer, async (c) => (await c.query<{ device: string; epoch: number; batch: string }>(CLAIM_SQL, [olderThanMs, CLAIM])).rows);
    added += readings;
    if (claimed < CLAIM) return added;
  }
}

/**
 * Fill in the readings of the given batches whose entries are still in readings_pending (those
 * written meanwhile, or held by another process's transaction, are skipped), CLAIM a transaction.
 * For batches this process accepted and could not queue: their entries are its own, not left
 * behind by another, so they need not wait to look abandoned. Returns the readings added.
 */
export async function fillBatches(db: () => pg.Pool, writer: PgReadingsWriter, keys: readonly PendingKey[]): Promise<number> {
  let added = 0;
  for (let i = 0; i < keys.length; i += CLAIM) {
    const part = keys.slice(i, i + CLAIM);
    const asArrays = [part.map((k) => k.device), part.map((k) => k.epoch), part.map((k) => k.batch)];
    added += (await fillClaimed(db, writer, async (c) => (await c.query<{ device: string; epoch: number; batch: string }>(CLAIM_KEYS_SQL, asArrays)).rows)).readings;
  }
  return added;
}

/** One transaction: claim entries, write their batches' readings from the stored lines, take the entries out. */
async function fillClaimed(db: () => pg.Pool, writer: PgReadingsWriter, claim: Claim): Promise<{ claimed: number; readings: number }> {
  try {
    return await inTransaction(db(), async (c) => {
      const rows = await claim(c);
      let readings = 0;
      if (rows.length > 0) {
        const keys = [rows.map((r) => r.device), rows.map((r) => r.epoch), rows.map((r) => r.batch)];
        const held = await c.query<{ device: string; epoch: number; batch: string; records: string }>(LINES_SQL, keys);
        const batches = held.rows.map((b) => ({ device: b.device, epoch: b.epoch, batch: Number(b.batch), rows: readingRows(b.records) }));
        await writer.store(c, batches);
        for (const b of batches) readings += b.rows.length;
        await c.query(`DELETE FROM readings_pending WHERE (device, epoch, batch) IN (${KEYS})`, keys);
      }
      return { claimed: rows.length, readings };
    });
  } catch (err) {
    throw new Error(`filling in the readings of stored batches: ${(err as Error).message}`);
  }
}

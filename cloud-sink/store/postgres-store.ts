// The PostgreSQL store, for fleets that outgrow one machine: any number of sink processes can
// share one database. A batch is checked against its device's chain and stored in a transaction
// that holds the device's head row FOR UPDATE (pg-batch-commit.ts, which groups the batches that
// arrive together), so two processes offered the same batch store it once; the (device, batch)
// primary key is the second guard.
import pg from 'pg';
import { epochOf, type BatchHeader } from '../../protocol/batch.ts';
import { ZERO_HASH } from '../../protocol/hash.ts';
import { redactUrl } from '../../kernel/redact.ts';
import { PgMrvStore } from '../mrv/store/pg-mrv-store.ts';
import type { MrvStore } from '../mrv/store/types.ts';
import { AnchoredStore } from './anchored-store.ts';
import { migrate } from './migrate.ts';
import { PgAnchors } from './pg-anchors.ts';
import { PgBatchCommitter } from './pg-batch-commit.ts';
import { PgRestarts } from './pg-restarts.ts';
import type { Logger } from 'pino';
import { PgReadingsIndex } from '../readings/pg-readings.ts';
import { PgReadingsWriter, type BatchReadings } from '../readings/pg-readings-write.ts';
import { PgReadingsIndexer } from '../readings/pg-indexer.ts';
import { SeriesCatalogue } from '../readings/pg-series.ts';
import { ReadingPartitions } from '../readings/pg-partitions.ts';
import { fillPending } from '../readings/pg-backfill.ts';
import { inTransaction } from './pg-tx.ts';
import { readingRows, type ReadingsIndex } from '../readings/types.ts';
import type {
  AcceptRestartOutcome, AnchorRow, BatchToStore, CommitOutcome, EquivocationReport, Head, RegisteredDevice, RestartRow, SinkStore,
  StoredBatchRow, TimeFlagCounts,
} from './types.ts';

/** The readings of stored batches (pruned ones have none), as the indexer writes them. */
function readingsOf(stored: readonly BatchToStore[]): BatchReadings[] {
  return stored.filter((b) => !b.pruned).map((b) => ({
    device: b.header.device, epoch: epochOf(b.header), batch: b.header.batch, rows: b.readings ?? readingRows(b.text),
  }));
}

interface BatchDbRow {
  header: string;
  hash: string;
  pruned: boolean;
  min_ts: string | null;
  max_ts: string | null;
  received_at: string;
  anchor_id: string | null;
  anchor_index: number | null;
  prune_cover: string | null;
  time_flags: string | null;
}

interface HeadDbRow {
  epoch: number;
  batch: string;
  hash: string;
  last_seq: string;
}

const toHead = (r: HeadDbRow): Head => ({ epoch: r.epoch, batch: Number(r.batch), hash: r.hash, last: Number(r.last_seq) });

const BATCH_COLUMNS = 'header, hash, pruned, min_ts, max_ts, received_at, anchor_id, anchor_index, prune_cover, time_flags';
const num = (v: string | null): number | null => (v === null ? null : Number(v));

function toRow(r: BatchDbRow): StoredBatchRow {
  const row: StoredBatchRow = {
    header: JSON.parse(r.header), hash: r.hash, pruned: r.pruned, minTs: num(r.min_ts), maxTs: num(r.max_ts),
    receivedAt: Number(r.received_at), anchorId: num(r.anchor_id), anchorIndex: r.anchor_index,
  };
  if (r.prune_cover) row.cover = JSON.parse(r.prune_cover);
  if (r.time_flags) row.timeFlags = JSON.parse(r.time_flags);
  return row;
}

export interface PostgresStoreOptions {
  url: string;
  poolSize?: number;
  /** a schema other than public, created when missing (several sinks or tests sharing a database) */
  schema?: string;
  /**
   * the readings index (cloud-sink/readings/); on unless off, with monthly partitions this far
   * ahead; `maxQueuedReadings`, `settleWaitMs`: the readings held in memory for writing, and the
   * longest a readings query waits for them (pg-indexer.ts)
   */
  readings?: { enabled: boolean; monthsAhead: number; maxQueuedReadings?: number; settleWaitMs?: number };
  log?: Logger;
}

/** The anchors' methods of SinkStore are AnchoredStore's, asking pg-anchors.ts. */
export class PostgresSinkStore extends AnchoredStore implements SinkStore {
  readonly kind = 'postgres' as const;
  private pool: pg.Pool | null = null;
  private readonly restartsPart = new PgRestarts(() => this.db);
  protected readonly anchorsPart = new PgAnchors({ db: () => this.db, tx: (fn) => this.tx(fn) });
  private committer: PgBatchCommitter | null = null;
  private partitions: ReadingPartitions | null = null;
  private indexer: PgReadingsIndexer | null = null;

  private readonly opts: PostgresStoreOptions;

  constructor(opts: PostgresStoreOptions) {
    super();
    this.opts = opts;
  }

  private get db(): pg.Pool {
    if (!this.pool) throw new Error('the sink store is not open');
    return this.pool;
  }

  async open(): Promise<void> {
    const schema = this.opts.schema;
    if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`store schema ${schema} must be lowercase letters, digits and underscores`);
    const pool = new pg.Pool({ connectionString: this.opts.url, max: this.opts.poolSize ?? 8, ...(schema ? { options: `-c search_path=${schema}` } : {}) });
    // An idle client losing its server (a restarted database) must not crash the sink.
    pool.on('error', () => undefined);
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new Error(`cannot connect to PostgreSQL at ${redactUrl(this.opts.url)}: ${(err as Error).message}`);
    }
    this.pool = pool;
    try {
      if (schema) {
        // IF NOT EXISTS is no lock: two processes starting together can both try, and one loses
        // on the catalogue's unique index (23505), which means the schema is there
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`).catch((err: { code?: string }) => {
          if (err.code !== '23505') throw err;
        });
      }
      await migrate(client);
    } catch (err) {
      client.release();
      await this.close();
      throw err;
    }
    client.release();
    if (this.indexesReadings) await this.startReadings().catch(async (err) => {
      await this.close();
      throw err;
    });
    // half the connections store batches (in groups); the rest answer lookups, proofs and reports
    const indexer = this.indexer;
    this.committer = new PgBatchCommitter((fn) => this.tx(fn), {
      parallel: Math.max(1, Math.floor((this.opts.poolSize ?? 8) / 2)), maxGroup: 64,
      // after the commit, off the path that acknowledges the batch (a duplicate never gets this far);
      // with the index off, each batch's entry in readings_pending waits for a start with it on
      ...(indexer ? { onStored: (stored: readonly BatchToStore[]) => indexer.enqueue(readingsOf(stored)) } : {}),
    });
  }

  /**
   * The readings index: partitions, the readings of batches stored without it (or by a process
   * that died before writing them), the upkeep, and the indexer of the batches accepted from now.
   */
  private async startReadings(): Promise<void> {
    const log = this.opts.log;
    const db = () => this.db;
    this.partitions = new ReadingPartitions({ db, monthsAhead: this.opts.readings?.monthsAhead ?? 3, ...(log ? { log } : {}) });
    await this.partitions.ensure();
    const writer = new PgReadingsWriter(new SeriesCatalogue(db));
    const added = await fillPending(db, writer, 0);
    if (added > 0) log?.info({ readings: added }, 'readings of batches stored without the readings index filled in');
    // start() runs the upkeep once more, which gives the filled-in months their partitions
    await this.partitions.start();
    const { maxQueuedReadings, settleWaitMs } = this.opts.readings ?? {};
    this.indexer = new PgReadingsIndexer({
      db, writer, ...(maxQueuedReadings !== undefined ? { maxQueuedReadings } : {}), ...(settleWaitMs !== undefined ? { settleWaitMs } : {}), ...(log ? { log } : {}),
    });
    this.indexer.start();
  }

  get indexesReadings(): boolean {
    return this.opts.readings?.enabled ?? true;
  }

  async close(): Promise<void> {
    await this.indexer?.stop();
    this.indexer = null;
    await this.partitions?.stop();
    this.partitions = null;
    await this.pool?.end();
    this.pool = null;
  }

  private tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.db, fn);
  }

  // ------------------------------------------------------------------ batches

  commitBatch(b: BatchToStore): Promise<CommitOutcome> {
    if (!this.committer) throw new Error('the sink store is not open');
    return this.committer.commit(b);
  }

  async head(device: string): Promise<Head> {
    const { rows } = await this.db.query<HeadDbRow>('SELECT epoch, batch, hash, last_seq FROM sink_heads WHERE device = $1', [device]);
    return rows[0] ? toHead(rows[0]) : { epoch: 1, batch: 0, hash: ZERO_HASH, last: 0 };
  }

  async batch(device: string, batchNo: number, epoch = 1): Promise<StoredBatchRow | null> {
    const { rows } = await this.db.query<BatchDbRow>(`SELECT ${BATCH_COLUMNS} FROM sink_batches WHERE device = $1 AND epoch = $2 AND batch = $3`, [device, epoch, batchNo]);
    return rows[0] ? toRow(rows[0]) : null;
  }

  async heldBatch(device: string, batchNo: number, epoch = 1): Promise<{ hash: string; pruned: boolean } | null> {
    const { rows } = await this.db.query<{ hash: string; pruned: boolean }>(
      'SELECT hash, pruned FROM sink_batches WHERE device = $1 AND epoch = $2 AND batch = $3', [device, epoch, batchNo]);
    return rows[0] ? { hash: rows[0].hash, pruned: rows[0].pruned } : null;
  }

  async batchForSeq(device: string, seq: number, epoch = 1): Promise<StoredBatchRow | null> {
    const { rows } = await this.db.query<BatchDbRow>(
      `SELECT ${BATCH_COLUMNS} FROM sink_batches WHERE device = $1 AND epoch = $2 AND first_seq <= $3 AND last_seq >= $3 ORDER BY first_seq DESC LIMIT 1`, [device, epoch, seq]);
    return rows[0] ? toRow(rows[0]) : null;
  }

  async records(device: string, batchNo: number, epoch = 1): Promise<string[]> {
    const { rows } = await this.db.query<{ records: string | null }>('SELECT records FROM sink_batches WHERE device = $1 AND epoch = $2 AND batch = $3', [device, epoch, batchNo]);
    const text = rows[0]?.records;
    return text ? text.split('\n') : [];
  }

  async *batches(device: string, from = 1, epoch = 1): AsyncIterable<{ row: StoredBatchRow; lines: string[] }> {
    const page = 200;
    let next = from;
    for (;;) {
      const { rows } = await this.db.query<BatchDbRow & { batch: string; records: string | null }>(
        `SELECT batch, records, ${BATCH_COLUMNS} FROM sink_batches WHERE device = $1 AND epoch = $2 AND batch >= $3 ORDER BY batch LIMIT ${page}`, [device, epoch, next]);
      for (const r of rows) yield { row: toRow(r), lines: r.records ? r.records.split('\n') : [] };
      if (rows.length < page) return;
      next = Number(rows[rows.length - 1]!.batch) + 1;
    }
  }

  async epochs(device: string): Promise<number[]> {
    const { rows } = await this.db.query<{ epoch: number }>('SELECT DISTINCT epoch FROM sink_batches WHERE device = $1 ORDER BY epoch', [device]);
    return rows.map((r) => r.epoch);
  }

  /** Epoch 1 only, as before epochs: the report engine does not read later epochs yet. */
  async batchesOverlapping(device: string, fromTs: number, toTs: number): Promise<StoredBatchRow[]> {
    const { rows } = await this.db.query<BatchDbRow>(
      `SELECT ${BATCH_COLUMNS} FROM sink_batches WHERE device = $1 AND (pruned OR (min_ts < $3 AND max_ts >= $2)) ORDER BY epoch, batch`, [device, fromTs, toTs]);
    return rows.map(toRow);
  }

  async timeFlagCounts(): Promise<Map<string, TimeFlagCounts>> {
    const { rows } = await this.db.query<{ device: string; future: string; backwards: string; unsynced: string }>(
      `SELECT device,
              count(*) FILTER (WHERE time_flags LIKE '%"future"%') AS future,
              count(*) FILTER (WHERE time_flags LIKE '%"backwards"%') AS backwards,
              count(*) FILTER (WHERE time_flags LIKE '%"unsynced"%') AS unsynced
         FROM sink_batches WHERE time_flags IS NOT NULL GROUP BY device`);
    return new Map(rows.map((r) => [r.device, { future: Number(r.future), backwards: Number(r.backwards), unsynced: Number(r.unsynced) }]));
  }

  async devices(): Promise<string[]> {
    const { rows } = await this.db.query<{ device: string }>('SELECT device FROM sink_heads WHERE batch > 0 OR epoch > 1 ORDER BY device');
    return rows.map((r) => r.device);
  }

  // ------------------------------------------------------------------ registry, reports

  async addDevice(d: RegisteredDevice): Promise<'added' | 'exists' | 'conflict'> {
    const ins = await this.db.query('INSERT INTO sink_devices (id, key, added_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING', [d.id, d.key, d.addedAt]);
    if (ins.rowCount === 1) return 'added';
    const { rows } = await this.db.query<{ key: string }>('SELECT key FROM sink_devices WHERE id = $1', [d.id]);
    return rows[0]?.key === d.key ? 'exists' : 'conflict';
  }

  async registeredDevice(id: string): Promise<RegisteredDevice | null> {
    const { rows } = await this.db.query<{ id: string; key: string; added_at: string; changes: string | null }>('SELECT id, key, added_at, changes FROM sink_devices WHERE id = $1', [id]);
    const r = rows[0];
    return r ? { id: r.id, key: r.key, addedAt: Number(r.added_at), ...(r.changes ? (JSON.parse(r.changes) as Partial<RegisteredDevice>) : {}) } : null;
  }

  async putDevice(d: RegisteredDevice): Promise<void> {
    const { id, key, addedAt, ...changes } = d;
    await this.db.query(
      'INSERT INTO sink_devices (id, key, added_at, changes) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET key = $2, changes = $4',
      [id, key, addedAt, JSON.stringify(changes)]);
  }

  async registeredDevices(): Promise<RegisteredDevice[]> {
    const { rows } = await this.db.query<{ id: string; key: string; added_at: string; changes: string | null }>('SELECT id, key, added_at, changes FROM sink_devices ORDER BY id');
    return rows.map((r) => ({ id: r.id, key: r.key, addedAt: Number(r.added_at), ...(r.changes ? (JSON.parse(r.changes) as Partial<RegisteredDevice>) : {}) }));
  }

  async reportEquivocation(r: EquivocationReport, maxPerChain: number): Promise<'new' | 'known' | 'full'> {
    // The bound is checked in the insert; sink processes inserting at the same moment may each pass
    // it once, which still bounds the chain's reports.
    const ins = await this.db.query(
      `INSERT INTO sink_equivocations (device, epoch, batch, stored_hash, offered_hash, offered_header, reported_at)
       SELECT $1, $2, $3, $4, $5, $6, $7
       WHERE (SELECT count(*) FROM sink_equivocations WHERE device = $1 AND epoch = $2) < $8
       ON CONFLICT (device, epoch, batch, offered_hash) DO NOTHING`,
      [r.device, r.epoch, r.batch, r.storedHash, r.offeredHash, JSON.stringify(r.offeredHeader), r.reportedAt, maxPerChain]);
    if (ins.rowCount === 1) return 'new';
    const known = await this.db.query('SELECT 1 FROM sink_equivocations WHERE device = $1 AND epoch = $2 AND batch = $3 AND offered_hash = $4', [r.device, r.epoch, r.batch, r.offeredHash]);
    return known.rowCount === 1 ? 'known' : 'full';
  }

  async equivocations(): Promise<EquivocationReport[]> {
    const { rows } = await this.db.query<{ device: string; epoch: number; batch: string; stored_hash: string; offered_hash: string; offered_header: string; reported_at: string }>(
      'SELECT device, epoch, batch, stored_hash, offered_hash, offered_header, reported_at FROM sink_equivocations ORDER BY id');
    return rows.map((r) => ({
      device: r.device, epoch: r.epoch, batch: Number(r.batch), storedHash: r.stored_hash, offeredHash: r.offered_hash,
      offeredHeader: JSON.parse(r.offered_header), reportedAt: Number(r.reported_at),
    }));
  }

  noteRestart(r: RestartRow): Promise<boolean> {
    return this.restartsPart.note(r);
  }

  restarts(device?: string): Promise<RestartRow[]> {
    return this.restartsPart.list(device);
  }

  /** Under the device's head row lock, as a batch commit: no batch is checked against a head being replaced. */
  acceptRestart(device: string, epoch: number, now: number): Promise<AcceptRestartOutcome> {
    return this.tx((c) => this.restartsPart.accept(c, device, epoch, now));
  }

  mrvStore(): MrvStore {
    return new PgMrvStore(() => this.db);
  }

  readings(): ReadingsIndex | null {
    return this.indexesReadings ? new PgReadingsIndex(() => this.db, () => this.indexer?.settled() ?? Promise.resolve()) : null;
  }
}

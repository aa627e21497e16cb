// Accepting batches into PostgreSQL in groups. A durable COMMIT waits for the write-ahead log to
// reach the disk, and one transaction per batch made that wait, not the work, the limit of a busy
// sink. Batches offered while the committers are busy wait for the next free one and are then
// checked and stored together, in one transaction: every device's head row locked FOR UPDATE (in
// device order, so that two groups, in this process or another, never wait for each other in a
// circle), each batch checked against its head in chain order, the ones that chain inserted with
// one statement, the heads moved with another. A device has one head row, that of its current
// recovery epoch; a batch is (device, epoch, batch), and one of another epoch is only looked up.
// A group that fails is taken apart and each batch tried alone, so that one bad batch fails only
// itself.
import type pg from 'pg';
import { epochOf } from '../../protocol/batch.ts';
import { ZERO_HASH } from '../../protocol/hash.ts';
import { chainDecision } from './chain.ts';
import type { BatchToStore, CommitOutcome, Head } from './types.ts';

interface Offer {
  batch: BatchToStore;
  resolve: (o: CommitOutcome) => void;
  reject: (e: unknown) => void;
}

export interface GroupCommitOptions {
  /** transactions storing batches at once (each holds a pooled connection) */
  parallel: number;
  /** most batches in one transaction */
  maxGroup: number;
  /** told of the batches a transaction stored, once it has committed (the readings indexer) */
  onStored?: (stored: readonly BatchToStore[]) => void;
}

export type InTransaction = <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>;

const key = (device: string, epoch: number, batch: number) => `${device}\n${epoch}\n${batch}`;

export class PgBatchCommitter {
  private readonly waiting: Offer[] = [];
  private running = 0;

  private readonly inTransaction: InTransaction;
  private readonly opts: GroupCommitOptions;

  /** @param inTransaction runs its function in a transaction on a pooled connection, committed when it returns */
  constructor(inTransaction: InTransaction, opts: GroupCommitOptions) {
    this.inTransaction = inTransaction;
    this.opts = opts;
  }

  commit(batch: BatchToStore): Promise<CommitOutcome> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ batch, resolve, reject });
      this.startGroups();
    });
  }

  private startGroups(): void {
    while (this.running < this.opts.parallel && this.waiting.length > 0) {
      const group = this.waiting.splice(0, this.opts.maxGroup);
      this.running++;
      void this.commitGroup(group).finally(() => {
        this.running--;
        this.startGroups();
      });
    }
  }

  private async commitGroup(group: Offer[]): Promise<void> {
    try {
      const outcomes = await this.transaction(group.map((o) => o.batch));
      group.forEach((o, i) => o.resolve(outcomes[i]!));
    } catch (err) {
      if (group.length === 1) return group[0]!.reject(err);
      for (const o of group) {
        try {
          o.resolve((await this.transaction([o.batch]))[0]!);
        } catch (alone) {
          o.reject(alone);
        }
      }
    }
  }

  private async transaction(batches: BatchToStore[]): Promise<CommitOutcome[]> {
    const stored: BatchToStore[] = [];
    const outcomes = await this.inTransaction((c) => this.checkAndStore(c, batches, stored));
    if (stored.length > 0) this.opts.onStored?.(stored);
    return outcomes;
  }

  /** Check each batch against its chain and store those that extend it, listed in `stored`. */
  private async checkAndStore(c: pg.PoolClient, batches: BatchToStore[], stored: BatchToStore[]): Promise<CommitOutcome[]> {
    const devices = [...new Set(batches.map((b) => b.header.device))].sort();
    const heads = await lockHeads(c, devices);
    const missing = devices.filter((d) => !heads.has(d));
    if (missing.length > 0) {
      // a device's first batch makes its head row
      await c.query('INSERT INTO sink_heads (device, batch, hash, last_seq) SELECT d, 0, $2, 0 FROM unnest($1::text[]) AS d ON CONFLICT (device) DO NOTHING', [missing, ZERO_HASH]);
      for (const [d, h] of await lockHeads(c, missing)) heads.set(d, h);
    }
    // The hashes held under numbers at or below a head, or in an epoch other than the head's:
    // duplicates and equivocations. A statement after the locks, so it sees what a transaction we
    // waited for stored.
    const low = batches.filter((b) => {
      const head = heads.get(b.header.device)!;
      return b.header.batch <= head.batch || epochOf(b.header) !== head.epoch;
    });
    const held = new Map<string, string>();
    if (low.length > 0) {
      const { rows } = await c.query<{ device: string; epoch: number; batch: string; hash: string }>(
        'SELECT device, epoch, batch, hash FROM sink_batches WHERE (device, epoch, batch) IN (SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[]))',
        [low.map((b) => b.header.device), low.map((b) => epochOf(b.header)), low.map((b) => b.header.batch)]);
      for (const r of rows) held.set(key(r.device, r.epoch, Number(r.batch)), r.hash);
    }
    const outcomes: CommitOutcome[] = new Array(batches.length);
    const appended: BatchToStore[] = [];
    const inChainOrder = batches.map((_, i) => i).sort((x, y) => {
      const a = batches[x]!.header;
      const b = batches[y]!.header;
      return a.device < b.device ? -1 : a.device > b.device ? 1 : epochOf(a) - epochOf(b) || a.batch - b.batch;
    });
    for (const i of inChainOrder) {
      const b = batches[i]!;
      const { device, batch } = b.header;
      const epoch = epochOf(b.header);
      const head = heads.get(device)!;
      const decision = chainDecision(head, b.header, b.hash, held.get(key(device, epoch, batch)) ?? null);
      if (decision !== 'append') {
        outcomes[i] = decision;
        continue;
      }
      outcomes[i] = { status: 'stored' };
      appended.push(b);
      heads.set(device, { epoch: head.epoch, batch, hash: b.hash, last: b.header.last });
      held.set(key(device, epoch, batch), b.hash); // the same batch twice in one group: the second is a duplicate
    }
    if (appended.length > 0) {
      await insertBatches(c, appended);
      stored.push(...appended);
      await moveHeads(c, devices.filter((d) => appended.some((b) => b.header.device === d)).map((d) => [d, heads.get(d)!] as const));
    }
    return outcomes;
  }
}

/** The heads of these devices (sorted), locked until the transaction ends; devices without a row are absent. */
async function lockHeads(c: pg.PoolClient, devices: string[]): Promise<Map<string, Head>> {
  const { rows } = await c.query<{ device: string; epoch: number; batch: string; hash: string; last_seq: string }>(
    'SELECT device, epoch, batch, hash, last_seq FROM sink_heads WHERE device = ANY($1::text[]) ORDER BY device FOR UPDATE', [devices]);
  return new Map(rows.map((r) => [r.device, { epoch: r.epoch, batch: Number(r.batch), hash: r.hash, last: Number(r.last_seq) }]));
}

const BATCH_FIELDS = 14;

/**
 * The accepted batches, in one statement: a VALUES row of parameters each (parameters, not
 * arrays, so that the records' text is sent as it is rather than escaped into an array literal).
 * Each batch that has records is entered in readings_pending in the same statement: its readings
 * are written after the commit, and whoever writes them takes the entry out (migration 007).
 */
async function insertBatches(c: pg.PoolClient, batches: BatchToStore[]): Promise<void> {
  const values: unknown[] = [];
  const rows: string[] = [];
  for (const b of batches) {
    const h = b.header;
    const at = values.length;
    values.push(h.device, epochOf(h), h.batch, h.first, h.last, b.hash, JSON.stringify(h), b.pruned ? null : b.text, b.pruned, b.minTs, b.maxTs, b.receivedAt,
      b.cover ? JSON.stringify(b.cover) : null, b.timeFlags && b.timeFlags.length > 0 ? JSON.stringify(b.timeFlags) : null);
    rows.push(`(${Array.from({ length: BATCH_FIELDS }, (_, k) => `$${at + k + 1}`).join(', ')})`);
  }
  await c.query(
    `WITH stored AS (
       INSERT INTO sink_batches (device, epoch, batch, first_seq, last_seq, hash, header, records, pruned, min_ts, max_ts, received_at, prune_cover, time_flags)
       VALUES ${rows.join(', ')} RETURNING device, epoch, batch, pruned)
     INSERT INTO readings_pending (device, epoch, batch) SELECT device, epoch, batch FROM stored WHERE NOT pruned`,
    values);
}

async function moveHeads(c: pg.PoolClient, heads: (readonly [string, Head])[]): Promise<void> {
  const values: unknown[] = [];
  // only batches of a head's own epoch are appended: the epoch column stays as it is
  const rows = heads.map(([device, h]) => {
    values.push(device, h.batch, h.hash, h.last);
    const at = values.length - 4;
    return `($${at + 1}, $${at + 2}::bigint, $${at + 3}, $${at + 4}::bigint)`;
  });
  await c.query(
    `UPDATE sink_heads h SET batch = m.batch, hash = m.hash, last_seq = m.last_seq FROM (VALUES ${rows.join(', ')}) AS m(device, batch, hash, last_seq) WHERE h.device = m.device`,
    values);
}

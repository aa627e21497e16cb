// The PostgreSQL store's table of recovery epochs (migrations/005_epochs.sql): the restarts devices
// asked for, and their acceptance, which moves the device's head row to the new chain under the
// same row lock a batch commit takes.
import type pg from 'pg';
import { acceptanceProblem } from './level-restarts.ts';
import type { AcceptRestartOutcome, Head, RestartRow } from './types.ts';

interface RestartDbRow {
  device: string; epoch: number; reason: string; from_epoch: number; from_batch: string; from_hash: string; ts: string;
  rejournaled: string; header: string; seen_at: string; accepted_at: string | null;
}

function toRestart(r: RestartDbRow): RestartRow {
  return {
    device: r.device, epoch: r.epoch, reason: r.reason, from: { epoch: r.from_epoch, batch: Number(r.from_batch), hash: r.from_hash },
    ts: Number(r.ts), rejournaled: Number(r.rejournaled), header: JSON.parse(r.header), seenAt: Number(r.seen_at),
    acceptedAt: r.accepted_at === null ? null : Number(r.accepted_at),
  };
}

export class PgRestarts {
  private readonly db: () => pg.Pool;

  constructor(db: () => pg.Pool) {
    this.db = db;
  }

  async note(r: RestartRow): Promise<boolean> {
    const ins = await this.db().query(
      `INSERT INTO sink_restarts (device, epoch, reason, from_epoch, from_batch, from_hash, ts, rejournaled, header, seen_at, accepted_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)
       ON CONFLICT (device, epoch) DO UPDATE SET reason = EXCLUDED.reason, from_epoch = EXCLUDED.from_epoch, from_batch = EXCLUDED.from_batch,
         from_hash = EXCLUDED.from_hash, ts = EXCLUDED.ts, rejournaled = EXCLUDED.rejournaled, header = EXCLUDED.header, seen_at = EXCLUDED.seen_at
       WHERE sink_restarts.accepted_at IS NULL AND sink_restarts.header <> EXCLUDED.header`,
      [r.device, r.epoch, r.reason, r.from.epoch, r.from.batch, r.from.hash, r.ts, r.rejournaled, JSON.stringify(r.header), r.seenAt]);
    return ins.rowCount === 1;
  }

  async list(device?: string): Promise<RestartRow[]> {
    const { rows } = device === undefined
      ? await this.db().query<RestartDbRow>('SELECT * FROM sink_restarts ORDER BY device, epoch')
      : await this.db().query<RestartDbRow>('SELECT * FROM sink_restarts WHERE device = $1 ORDER BY epoch', [device]);
    return rows.map(toRestart);
  }

  /** In the caller's transaction `c`, which every read here uses: a pool of one connection suffices. */
  async accept(c: pg.PoolClient, device: string, epoch: number, now: number): Promise<AcceptRestartOutcome> {
    const { rows } = await c.query<RestartDbRow>('SELECT * FROM sink_restarts WHERE device = $1 AND epoch = $2 FOR UPDATE', [device, epoch]);
    if (!rows[0]) return { status: 'not_pending', reason: `device ${device} has asked for no epoch ${epoch}` };
    const r = toRestart(rows[0]);
    await c.query(`INSERT INTO sink_heads (device, batch, hash, last_seq) VALUES ($1, 0, $2, 0) ON CONFLICT (device) DO NOTHING`, [device, '0'.repeat(64)]);
    const h = await c.query<{ epoch: number; batch: string; hash: string; last_seq: string }>('SELECT epoch, batch, hash, last_seq FROM sink_heads WHERE device = $1 FOR UPDATE', [device]);
    const head: Head = { epoch: h.rows[0]!.epoch, batch: Number(h.rows[0]!.batch), hash: h.rows[0]!.hash, last: Number(h.rows[0]!.last_seq) };
    const hashOf = async (d: string, b: number, e: number) =>
      (await c.query<{ hash: string }>('SELECT hash FROM sink_batches WHERE device = $1 AND epoch = $2 AND batch = $3', [d, e, b])).rows[0]?.hash ?? null;
    const problem = await acceptanceProblem(r, head, hashOf);
    if (problem) return { status: 'not_pending', reason: problem };
    const next: Head = { epoch, batch: 0, hash: r.from.hash, last: 0 };
    await c.query('UPDATE sink_heads SET epoch = $2, batch = 0, hash = $3, last_seq = 0 WHERE device = $1', [device, epoch, r.from.hash]);
    await c.query('UPDATE sink_restarts SET accepted_at = $3 WHERE device = $1 AND epoch = $2', [device, epoch, now]);
    return { status: 'accepted', head: next };
  }
}

// The MRV index and notes in the sink's PostgreSQL database (migration 002). Several sink processes
// may index the same device: a session holds a transaction-scoped advisory lock on the device, so
// one indexes while the others wait and then find the work done.
import type pg from 'pg';
import { noteId, type OperatorNote } from '../notes.ts';
import type {
  ChunkEntry, EpochTallies, GapEntry, IndexedThrough, IndexProgress, IndexSession, MrvStore, PlanEntry, PrunedEntry, UnplannedTally,
} from './types.ts';

/** advisory lock namespace for device indexing: "fpmr" */
const INDEX_LOCK = 0x66706d72;

export class PgMrvStore implements MrvStore {
  private readonly pool: () => pg.Pool;

  constructor(pool: () => pg.Pool) {
    this.pool = pool;
  }

  async indexSession<T>(device: string, fn: (s: IndexSession) => Promise<T>): Promise<T> {
    const c = await this.pool().connect();
    try {
      // a session-scoped lock for the whole catch-up; each commit is a transaction of its own
      await c.query('SELECT pg_advisory_lock($1, hashtext($2))', [INDEX_LOCK, device]);
      try {
        return await fn(this.session(c, device));
      } finally {
        await c.query('SELECT pg_advisory_unlock($1, hashtext($2))', [INDEX_LOCK, device]);
      }
    } finally {
      c.release();
    }
  }

  private session(c: pg.PoolClient, device: string): IndexSession {
    return {
      progress: async () => {
        const { rows } = await c.query<{ epoch: number; batch: string; state: string }>('SELECT epoch, batch, state FROM sink_mrv_progress WHERE device = $1', [device]);
        return rows[0] ? { epoch: rows[0].epoch, batch: Number(rows[0].batch), state: JSON.parse(rows[0].state) } : null;
      },
      chunkData: async (sensor, metric, chunk) => {
        const { rows } = await c.query<{ data: Buffer }>('SELECT data FROM sink_mrv_chunks WHERE device = $1 AND sensor = $2 AND metric = $3 AND chunk = $4', [device, sensor, metric, chunk]);
        return rows[0]?.data ?? null;
      },
      chunkHolding: async (sensor, metric, ts) => {
        const { rows } = await c.query<{ data: Buffer }>(
          'SELECT data FROM sink_mrv_chunks WHERE device = $1 AND sensor = $2 AND metric = $3 AND min_ts <= $4 AND max_ts >= $4 ORDER BY chunk LIMIT 1', [device, sensor, metric, ts]);
        return rows[0]?.data ?? null;
      },
      commit: async (progress: IndexProgress, write) => {
        await c.query('BEGIN');
        try {
          for (const k of write.chunks) {
            await c.query(
              `INSERT INTO sink_mrv_chunks (device, sensor, metric, chunk, min_ts, max_ts, count, summary, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               ON CONFLICT (device, sensor, metric, chunk) DO UPDATE SET min_ts = EXCLUDED.min_ts, max_ts = EXCLUDED.max_ts, count = EXCLUDED.count, summary = EXCLUDED.summary, data = EXCLUDED.data`,
              [device, k.sensor, k.metric, k.chunk, k.minTs, k.maxTs, k.count, JSON.stringify(k.summary), k.data]);
          }
          for (const p of write.plans) {
            await c.query('INSERT INTO sink_mrv_plans (device, epoch, seq, record) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [device, p.epoch ?? 1, p.seq, JSON.stringify(p.record)]);
          }
          for (const g of write.gaps) {
            await c.query('INSERT INTO sink_mrv_gaps (device, epoch, seq, from_ts, to_ts, dropped, reason) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING',
              [device, g.epoch ?? 1, g.seq, g.from, g.to, g.dropped, g.reason]);
          }
          for (const p of write.pruned) {
            await c.query('INSERT INTO sink_mrv_pruned (device, epoch, batch, entry) VALUES ($1, $2, $3, $4) ON CONFLICT (device, epoch, batch) DO UPDATE SET entry = EXCLUDED.entry',
              [device, p.epoch ?? 1, p.batch, JSON.stringify(p)]);
          }
          for (const u of write.unplanned) {
            await c.query(
              `INSERT INTO sink_mrv_unplanned (device, sensor, day, count, min_ts, max_ts) VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (device, sensor, day) DO UPDATE SET count = sink_mrv_unplanned.count + EXCLUDED.count,
                 min_ts = LEAST(sink_mrv_unplanned.min_ts, EXCLUDED.min_ts), max_ts = GREATEST(sink_mrv_unplanned.max_ts, EXCLUDED.max_ts)`,
              [device, u.sensor, u.day, u.count, u.minTs, u.maxTs]);
          }
          await c.query(
            `INSERT INTO sink_mrv_progress (device, epoch, batch, state) VALUES ($1, $2, $3, $4)
             ON CONFLICT (device) DO UPDATE SET epoch = EXCLUDED.epoch, batch = EXCLUDED.batch, state = EXCLUDED.state`,
            [device, progress.epoch ?? 1, progress.batch, JSON.stringify(progress.state)]);
          await c.query('COMMIT');
        } catch (err) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      },
    };
  }

  async indexedThrough(device: string): Promise<IndexedThrough> {
    const { rows } = await this.pool().query<{ epoch: number; batch: string }>('SELECT epoch, batch FROM sink_mrv_progress WHERE device = $1', [device]);
    return rows[0] ? { epoch: rows[0].epoch, batch: Number(rows[0].batch) } : { epoch: 1, batch: 0 };
  }

  async epochTallies(device: string): Promise<EpochTallies> {
    const { rows } = await this.pool().query<{ state: string }>('SELECT state FROM sink_mrv_progress WHERE device = $1', [device]);
    const state = rows[0] ? (JSON.parse(rows[0].state) as IndexProgress['state']) : null;
    return { carried: state?.carried ?? {}, outOfOrder: state?.outOfOrder ?? {} };
  }

  async directory(device: string, sensor: string, metric: string): Promise<ChunkEntry[]> {
    const { rows } = await this.pool().query<{ chunk: number; min_ts: string; max_ts: string; count: number; summary: string }>(
      'SELECT chunk, min_ts, max_ts, count, summary FROM sink_mrv_chunks WHERE device = $1 AND sensor = $2 AND metric = $3 ORDER BY chunk', [device, sensor, metric]);
    return rows.map((r) => ({ chunk: r.chunk, minTs: Number(r.min_ts), maxTs: Number(r.max_ts), count: r.count, summary: JSON.parse(r.summary) }));
  }

  async chunks(device: string, sensor: string, metric: string, chunkNos: number[]): Promise<Map<number, Buffer>> {
    const { rows } = await this.pool().query<{ chunk: number; data: Buffer }>(
      'SELECT chunk, data FROM sink_mrv_chunks WHERE device = $1 AND sensor = $2 AND metric = $3 AND chunk = ANY($4::int[])', [device, sensor, metric, chunkNos]);
    return new Map(rows.map((r) => [r.chunk, r.data]));
  }

  async plans(device: string): Promise<PlanEntry[]> {
    const { rows } = await this.pool().query<{ epoch: number; seq: string; record: string }>('SELECT epoch, seq, record FROM sink_mrv_plans WHERE device = $1 ORDER BY epoch, seq', [device]);
    return rows.map((r) => ({ ...(r.epoch === 1 ? {} : { epoch: r.epoch }), seq: Number(r.seq), record: JSON.parse(r.record) }));
  }

  async gaps(device: string): Promise<GapEntry[]> {
    const { rows } = await this.pool().query<{ epoch: number; seq: string; from_ts: string; to_ts: string; dropped: string; reason: string }>(
      'SELECT epoch, seq, from_ts, to_ts, dropped, reason FROM sink_mrv_gaps WHERE device = $1 ORDER BY epoch, seq', [device]);
    return rows.map((r) => ({ ...(r.epoch === 1 ? {} : { epoch: r.epoch }), seq: Number(r.seq), from: Number(r.from_ts), to: Number(r.to_ts), dropped: Number(r.dropped), reason: r.reason }));
  }

  async pruned(device: string): Promise<PrunedEntry[]> {
    const { rows } = await this.pool().query<{ entry: string }>('SELECT entry FROM sink_mrv_pruned WHERE device = $1 ORDER BY epoch, batch', [device]);
    return rows.map((r) => JSON.parse(r.entry) as PrunedEntry);
  }

  async unplanned(device: string, fromTs: number, toTs: number): Promise<UnplannedTally[]> {
    const { rows } = await this.pool().query<{ sensor: string; day: string; count: string; min_ts: string; max_ts: string }>(
      'SELECT sensor, day, count, min_ts, max_ts FROM sink_mrv_unplanned WHERE device = $1 AND max_ts >= $2 AND min_ts < $3 ORDER BY sensor, day', [device, fromTs, toTs]);
    return rows.map((r) => ({ sensor: r.sensor, day: Number(r.day), count: Number(r.count), minTs: Number(r.min_ts), maxTs: Number(r.max_ts) }));
  }

  async addNote(note: OperatorNote): Promise<boolean> {
    const r = await this.pool().query('INSERT INTO sink_mrv_notes (device, id, note, at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [note.device, noteId(note), JSON.stringify(note), note.at]);
    return r.rowCount === 1;
  }

  async notes(device: string): Promise<OperatorNote[]> {
    const { rows } = await this.pool().query<{ note: string }>('SELECT note FROM sink_mrv_notes WHERE device = $1 ORDER BY at, id', [device]);
    return rows.map((r) => JSON.parse(r.note) as OperatorNote);
  }
}

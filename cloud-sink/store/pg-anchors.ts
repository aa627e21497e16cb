// The PostgreSQL store's anchors: which accepted batches go under the next root, the anchors'
// states as their transactions go on chain, and the two advisory locks that let any number of
// sink processes share one store: one anchoring at a time, one transaction of the operator's chain
// account at a time. The batches themselves are postgres-store.ts's; an anchor only marks them.
import type pg from 'pg';
import type { BatchHeader } from '../../protocol/batch.ts';
import type { AnchorsPart } from './anchored-store.ts';
import type { AnchorRow } from './types.ts';

/** pg_try_advisory_lock key for anchoring: "fpan" */
const ANCHOR_LOCK = 0x6670616e;
/** pg_advisory_lock key for a transaction of the operator's chain account: "fpop" */
const CHAIN_ACCOUNT_LOCK = 0x66706f70;

interface AnchorDbRow {
  id: string; root: string; size: number; first_ts: string; last_ts: string; created_at: string; state: AnchorRow['state'];
  chain: string | null; module: string | null; sender: string | null; tx: string | null; version: string | null; detail: AnchorRow['detail'];
}

function toAnchor(r: AnchorDbRow): AnchorRow {
  return {
    id: Number(r.id), root: r.root, size: r.size, firstTs: Number(r.first_ts), lastTs: Number(r.last_ts), createdAt: Number(r.created_at),
    state: r.state, chain: r.chain, module: r.module, sender: r.sender, tx: r.tx, version: r.version === null ? null : Number(r.version), detail: r.detail ?? {},
  };
}

export interface PgAnchorsDeps {
  /** the store's pool; throws while the store is closed */
  db: () => pg.Pool;
  /** run `fn` in a transaction of its own */
  tx: <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>;
}

export class PgAnchors implements AnchorsPart {
  private readonly deps: PgAnchorsDeps;

  constructor(deps: PgAnchorsDeps) {
    this.deps = deps;
  }

  private get db(): pg.Pool {
    return this.deps.db();
  }

  async withAnchorLock<T>(fn: () => Promise<T>): Promise<T | null> {
    const c = await this.db.connect();
    try {
      const { rows } = await c.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [ANCHOR_LOCK]);
      if (!rows[0]?.locked) return null;
      try {
        return await fn();
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [ANCHOR_LOCK]);
      }
    } finally {
      c.release();
    }
  }

  async withChainAccountLock<T>(fn: () => Promise<T>): Promise<T> {
    const c = await this.db.connect();
    try {
      await c.query('SELECT pg_advisory_lock($1)', [CHAIN_ACCOUNT_LOCK]);
      try {
        return await fn();
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [CHAIN_ACCOUNT_LOCK]);
      }
    } finally {
      c.release();
    }
  }

  async open(): Promise<AnchorRow | null> {
    const { rows } = await this.db.query<AnchorDbRow>(`SELECT * FROM sink_anchors WHERE state <> 'committed' ORDER BY id LIMIT 1`);
    return rows[0] ? toAnchor(rows[0]) : null;
  }

  async latest(): Promise<AnchorRow | null> {
    const { rows } = await this.db.query<AnchorDbRow>('SELECT * FROM sink_anchors ORDER BY id DESC LIMIT 1');
    return rows[0] ? toAnchor(rows[0]) : null;
  }

  create(max: number, now: number, build: (hashes: string[]) => string, admit?: (header: BatchHeader) => boolean): Promise<AnchorRow | null> {
    return this.deps.tx(async (c) => {
      // FOR UPDATE SKIP LOCKED: a batch whose storing transaction has not committed is not seen at
      // all, and goes into the next anchor.
      const { rows: candidates } = await c.query<{ device: string; epoch: number; batch: string; hash: string; header: string }>(
        `SELECT device, epoch, batch, hash, header FROM sink_batches WHERE anchor_id IS NULL ORDER BY accept_id LIMIT $1 FOR UPDATE SKIP LOCKED`, [max]);
      const rows: typeof candidates = [];
      let firstTs = Infinity;
      let lastTs = -Infinity;
      for (const r of candidates) {
        const header = JSON.parse(r.header) as BatchHeader;
        if (admit && !admit(header)) continue;
        rows.push(r);
        if (header.created < firstTs) firstTs = header.created;
        if (header.created > lastTs) lastTs = header.created;
      }
      if (rows.length === 0) return null;
      const hashes = rows.map((r) => r.hash);
      const ins = await c.query<AnchorDbRow>(
        `INSERT INTO sink_anchors (root, size, first_ts, last_ts, created_at, state) VALUES ($1, $2, $3, $4, $5, 'pending') RETURNING *`,
        [build(hashes), hashes.length, firstTs, lastTs, now]);
      const anchor = toAnchor(ins.rows[0]!);
      await c.query(
        `UPDATE sink_batches b SET anchor_id = $1, anchor_index = m.idx
         FROM unnest($2::text[], $3::int[], $4::bigint[], $5::int[]) AS m(device, epoch, batch, idx)
         WHERE b.device = m.device AND b.epoch = m.epoch AND b.batch = m.batch`,
        [anchor.id, rows.map((r) => r.device), rows.map((r) => r.epoch), rows.map((r) => r.batch), rows.map((_, i) => i)]);
      return anchor;
    });
  }

  async unanchoredDevices(max: number): Promise<string[]> {
    const { rows } = await this.db.query<{ device: string }>(
      'SELECT DISTINCT device FROM (SELECT device FROM sink_batches WHERE anchor_id IS NULL ORDER BY accept_id LIMIT $1) AS next', [max]);
    return rows.map((r) => r.device);
  }

  async update(id: number, patch: Partial<AnchorRow>): Promise<void> {
    const cols: string[] = [];
    const vals: unknown[] = [id];
    for (const [k, v] of Object.entries(patch)) {
      if (!['state', 'chain', 'module', 'sender', 'tx', 'version', 'detail'].includes(k)) continue;
      vals.push(k === 'detail' ? JSON.stringify(v) : v);
      cols.push(`${k} = $${vals.length}`);
    }
    if (cols.length === 0) return;
    const r = await this.db.query(`UPDATE sink_anchors SET ${cols.join(', ')} WHERE id = $1`, vals);
    if (r.rowCount !== 1) throw new Error(`anchor ${id} does not exist`);
  }

  async get(id: number): Promise<AnchorRow | null> {
    const { rows } = await this.db.query<AnchorDbRow>('SELECT * FROM sink_anchors WHERE id = $1', [id]);
    return rows[0] ? toAnchor(rows[0]) : null;
  }

  async list(limit: number): Promise<AnchorRow[]> {
    const { rows } = await this.db.query<AnchorDbRow>('SELECT * FROM sink_anchors ORDER BY id DESC LIMIT $1', [limit]);
    return rows.map(toAnchor);
  }

  async leaves(id: number): Promise<string[]> {
    const { rows } = await this.db.query<{ hash: string }>('SELECT hash FROM sink_batches WHERE anchor_id = $1 ORDER BY anchor_index', [id]);
    return rows.map((r) => r.hash);
  }

  async unanchoredCount(): Promise<number> {
    const { rows } = await this.db.query<{ n: string }>('SELECT count(*) AS n FROM sink_batches WHERE anchor_id IS NULL');
    return Number(rows[0]!.n);
  }
}

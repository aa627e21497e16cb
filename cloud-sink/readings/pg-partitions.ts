// Keeps the monthly partitions of the readings table (readings_data) ahead of time: at start and
// then every few hours, the current month and `monthsAhead` after it exist. A month that already
// has rows in the default partition (a device that sent its history late, a clock running ahead)
// is created too, within the last `monthsBack` months, and takes those rows over. Readings beyond
// that stay in the default partition: stored, answered, only slower to scan. Several sink
// processes may run this at once: each month is created under a transaction-scoped advisory lock.
import type pg from 'pg';
import type { Logger } from 'pino';
import { silentLogger } from '../../kernel/log.ts';
import { inTransaction } from '../store/pg-tx.ts';

/** pg_advisory_xact_lock key for partition upkeep: "fprp" */
const PARTITION_LOCK = 0x66707270;

export interface PartitionUpkeepOptions {
  db: () => pg.Pool;
  monthsAhead: number;
  /** how far back a month with rows in the default partition gets a partition of its own */
  monthsBack?: number;
  intervalMs?: number;
  log?: Logger;
  now?: () => number;
}

/** The partition of the month holding `ms` (UTC): its table name and [from, to) as ISO instants. */
export function monthPartition(ms: number): { name: string; from: string; to: string } {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const from = new Date(Date.UTC(y, m, 1));
  const to = new Date(Date.UTC(y, m + 1, 1));
  return { name: `readings_p${y}_${String(m + 1).padStart(2, '0')}`, from: from.toISOString(), to: to.toISOString() };
}

function addMonths(ms: number, k: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + k, 1);
}

export class ReadingPartitions {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> = Promise.resolve();
  private readonly log: Logger;

  private readonly opts: PartitionUpkeepOptions;

  constructor(opts: PartitionUpkeepOptions) {
    this.opts = opts;
    this.log = opts.log ?? silentLogger();
  }

  /** Create what is missing now (a failure here fails the start), then keep it so. */
  async start(): Promise<void> {
    await this.ensure();
    this.timer = setInterval(() => {
      this.running = this.ensure().catch((err) => this.log.error({ err: (err as Error).message }, 'readings partition upkeep failed; retried at the next interval'));
    }, this.opts.intervalMs ?? 6 * 3600_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Create the partitions that should exist now; returns the names created. */
  async ensure(): Promise<string[]> {
    const now = (this.opts.now ?? Date.now)();
    const months = new Set<number>();
    for (let k = 0; k <= this.opts.monthsAhead; k++) months.add(addMonths(now, k));
    const earliest = addMonths(now, -(this.opts.monthsBack ?? 24));
    const { rows } = await this.opts.db().query<{ month: string }>(
      `SELECT DISTINCT (extract(epoch FROM date_trunc('month', ts AT TIME ZONE 'UTC')) * 1000)::bigint AS month
       FROM readings_default WHERE ts >= to_timestamp($1::float8 / 1000) AND ts < to_timestamp($2::float8 / 1000)`,
      [earliest, addMonths(now, this.opts.monthsAhead + 1)]);
    for (const r of rows) months.add(Number(r.month));
    const created: string[] = [];
    for (const month of [...months].sort((a, b) => a - b)) {
      const name = await this.createMonth(month);
      if (name) created.push(name);
    }
    if (created.length > 0) this.log.info({ created }, 'readings partitions created');
    return created;
  }

  /** One month's partition, with the default partition's rows of that month moved into it. */
  private async createMonth(month: number): Promise<string | null> {
    const p = monthPartition(month);
    let moved: number | null;
    try {
      moved = await inTransaction(this.opts.db(), async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK]);
        const { rows } = await c.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [p.name]);
        if (rows[0]!.exists) return null;
        await c.query(`CREATE TABLE ${p.name} (LIKE readings_data INCLUDING DEFAULTS)`);
        const out = await c.query(
          `WITH moved AS (DELETE FROM readings_default WHERE ts >= $1 AND ts < $2 RETURNING *) INSERT INTO ${p.name} SELECT * FROM moved`, [p.from, p.to]);
        await c.query(`ALTER TABLE readings_data ATTACH PARTITION ${p.name} FOR VALUES FROM ('${p.from}') TO ('${p.to}')`);
        return out.rowCount ?? 0;
      });
    } catch (err) {
      throw new Error(`readings partition ${p.name}: ${(err as Error).message}`);
    }
    if (moved === null) return null;
    if (moved) this.log.info({ partition: p.name, moved }, 'readings moved out of the default partition');
    return p.name;
  }
}

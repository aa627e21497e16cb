// What the benches read of a PostgreSQL database the sinks use: the CPU of the backends serving
// it, its commits, and when the readings of the accepted batches are all queryable; and the
// dropping of a run's schema afterwards.
import pg from 'pg';
import { cpuSeconds } from '../kernel/proc-stats.ts';

/**
 * CPU seconds used so far by the PostgreSQL backends serving this database (the sinks'
 * connections), and the transactions committed in it.
 */
export async function databaseUse(url: string): Promise<{ cpu: Map<number, number>; commits: number }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
    const cpu = new Map<number, number>();
    for (const { pid } of rows) {
      try {
        cpu.set(pid, cpuSeconds(pid));
      } catch {
        // gone, or on another machine: not counted
      }
    }
    // the statistics are sent to the collector now and then: ask for a fresh snapshot
    await c.query('SELECT pg_stat_clear_snapshot()');
    const { rows: db } = await c.query<{ n: string }>('SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()');
    return { cpu, commits: Number(db[0]?.n ?? 0) };
  } finally {
    await c.end();
  }
}

/** CPU seconds the backends used between two of databaseUse's readings (a backend new since `before` counts from 0). */
export function backendCpuSince(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>): number {
  let s = 0;
  for (const [pid, cpu] of after) s += cpu - (before.get(pid) ?? 0);
  return s;
}

/** Wait until the PostgreSQL store in `schema` has written the readings of every batch it accepted. */
export async function readingsWritten(url: string, schema: string | undefined): Promise<void> {
  const c = new pg.Client({ connectionString: url, ...(schema ? { options: `-c search_path=${schema}` } : {}) });
  await c.connect();
  try {
    const deadline = Date.now() + 600_000;
    while ((await c.query<{ n: number }>('SELECT count(*)::int AS n FROM readings_pending')).rows[0]!.n > 0) {
      if (Date.now() > deadline) throw new Error('the readings of the drained batches were not written within 10 minutes');
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    await c.end();
  }
}

/** Drop a bench run's schema and all it holds. */
export async function dropSchema(url: string, schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await c.end();
  }
}

// One PostgreSQL transaction on a client of the pool: begun, committed when `fn` resolves, rolled
// back when it throws (the rollback's own failure is not the error worth reporting), and the
// client released either way.
import type pg from 'pg';

/** `begin`: the statement that opens it, with any SET LOCAL the transaction needs */
export async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query(begin);
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

import { sql, type DatabasePool } from 'slonik';

/**
 * Resolves true as soon as the database answers a trivial query (probed every `intervalMs`), false when it has not
 * within `timeoutMs`. What a queued engage waits on after a database failure: it runs again the moment PostgreSQL is
 * back, instead of sleeping out an exponential backoff.
 */
export const waitForDatabase = async (pool: DatabasePool, options: { intervalMs: number; timeoutMs: number }): Promise<boolean> => {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    try {
      await pool.query(sql.unsafe`SELECT 1`);
      return true;
    } catch {
      if (Date.now() + options.intervalMs > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
    }
  }
};

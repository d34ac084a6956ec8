import type { DatabasePool, DatabaseTransactionConnection } from 'slonik';
import { SQLSTATE, sqlstateOf, toDatabaseError } from './sqlstate.js';

export type TransactionOptions = {
  /** How many times a serialization failure or deadlock re-runs the whole callback (default 5). */
  retryLimit?: number;
};

const RERUNNABLE: ReadonlySet<string> = new Set([SQLSTATE.serializationFailure, SQLSTATE.deadlockDetected]);

/**
 * Runs `handler` in one transaction: commit when it resolves, rollback when it throws, the connection released
 * either way (slonik's pool.transaction guarantees both). A serialization failure or deadlock re-runs the callback,
 * so it must be safe to re-run: database work only, no Redis, HTTP or other side effects that must not repeat.
 * @throws RetryableDatabaseError for a lost connection or retries exhausted; DatabaseConflictError for a unique
 *   violation; any error the handler throws, unchanged.
 */
export const runInTransaction = async <T>(
  pool: DatabasePool,
  handler: (tx: DatabaseTransactionConnection) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> => {
  const retryLimit = options.retryLimit ?? 5;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await pool.transaction(handler, 0);
    } catch (error) {
      const sqlstate = sqlstateOf(error);
      if (sqlstate !== undefined && RERUNNABLE.has(sqlstate) && attempt < retryLimit) continue;
      throw toDatabaseError(error);
    }
  }
};

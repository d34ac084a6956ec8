import type { DatabasePool } from 'slonik';
import { createDatabasePool, type DatabasePoolOptions } from './createDatabasePool.js';

/**
 * createDatabasePool, retried until `deadlineMs` passes: slonik connects when the pool is created, so a service
 * started during a short database outage (a restart, a failover) would otherwise die at once and crash-loop.
 * @throws the last connection error once the deadline has passed.
 */
export const connectDatabasePool = async (
  options: DatabasePoolOptions,
  retry: { deadlineMs: number; onRetry: (error: unknown, attempt: number) => void },
): Promise<DatabasePool> => {
  const deadline = Date.now() + retry.deadlineMs;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await createDatabasePool(options);
    } catch (error) {
      if (Date.now() >= deadline) throw error;
      retry.onRetry(error, attempt);
      await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** attempt, 5_000)));
    }
  }
};

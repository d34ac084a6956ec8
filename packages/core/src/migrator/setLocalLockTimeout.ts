import { sql, type DatabaseTransactionConnection } from 'slonik';

/**
 * PostgreSQL's lock_timeout for the rest of the transaction (SET LOCAL): a revision that waits on a busy table fails
 * fast instead of queueing every query of the live service behind its lock request.
 */
export const setLocalLockTimeout = async (tx: DatabaseTransactionConnection, timeoutMs: number): Promise<void> => {
  await tx.query(sql.unsafe`SELECT set_config('lock_timeout', ${String(timeoutMs)}, true)`);
};

import type { DatabasePoolConnection, DatabaseTransactionConnection } from 'slonik';

/** Carries the callback's result out of a transaction that must not commit. */
class RolledBack<T> extends Error {
  readonly value: T;
  constructor(value: T) {
    super('rolled back on purpose');
    this.value = value;
  }
}

/**
 * Runs `fn` in a transaction that is always rolled back (the dry run of the downs), and returns what `fn` returned.
 * slonik commits a transaction whose callback resolves, so the result leaves it as a throw: on a connection, not a
 * pool, whose connection slonik would discard for the throw. Not re-run on a serialization failure.
 */
export const inRolledBackTransaction = async <T>(db: DatabasePoolConnection, fn: (tx: DatabaseTransactionConnection) => Promise<T>): Promise<T> => {
  try {
    await db.transaction(async (tx) => {
      throw new RolledBack(await fn(tx));
    }, 0);
  } catch (outcome) {
    if (outcome instanceof RolledBack) return outcome.value as T;
    throw outcome;
  }
  throw new Error('inRolledBackTransaction: the transaction committed');
};

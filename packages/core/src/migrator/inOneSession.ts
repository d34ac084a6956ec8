import type { DatabasePool, DatabasePoolConnection } from 'slonik';

/** What the migrator runs on: a slonik pool, or one connection of it, handed in by its caller. */
export type MigrationDatabase = DatabasePool | DatabasePoolConnection;

/**
 * Runs `fn` on one session of `db`: the connection itself, or one of the pool's for the length of `fn`. What holds
 * the session lock needs one; so does a series of short transactions, which then skip the pool's reset between them.
 */
export const inOneSession = <T>(db: MigrationDatabase, fn: (connection: DatabasePoolConnection) => Promise<T>): Promise<T> =>
  'connect' in db ? db.connect(fn) : fn(db);

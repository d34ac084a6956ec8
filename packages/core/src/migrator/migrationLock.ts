import { sql, type DatabasePoolConnection } from 'slonik';
import { SQLSTATE, sqlstateOf } from '../db/sqlstate.js';
import { MigrationError } from '../errors/index.js';
import { inOneSession, type MigrationDatabase } from './inOneSession.js';

/**
 * The name of the lock that serialises every runner on one database, whatever the process (older runners hash the
 * same name, so a deploy that mixes versions still runs one at a time).
 */
const LOCK_NAME = 'valhalla-go-live:migrations';

/**
 * Runs `fn` on one session of `db` that holds the migration lock, waiting at most `timeoutMs` for another runner to
 * release it. A session lock, not a transaction lock: each revision commits in its own transaction while it is held.
 * Released when `fn` settles (and, on a pooled connection, by the pool's reset when the connection is handed back).
 * @throws MigrationError MIGRATION_LOCK_TIMEOUT when another runner held the lock for longer than `timeoutMs`.
 */
export const withMigrationLock = <T>(db: MigrationDatabase, timeoutMs: number, fn: (connection: DatabasePoolConnection) => Promise<T>): Promise<T> =>
  inOneSession(db, async (connection) => {
    try {
      await connection.query(sql.unsafe`SELECT set_config('lock_timeout', ${String(Math.max(1, Math.floor(timeoutMs)))}, false)`);
      await connection.query(sql.unsafe`SELECT pg_advisory_lock(hashtextextended(${LOCK_NAME}, 0))`);
    } catch (cause) {
      if (sqlstateOf(cause) === SQLSTATE.lockNotAvailable) {
        throw new MigrationError('MIGRATION_LOCK_TIMEOUT', `another migration runner held the lock for more than ${timeoutMs} ms`, { cause });
      }
      throw cause;
    } finally {
      await connection.query(sql.unsafe`RESET lock_timeout`).catch(() => {});
    }
    try {
      return await fn(connection);
    } finally {
      await connection.query(sql.unsafe`SELECT pg_advisory_unlock(hashtextextended(${LOCK_NAME}, 0))`).catch(() => {});
    }
  });

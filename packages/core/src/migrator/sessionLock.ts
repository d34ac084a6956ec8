import pg from 'pg';
import { sql, type DatabaseTransactionConnection } from 'slonik';
import { createDatabasePool } from '../db/createDatabasePool.js';
import { MigrationError } from '../errors/index.js';

type ConnectionOptions = { databaseUrl: string };

/**
 * Serialises every runner on one database, whatever the process. A session lock (not a transaction lock) because
 * each revision commits in its own transaction while the lock is held.
 */
const LOCK_KEY_SQL = `hashtextextended('valhalla-go-live:migrations', 0)`;

const LOCK_NOT_AVAILABLE = '55P03';

export const withClient = async <T>(options: ConnectionOptions, fn: (client: pg.Client) => Promise<T>): Promise<T> => {
  // keepAlive: a runner that vanished behind a half-open connection would otherwise hold the session lock until the
  // server noticed, and every other runner would time out waiting for it.
  const client = new pg.Client({
    connectionString: options.databaseUrl,
    application_name: 'valhalla-migrate',
    keepAlive: true,
    connectionTimeoutMillis: 10_000,
  });
  // An error event on an idle client would otherwise crash the process; the failing query reports it instead.
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
};

export const withLock = async <T>(client: pg.Client, timeoutMs: number, fn: () => Promise<T>): Promise<T> => {
  try {
    await client.query(`SET lock_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
    await client.query(`SELECT pg_advisory_lock(${LOCK_KEY_SQL})`);
    await client.query('RESET lock_timeout');
  } catch (cause) {
    if ((cause as { code?: string }).code === LOCK_NOT_AVAILABLE) {
      throw new MigrationError('MIGRATION_LOCK_TIMEOUT', `another migration runner held the lock for more than ${timeoutMs} ms`, { cause });
    }
    throw cause;
  }
  try {
    return await fn();
  } finally {
    await client.query(`SELECT pg_advisory_unlock(${LOCK_KEY_SQL})`).catch(() => {});
  }
};


/**
 * Runs `fn` in one slonik transaction on a connection of its own that holds the migration lock: stamp and repair
 * write the ledger and their audit event (the audit append function is slonik) together.
 */
export const inLockedSlonikTransaction = async <T>(
  options: ConnectionOptions,
  lockTimeoutMs: number,
  fn: (tx: DatabaseTransactionConnection) => Promise<T>,
): Promise<T> => {
  const pool = await createDatabasePool({ connectionUri: options.databaseUrl, maxPoolSize: 1, applicationName: 'valhalla-migrate' });
  try {
    return await pool.connect(async (connection) => {
      try {
        await connection.query(sql.unsafe`SET lock_timeout = ${sql.literalValue(String(Math.max(1, Math.floor(lockTimeoutMs))))}`);
        await connection.query(sql.unsafe`SELECT pg_advisory_lock(hashtextextended('valhalla-go-live:migrations', 0))`);
        await connection.query(sql.unsafe`RESET lock_timeout`);
      } catch (cause) {
        throw new MigrationError('MIGRATION_LOCK_TIMEOUT', `another migration runner held the lock for more than ${lockTimeoutMs} ms`, { cause });
      }
      try {
        return await connection.transaction(fn);
      } finally {
        await connection.query(sql.unsafe`SELECT pg_advisory_unlock(hashtextextended('valhalla-go-live:migrations', 0))`).catch(() => {});
      }
    });
  } finally {
    await pool.end();
  }
};


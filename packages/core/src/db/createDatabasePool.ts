import { createPool, type DatabasePool, type DriverTypeParser } from 'slonik';

export type DatabasePoolOptions = {
  connectionUri: string;
  maxPoolSize: number;
  applicationName: string;
  /** Milliseconds to wait for a new connection before failing (fast failure keeps /health and jobs responsive). */
  connectionTimeoutMs?: number;
  /** Default 30 s; `DISABLE_TIMEOUT` for the migrate command, whose revisions and lock waits have bounds of their own. */
  statementTimeoutMs?: number | 'DISABLE_TIMEOUT';
  /** Default 2 s (see below); `DISABLE_TIMEOUT` for the migrate command, whose export keeps a read-only snapshot open while it writes to disk. */
  idleInTransactionTimeoutMs?: number | 'DISABLE_TIMEOUT';
};

/**
 * Timestamps come back as ISO-8601 strings (JSON-ready, no precision games); `timestamp without time zone` columns
 * from the origin tables hold UTC by convention. int8 comes back as a number: our ids stay far below 2^53.
 */
const TYPE_PARSERS: readonly DriverTypeParser[] = [
  { name: 'int8', parse: (value: string) => Number.parseInt(value, 10) },
  { name: 'numeric', parse: (value: string) => Number.parseFloat(value) },
  { name: 'timestamp', parse: (value: string) => new Date(`${value.replace(' ', 'T')}Z`).toISOString() },
  { name: 'timestamptz', parse: (value: string) => new Date(value).toISOString() },
];

/**
 * Every transaction of the product reasons in READ COMMITTED (a governance change locks row 1 and then reads with a
 * new snapshot), whatever the database's or role's default: set once per connection, at startup, instead of a
 * `SET TRANSACTION` round trip in every transaction. Appended to options the URL may carry, so it wins.
 */
const READ_COMMITTED_OPTION = '-c default_transaction_isolation=read\\ committed';

/**
 * What a connection returned to the pool must not carry to its next user: session settings (back to the startup
 * values, READ COMMITTED included) and session advisory locks. Not slonik's default `DISCARD ALL`, which also drops
 * every cached plan, so each transaction re-planned every statement of the triggers and functions a governance
 * change runs (about 0.7 ms of every change). The product keeps no other session
 * state on pooled connections (no temporary tables, cursors or LISTEN: the live-state listener has a connection of
 * its own) except the named prepared statements of the change path (preparedStatements.ts), which are meant to
 * outlive their user: parsed and planned once per connection. Runs after the connection was released by its user, off the request's path.
 */
const resetSession = async ({ query }: { query: (sql: string) => Promise<void> }): Promise<void> => {
  // One statement, one round trip (slonik refuses several statements in one query): every release runs it (each
  // request's acceptance, each worker batch), and a second round trip cost about a tenth of the api's CPU per change.
  await query('DO $$BEGIN RESET ALL; PERFORM pg_advisory_unlock_all(); END$$');
};

/** Creates the slonik pool every service uses. Close it with `pool.end()`. */
export const createDatabasePool = async (options: DatabasePoolOptions): Promise<DatabasePool> => {
  const url = new URL(options.connectionUri);
  if (!url.searchParams.has('application_name')) url.searchParams.set('application_name', options.applicationName);
  const given = url.searchParams.get('options');
  url.searchParams.set('options', given === null || given.trim() === '' ? READ_COMMITTED_OPTION : `${given} ${READ_COMMITTED_OPTION}`);
  return createPool(url.toString(), {
    maxPoolSize: options.maxPoolSize,
    connectionTimeout: options.connectionTimeoutMs ?? 5_000,
    statementTimeout: options.statementTimeoutMs ?? 30_000,
    // A transaction idle this long holds its locks for nothing: its process is frozen (SIGSTOP, a VM pause, a long
    // collection) or gone. Row 1 is every change's lock, so PostgreSQL ends such a session (an engage preempts sooner,
    // see preemptIdleLockHolders); the transaction rolls back and its jobs are retried.
    idleInTransactionSessionTimeout: options.idleInTransactionTimeoutMs ?? 2_000,
    idleTimeout: 10_000,
    // Retries of whole transactions are decided by runInTransaction, where the callback is known to be safe to re-run.
    transactionRetryLimit: 0,
    queryRetryLimit: 3,
    connectionRetryLimit: 1,
    captureStackTrace: false,
    typeParsers: TYPE_PARSERS,
    resetConnection: resetSession,
  });
};

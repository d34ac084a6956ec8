export { createDatabasePool, type DatabasePoolOptions } from './createDatabasePool.js';
export { connectDatabasePool } from './connectDatabasePool.js';
export { listenChannel, type ChannelListener } from './listenChannel.js';
export { runInTransaction, type TransactionOptions } from './runInTransaction.js';
export { waitForDatabase } from './waitForDatabase.js';
export { SQLSTATE, isRetryableDatabaseError, isTransientFailure, sqlstateOf, toDatabaseError, wasNeverSent } from './sqlstate.js';
export { sql } from 'slonik';
export type { DatabasePool, DatabaseTransactionConnection, CommonQueryMethods } from 'slonik';

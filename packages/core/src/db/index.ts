export { createDatabasePool, type DatabasePoolOptions } from './createDatabasePool.js';
export { connectDatabasePool } from './connectDatabasePool.js';
export { runInTransaction, type TransactionOptions } from './runInTransaction.js';
export { SQLSTATE, isRetryableDatabaseError, isTransientFailure, sqlstateOf, toDatabaseError } from './sqlstate.js';
export { sql } from 'slonik';
export type { DatabasePool, DatabaseTransactionConnection, CommonQueryMethods } from 'slonik';

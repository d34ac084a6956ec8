export { createDatabasePool } from './createDatabasePool.js';
export { connectDatabasePool } from './connectDatabasePool.js';
export { listenChannel } from './listenChannel.js';
export { runInTransaction } from './runInTransaction.js';
export { waitForDatabase } from './waitForDatabase.js';
export { isRetryableDatabaseError, isTransientFailure, sqlstateOf, wasNeverSent } from './sqlstate.js';
export { sql } from 'slonik';
export type { DatabasePool, CommonQueryMethods } from 'slonik';

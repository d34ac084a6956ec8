import type { Config, createRedisConnection, DatabasePool, GovernanceQueues, Logger } from '@valhalla/core';

/** The producer Redis connection (fail-fast, no offline queue) shared by the queues and the health check. */
export type ProducerRedis = ReturnType<typeof createRedisConnection>;

/** What the runbook status needs from the migrator: the code's head and the database's applied/pending revisions. */
export type MigrationStatusSource = {
  status(): Promise<{ head: string; applied: readonly { revision: string }[]; pending: readonly string[] }>;
};

/**
 * Everything the server uses, created and owned by the caller (main.ts, or a test). The server never closes them:
 * the caller closes them after `app.close()`, in order.
 */
export type ApiDependencies = {
  config: Config;
  logger: Logger;
  pool: DatabasePool;
  redis: ProducerRedis;
  queues: GovernanceQueues;
  migrations: MigrationStatusSource;
};

import type { Config, createRedisConnection, DatabasePool, GovernanceQueues, LiveStateListener, Logger } from '@valhalla/core';
import type { HostResolver } from '@valhalla/core/notifications';

/** The producer Redis connection (fail-fast, no offline queue) shared by the queues and the health check. */
export type ProducerRedis = ReturnType<typeof createRedisConnection>;

/**
 * What the runbook status needs from the migrator: the code's revision chain (loaded once). Applied revisions are read
 * through the pool, so a status request never opens a connection of its own.
 */
export type MigrationStatusSource = {
  chain(): Promise<{ head: string; revisions: readonly { id: string }[] }>;
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
  /**
   * The live state kept current by LISTEN/NOTIFY. Optional: without it the server starts a listener of its own on
   * `config.databaseUrl` and ends it when the server closes.
   */
  liveState?: LiveStateListener;
  /** Resolves notification target hosts (dns.lookup when absent); tests give names the addresses they need. */
  resolveHost?: HostResolver;
};

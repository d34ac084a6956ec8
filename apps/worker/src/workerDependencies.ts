import {
  applyGovernanceBatch,
  connectDatabasePool,
  createDatabasePool,
  createRedisConnection,
  type Config,
  type DatabasePool,
  type Lifecycle,
  type RedisClient,
} from '@valhalla/core';
import { createMigrator, defaultMigrationsDir, type Migrator } from '@valhalla/core/migrator';
import type { BatchApplier } from './processors/changeBatcher.js';

/**
 * What the worker app runs on, created by its caller (main.ts, a test, the benchmark) and closed by the lifecycle the
 * caller created them with: their closing steps are registered before the app's, so they run after the app drained.
 */
export type WorkerDependencies = {
  pool: DatabasePool;
  migrator: Migrator;
  /** Opens a Redis connection for one role (`worker` connections block; `producer` ones fail fast). */
  redis: (role: string, kind?: 'worker' | 'producer') => RedisClient;
  /** The group-commit applier: applyGovernanceBatch on the pool (main.ts may wrap it with the test-only fault). */
  applyBatch: BatchApplier;
};

const POOL_END_TIMEOUT_MS = 5_000;

/**
 * The production dependencies of a worker: the database pool, the migrator of `migrationsDir` (default: the
 * repository's migrations/), Redis connections to config.redis (any topology), and the batch applier on the pool. Registers
 * their closing steps with `lifecycle`: Redis connections, then (closing last) the pool.
 */
export const createWorkerDependencies = async (options: {
  config: Config;
  lifecycle: Lifecycle;
  migrationsDir?: string | undefined;
  /**
   * Keep trying to reach PostgreSQL this long at startup (main.ts: as the api does), so a worker started during a
   * short outage (a restart, a failover) waits instead of crash-looping. Without it, one attempt.
   */
  connectRetry?: { deadlineMs: number; onRetry: (error: unknown, attempt: number) => void } | undefined;
}): Promise<WorkerDependencies> => {
  const { config, lifecycle } = options;
  const poolOptions = { connectionUri: config.databaseUrl, maxPoolSize: config.databasePoolSize, applicationName: 'valhalla-worker' };
  const pool = options.connectRetry === undefined ? await createDatabasePool(poolOptions) : await connectDatabasePool(poolOptions, options.connectRetry);
  // Waits for connections still held by a job abandoned at the drain deadline (its lock expires and it is redelivered).
  lifecycle.add('end database pool', () => pool.end(), { timeoutMs: POOL_END_TIMEOUT_MS });
  const connections: RedisClient[] = [];
  lifecycle.add('close redis connections', () => connections.forEach((connection) => connection.disconnect()));
  return {
    pool,
    migrator: createMigrator({ db: pool, migrationsDir: options.migrationsDir ?? defaultMigrationsDir() }),
    redis: (role, kind = 'worker') => {
      const connection = createRedisConnection(config.redis, kind, `valhalla-worker:${role}`);
      connections.push(connection);
      return connection;
    },
    applyBatch: (requests, batchOptions) => applyGovernanceBatch(pool, requests, batchOptions),
  };
};

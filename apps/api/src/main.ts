import { connectDatabasePool, createGovernanceQueues, createLogger, createRedisConnection, exitAfterFlush, loadConfigOrExit } from '@valhalla/core';
import { assertSchemaCompatible, createMigrator, defaultMigrationsDir } from '@valhalla/core/migrator';
import { buildServer } from './server.js';
import { createApiShutdown } from './shutdown.js';

/**
 * The api entrypoint: parses the config once, wires the dependencies, listens, and owns the signals. Shutdown stops
 * intake (new requests get 503 SHUTTING_DOWN), lets in-flight requests finish, then closes the queues, Redis and the
 * pool, each step running even if an earlier one failed, and exits 0.
 */
const config = loadConfigOrExit(process.env, 'api');
const logger = createLogger({
  name: 'valhalla-api',
  level: config.logLevel,
  pretty: config.nodeEnv === 'development' && process.stdout.isTTY === true,
  bindings: { release: config.release },
});

/** How long the api keeps trying to reach PostgreSQL at startup before it gives up (and the platform restarts it). */
const DATABASE_STARTUP_DEADLINE_MS = 60_000;

const pool = await connectDatabasePool(
  { connectionUri: config.databaseUrl, maxPoolSize: config.databasePoolSize, applicationName: 'valhalla-api', connectionTimeoutMs: 2_000 },
  {
    deadlineMs: DATABASE_STARTUP_DEADLINE_MS,
    onRetry: (err, attempt) => logger.warn({ err, attempt }, 'PostgreSQL is not reachable yet; retrying'),
  },
).catch((err: unknown) => {
  logger.fatal({ err }, 'PostgreSQL stayed unreachable; giving up');
  exitAfterFlush(logger, 1);
  return new Promise<never>(() => {});
});
const redis = createRedisConnection(config.redisUrl, 'producer', 'valhalla-api');
const queues = createGovernanceQueues({ connection: redis, prefix: config.queuePrefix });
for (const queue of Object.values(queues.byName)) {
  // A Queue re-emits connection errors; without a listener an 'error' event would crash the process.
  queue.on('error', (error) => logger.debug({ err: error, queue: queue.name }, 'queue connection error'));
}
const migrator = createMigrator({ databaseUrl: config.databaseUrl, migrationsDir: defaultMigrationsDir() });
// Code behind the database (a rollback, or this release starting beside a newer one) runs only when every revision
// it does not know was marked compatible: a breaking one changed something this code relies on.
try {
  assertSchemaCompatible(await migrator.status());
} catch (err) {
  logger.fatal({ err }, `api refuses to start: ${err instanceof Error ? err.message : String(err)}`);
  await Promise.allSettled([queues.close(), pool.end()]);
  redis.disconnect();
  exitAfterFlush(logger, 1);
  await new Promise<never>(() => {});
}

const app = await buildServer({ config, logger, pool, redis, queues, migrations: migrator });

const shutdown = createApiShutdown(
  [
    { name: 'http server (drain in-flight requests)', run: () => app.close(), timeoutMs: config.shutdownTimeoutMs },
    { name: 'queues', run: () => queues.close(), timeoutMs: 5_000 },
    {
      name: 'redis',
      run: async () => {
        try {
          await redis.quit();
        } catch {
          // quit needs a live connection; while Redis is down, drop the socket instead.
          redis.disconnect();
        }
      },
      timeoutMs: 3_000,
    },
    { name: 'database pool', run: () => pool.end(), timeoutMs: 5_000 },
  ],
  logger,
);

/** Past the drain deadline plus the bounded closing steps, something is stuck: exit rather than hang. */
const HARD_EXIT_GRACE_MS = 15_000;

const onSignal = (signal: NodeJS.Signals) => {
  logger.info({ signal }, 'shutting down');
  setTimeout(() => {
    logger.error('shutdown did not finish in time; exiting');
    process.exit(1);
  }, config.shutdownTimeoutMs + HARD_EXIT_GRACE_MS).unref();
  void shutdown().then(({ completed, failed }) => {
    // One line with the order the steps ran in: separate log lines can reach a pipe out of order at exit.
    logger.info({ completed, failed }, 'api stopped');
    exitAfterFlush(logger, 0);
  });
};
// on, not once: a second signal while draining must not fall back to Node's default (an abrupt exit).
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);

try {
  const url = await app.listen({ host: config.host, port: config.port });
  logger.info({ url }, `api listening on ${url}`);
} catch (error) {
  logger.fatal({ err: error }, 'api failed to start');
  await shutdown();
  exitAfterFlush(logger, 1);
}

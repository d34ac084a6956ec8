import {
  connectDatabasePool,
  createGovernanceQueues,
  createLifecycle,
  createLogger,
  createRedisConnection,
  exitAfterFlush,
  handleShutdownSignals,
  loadConfigOrExit,
  recordApprovalsRequired,
} from '@valhalla/core';
import { processEnvironment } from '@valhalla/core/env';
import { assertSchemaCompatible, createMigrator, defaultMigrationsDir } from '@valhalla/core/migrator';
import { buildServer } from './server.js';

/**
 * The api entrypoint: parses the config once, wires the dependencies, listens, and owns the signals. Each resource
 * registers its closing step with the shared lifecycle as it is created, so shutdown closes exactly what exists, in
 * reverse order: stop intake (new requests get 503 SHUTTING_DOWN) and let in-flight requests finish, then the queues,
 * Redis and the pool, each step bounded and run even if an earlier one failed, and exits 0.
 * Redis is not waited for: the api starts and applies engages and disables in the request, and records other changes for the reconciler to enqueue, while it is down.
 */
const config = loadConfigOrExit(processEnvironment(), 'api');
const logger = createLogger({
  name: 'valhalla-api',
  level: config.logLevel,
  pretty: config.nodeEnv === 'development' && process.stdout.isTTY === true,
  bindings: { release: config.release },
});
const lifecycle = createLifecycle(logger);
for (const deprecation of config.deprecations) logger.warn(deprecation);
handleShutdownSignals({ lifecycle, logger, shutdownTimeoutMs: config.shutdownTimeoutMs, stoppedMessage: 'api stopped' });

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
lifecycle.add('database pool', () => pool.end(), { timeoutMs: 5_000 });

const redis = createRedisConnection(config.redis, 'producer', 'valhalla-api');
lifecycle.add(
  'redis',
  async () => {
    try {
      await redis.quit();
    } catch {
      // quit needs a live connection; while Redis is down, drop the socket instead.
      redis.disconnect();
    }
  },
  { timeoutMs: 3_000 },
);

const queues = createGovernanceQueues({ connection: redis, prefix: config.queuePrefix });
for (const queue of Object.values(queues.byName)) {
  // A Queue re-emits connection errors; without a listener an 'error' event would crash the process.
  queue.on('error', (error) => logger.debug({ err: error, queue: queue.name }, 'queue connection error'));
}
lifecycle.add('queues', () => queues.close(), { timeoutMs: 5_000 });

const migrator = createMigrator({ db: pool, migrationsDir: defaultMigrationsDir() });
// Code behind the database (a rollback, or this release starting beside a newer one) runs only when every revision
// it does not know was marked compatible: a breaking one changed something this code relies on.
try {
  assertSchemaCompatible(await migrator.status());
} catch (err) {
  logger.fatal({ err }, `api refuses to start: ${err instanceof Error ? err.message : String(err)}`);
  await lifecycle.close();
  exitAfterFlush(logger, 1);
  await new Promise<never>(() => {});
}

// The api's APPROVALS_REQUIRED is the one the workers must share: recorded in the audit log when it changes, and a
// worker with another value refuses to start.
try {
  const approvals = await recordApprovalsRequired(pool, config.auditKeyring, { value: config.approvalsRequired, release: config.release });
  if (approvals.changed) {
    logger.warn({ from: approvals.previous, to: config.approvalsRequired }, 'APPROVALS_REQUIRED changed: workers must run with the same value (others refuse to start)');
  }
} catch (err) {
  logger.fatal({ err }, 'api refuses to start: could not record APPROVALS_REQUIRED');
  await lifecycle.close();
  exitAfterFlush(logger, 1);
  await new Promise<never>(() => {});
}

const app = await buildServer({ config, logger, pool, redis, queues, migrations: migrator });
lifecycle.add('http server (drain in-flight requests)', () => app.close(), { timeoutMs: config.shutdownTimeoutMs });

try {
  const url = await app.listen({ host: config.host, port: config.port });
  logger.info({ url }, `api listening on ${url}`);
} catch (error) {
  logger.fatal({ err: error }, 'api failed to start');
  await lifecycle.close();
  exitAfterFlush(logger, 1);
}

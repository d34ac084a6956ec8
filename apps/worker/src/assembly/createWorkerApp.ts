import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { createGovernanceQueues, type Config, type DatabasePool, type GovernanceQueues, type Lifecycle, type Logger, type RedisClient } from '@valhalla/core';
import { assertSchemaCompatible, type Migrator } from '@valhalla/core/migrator';
import type { HostResolver } from '@valhalla/core/notifications';
import { assertApprovalsAgree } from '../assertApprovalsAgree.js';
import { createDriftHandler, DRIFT_ACTIONS, type DriftAction } from '../createDriftHandler.js';
import { createWorkerMetrics, type WorkerMetrics } from '../metrics/createWorkerMetrics.js';
import { startNotificationHousekeeping } from '../notifications/notificationHousekeeping.js';
import { createNotificationMetrics } from '../notifications/notificationMetrics.js';
import { startNotificationDelivery } from '../notifications/startNotificationDelivery.js';
import { createChangeBatcher } from '../processors/changeBatcher.js';
import { startHeartbeat } from '../startHeartbeat.js';
import { startReconciler } from '../startReconciler.js';
import { startSafetyLaneGuard } from '../startSafetyLaneGuard.js';
import { throttledErrorLog } from '../throttledErrorLog.js';
import type { ApiHealthOptions } from '../verification/checkApiHealth.js';
import type { WorkerDependencies } from '../workerDependencies.js';
import { DEFAULT_WORKER_TUNING, type WorkerTuning } from '../workerTuning.js';
import { createJobProcessors } from './createJobProcessors.js';
import { requestStartupVerification } from './requestStartupVerification.js';
import { serveWorkerMetrics } from './serveWorkerMetrics.js';
import { startQueueWorkers } from './startQueueWorkers.js';

/** The log message printed once both queue workers run; tests and operators wait for it. */
export const WORKER_READY_MESSAGE = 'worker ready';

export type WorkerAppOptions = {
  config: Config;
  logger: Logger;
  /** The pool, migrator, Redis connections and batch applier (workerDependencies.ts), created with `lifecycle`. */
  dependencies: WorkerDependencies;
  /**
   * Where the worker registers the closing step of each resource as it creates it: the one the dependencies were
   * created with (main.ts's, which its signal handler closes). `close()` closes it.
   */
  lifecycle: Lifecycle;
  tuning?: Partial<WorkerTuning> | undefined;
  apiHealth?: ApiHealthOptions | undefined;
  /**
   * The watchdog's period in seconds (main.ts passes VERIFY_INTERVAL_SECONDS, default 900); 0 removes the scheduler;
   * undefined leaves the scheduler as it is (in-process uses such as tests and benchmarks).
   */
  verifyIntervalSeconds?: number | undefined;
  driftAction?: DriftAction | undefined;
  /** Operator token for the runbook status probe (VERIFY_API_TOKEN). */
  verifyApiToken?: string | undefined;
  /** Resolves notification target hosts (dns.lookup by default); tests point names at chosen addresses. */
  resolveNotificationHost?: HostResolver | undefined;
};

export type WorkerApp = {
  readonly workerId: string;
  readonly migrationHead: string;
  /** The port `GET /metrics` is served on, when config.metricsPort is set (the bound one when it was 0). */
  readonly metricsPort: number | undefined;
  /**
   * Stops the worker through its lifecycle, in reverse order of creation: the metrics listener, the background loops
   * (reconciler, safety lane guard, notifications), then stop taking jobs and let in-flight ones finish (up to
   * config.shutdownTimeoutMs), close the queues, stop the heartbeat and delete its row, close Redis connections, end
   * the pool. Idempotent (memoised); every step runs even when one fails; never rejects.
   */
  close(): Promise<void>;
};

const QUEUES_CLOSE_TIMEOUT_MS = 2_000;

/** What every step of the assembly works with. */
type Assembly = {
  config: Config;
  tuning: WorkerTuning;
  workerId: string;
  log: Logger;
  metrics: WorkerMetrics;
  pool: DatabasePool;
  migrator: Migrator;
  lifecycle: Lifecycle;
};

/**
 * Refuses to run on a schema changed by a breaking revision this code does not know (a rollback too far), or with
 * another four-eyes rule than the api's (this worker would apply what the api holds back). Resolves to the migration
 * head of this code: a property of the code this process runs, computed once, not of the database.
 */
const checkCompatibility = async ({ migrator, pool, config }: Assembly): Promise<string> => {
  const migrationHead = (await migrator.chain()).head;
  assertSchemaCompatible(await migrator.status());
  await assertApprovalsAgree(pool, config.approvalsRequired);
  return migrationHead;
};

const startHeartbeatStep = async ({ pool, workerId, config, log, lifecycle }: Assembly): Promise<void> => {
  const heartbeat = await startHeartbeat({ pool, workerId, release: config.release, intervalMs: config.heartbeatIntervalMs, log });
  lifecycle.add('delete heartbeat row', () => heartbeat.remove());
  lifecycle.add('stop heartbeat', () => heartbeat.stop());
};

/** The producer side of the queues, created before any worker: processors (drift engages) and loops enqueue on them. */
const openQueues = ({ config, log, lifecycle }: Assembly, connection: RedisClient): GovernanceQueues => {
  const queues = createGovernanceQueues({ connection, prefix: config.queuePrefix });
  for (const queue of Object.values(queues.byName)) queue.on('error', throttledErrorLog(log, 'queue error'));
  lifecycle.add('close queues', () => queues.close(), { timeoutMs: QUEUES_CLOSE_TIMEOUT_MS });
  return queues;
};

/** Notifications need no queue: PostgreSQL's outbox is the record and the queue (notifications/). */
const startNotifications = ({ pool, config, workerId, log, metrics, lifecycle }: Assembly, resolve: HostResolver | undefined): void => {
  const notificationLog = log.child({ component: 'notifications' });
  const delivery = startNotificationDelivery({
    pool,
    databaseUrl: config.databaseUrl,
    settings: config.notifications,
    auditKeyring: config.auditKeyring,
    workerId,
    release: config.release,
    log: notificationLog,
    metrics: createNotificationMetrics(metrics.registry),
    resolve,
  });
  lifecycle.add('stop notification delivery', () => delivery.stop());
  const housekeeping = startNotificationHousekeeping({ pool, settings: config.notifications, log: notificationLog });
  lifecycle.add('stop notification housekeeping', () => housekeeping.stop());
};

/** The loops that keep Redis in step with PostgreSQL: the safety lane guard and the reconciler of accepted jobs. */
const startReconciliation = ({ pool, config, tuning, workerId, log, metrics, lifecycle }: Assembly, queues: GovernanceQueues): void => {
  const safetyLaneGuard = startSafetyLaneGuard({ queues, pool, keyring: config.auditKeyring, log });
  lifecycle.add('stop safety lane guard', () => safetyLaneGuard.stop());
  const reconciler = startReconciler({
    pool,
    queues,
    workerId,
    log: log.child({ component: 'reconciler' }),
    intervalMs: tuning.reconcileIntervalMs,
    graceMs: tuning.reconcileGraceMs,
    onReenqueued: (queue, count) => metrics.reenqueued(queue, count),
  });
  lifecycle.add('stop reconciler', () => reconciler.stop());
};

/**
 * Starts a worker process's machinery on its dependencies, in named steps that each register their closing with the
 * lifecycle: compatibility checks, heartbeat, queues, one BullMQ Worker per queue running the processor table,
 * notifications, reconciliation, the startup verification for this release, metrics. Resolves once the workers run.
 * Signals are the entrypoint's business: this only exposes `close()`.
 * @throws MigrationError when the revision chain cannot be loaded or the database has a breaking revision this code
 *   does not know (MIGRATION_BREAKING_UNKNOWN); ConfigError when the four-eyes rule differs from the api's; database
 *   errors of the first heartbeat. Whatever was opened before the failure is closed (the whole lifecycle,
 *   dependencies included).
 */
export const createWorkerApp = async (options: WorkerAppOptions): Promise<WorkerApp> => {
  const { config, lifecycle, dependencies } = options;
  const workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const assembly: Assembly = {
    config,
    tuning: { ...DEFAULT_WORKER_TUNING, ...options.tuning },
    workerId,
    log: options.logger.child({ workerId, release: config.release }),
    // Counters exist whether or not they are served: they cost nothing, and in-process users may read the registry.
    metrics: createWorkerMetrics({ defaultMetrics: config.metricsPort !== undefined }),
    pool: dependencies.pool,
    migrator: dependencies.migrator,
    lifecycle,
  };
  const { log, metrics, pool } = assembly;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= lifecycle.close().then((outcome) => log.info({ ...outcome, failedSteps: outcome.failed }, 'worker stopped'));
    return closing;
  };

  let migrationHead: string;
  let metricsPort: number | undefined;
  try {
    migrationHead = await checkCompatibility(assembly);
    await startHeartbeatStep(assembly);
    // Two connections of our own: one that waits out Redis outages, shared by the queues and the workers' ordinary
    // commands (BullMQ gives each Worker a blocking connection of its own), and one for reads that must answer or fail
    // at once (the verification's Redis checks, scrapes).
    const jobsRedis = dependencies.redis('jobs');
    const failFastRedis = dependencies.redis('fail-fast', 'producer');
    const queues = openQueues(assembly, jobsRedis);

    // One applier for the process: go-live changes in flight on both change queues are group-committed together.
    // A change's age is judged under the lock on the database's clock, from its acceptance (or its clamped timestamp).
    const batchOptions = { keyring: config.auditKeyring, migrationHead, approvalsRequired: config.approvalsRequired, changeMaxAgeMs: config.changeMaxAgeSeconds * 1000 };
    const batcher = createChangeBatcher({ apply: (requests) => dependencies.applyBatch(requests, batchOptions), maxBatch: assembly.tuning.maxBatchSize });
    const processors = createJobProcessors({
      config,
      log,
      metrics,
      pool,
      migrator: assembly.migrator,
      migrationHead,
      batcher,
      lockDurationMs: assembly.tuning.lockDurationMs,
      checksRedis: failFastRedis,
      apiHealth: options.apiHealth,
      runbookToken: options.verifyApiToken,
      onDrift: createDriftHandler({
        pool,
        keyring: config.auditKeyring,
        action: options.driftAction ?? DRIFT_ACTIONS.alert,
        queues,
        countDrift: () => metrics.driftDetected(),
      }),
    });
    await startQueueWorkers({ ...assembly, connection: jobsRedis, processors, batcher });

    startNotifications(assembly, options.resolveNotificationHost);
    startReconciliation(assembly, queues);
    await requestStartupVerification({ queues, release: config.release, migrationHead, log, verifyIntervalSeconds: options.verifyIntervalSeconds });
    if (config.metricsPort !== undefined) {
      metricsPort = await serveWorkerMetrics({ ...assembly, config: { ...config, metricsPort: config.metricsPort }, migrationHead, connection: failFastRedis });
    }
  } catch (error) {
    await close();
    throw error;
  }

  log.info({ migrationHead, concurrency: config.workerConcurrency, queuePrefix: config.queuePrefix, metricsPort }, WORKER_READY_MESSAGE);
  return { workerId, migrationHead, metricsPort, close };
};

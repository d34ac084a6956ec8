import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { createGovernanceQueues, registerStateGauges, settleFailedAcceptance, waitForDatabase, type Config, type Lifecycle, type Logger } from '@valhalla/core';
import { JOB_NAMES, QUEUES, startupVerificationJobId, type QueueName } from '@valhalla/contract';
import { assertSchemaCompatible } from '@valhalla/core/migrator';
import type { Job, Processor, Worker } from 'bullmq';
import { BoundedWorker } from './boundedWorker.js';
import { createWorkerMetrics } from './metrics/createWorkerMetrics.js';
import { startMetricsServer, type MetricsServer } from './metrics/startMetricsServer.js';
import { createChangeBatcher } from './processors/changeBatcher.js';
import { createDriftHandler, DRIFT_ACTIONS, type DriftAction } from './createDriftHandler.js';
import { createGoLiveChangeProcessor } from './processors/goLiveChangeProcessor.js';
import { createMigrationVerifyProcessor } from './processors/migrationVerifyProcessor.js';
import { createNotificationMetrics } from './notifications/notificationMetrics.js';
import { startNotificationDelivery } from './notifications/startNotificationDelivery.js';
import { startNotificationHousekeeping } from './notifications/notificationHousekeeping.js';
import type { HostResolver } from '@valhalla/core/notifications';
import { withJobLogging } from './processors/withJobLogging.js';
import { countFailuresOutsideProcessor, withJobMetrics } from './processors/withJobMetrics.js';
import { failureCarriedBy } from './processors/jobFailures.js';
import { withTransientRetry } from './processors/withTransientRetry.js';
import { assertApprovalsAgree } from './assertApprovalsAgree.js';
import { startHeartbeat } from './startHeartbeat.js';
import { startReconciler } from './startReconciler.js';
import { startSafetyLaneGuard } from './startSafetyLaneGuard.js';
import { startVerificationWatchdog } from './startVerificationWatchdog.js';
import { throttledErrorLog } from './throttledErrorLog.js';
import type { ApiHealthOptions } from './verification/checkApiHealth.js';
import { withTimeout } from './withTimeout.js';
import type { WorkerDependencies } from './workerDependencies.js';
import { DEFAULT_WORKER_TUNING, type WorkerTuning } from './workerTuning.js';

/** Who enqueues the verification a worker asks for when it starts. */
export const STARTUP_VERIFICATION_ACTOR = 'system:worker';
/** A governance job's stall limit: practically none (see startQueueWorker). */
const GOVERNANCE_MAX_STALLED_COUNT = 1_000_000;
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
   * Stops the worker through its lifecycle, in reverse order of creation: the metrics listener and queues, then stop
   * taking jobs and let in-flight ones finish (up to config.shutdownTimeoutMs), close Redis connections, stop the
   * heartbeat and delete its row, end the pool. Idempotent (memoised); every step runs even when one fails; never
   * rejects.
   */
  close(): Promise<void>;
};

const STARTUP_ENQUEUE_TIMEOUT_MS = 5_000;
/** How often a queued engage waiting out a database outage probes it. */
const DATABASE_PROBE_INTERVAL_MS = 100;
/** After the drain, closing the workers only talks to Redis; bounded so a Redis outage cannot hold the exit. */
const FORCE_CLOSE_TIMEOUT_MS = 3_000;
const QUEUES_CLOSE_TIMEOUT_MS = 2_000;
const METRICS_CLOSE_TIMEOUT_MS = 2_000;
/** Bound of each scrape-time read (Redis counts, database state): a scrape answers within a Prometheus timeout. */
const METRICS_SOURCE_TIMEOUT_MS = 2_000;

/**
 * Starts a worker process's machinery on its dependencies: one BullMQ Worker per queue (each on its own Redis
 * connection), the heartbeat, and the startup verification job for this release. Resolves once both workers run.
 * Signals are the entrypoint's business: this only exposes `close()`.
 * @throws MigrationError when the revision chain cannot be loaded or the database has a breaking revision this code
 *   does not know (MIGRATION_BREAKING_UNKNOWN); database errors of the first heartbeat. Whatever
 *   was opened before the failure is closed (the whole lifecycle, dependencies included).
 */
export const createWorkerApp = async (options: WorkerAppOptions): Promise<WorkerApp> => {
  const { config, lifecycle } = options;
  const { pool, migrator } = options.dependencies;
  const tuning: WorkerTuning = { ...DEFAULT_WORKER_TUNING, ...options.tuning };
  const workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const log = options.logger.child({ workerId, release: config.release });

  const workers: Worker[] = [];
  let metricsServer: MetricsServer | undefined;
  // Counters exist whether or not they are served: they cost nothing, and in-process users may read the registry.
  const metrics = createWorkerMetrics({ defaultMetrics: config.metricsPort !== undefined });

  const drainWorkers = async () => {
    log.info('worker stopping');
    // pause() stops fetching and waits for the jobs in flight; unlike close(), it leaves close(force) available for
    // when the deadline passes (a close already in progress cannot be forced).
    const drained = await withTimeout(Promise.allSettled(workers.map((worker) => worker.pause())), config.shutdownTimeoutMs);
    if (drained.timedOut) {
      // Safe to abandon them: a job still running either commits and loses its ack, or fails with the pool; either
      // way its lock expires, it is redelivered, and its change applies once (executed-job record).
      log.warn({ timeoutMs: config.shutdownTimeoutMs }, 'in-flight jobs did not finish before the shutdown deadline; closing anyway');
    }
    const closed = await withTimeout(Promise.allSettled(workers.map((worker) => worker.close(drained.timedOut))), FORCE_CLOSE_TIMEOUT_MS);
    if (closed.timedOut) log.warn('queue workers did not close in time; their connections are dropped');
  };

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= lifecycle.close().then((outcome) => log.info({ ...outcome, failedSteps: outcome.failed }, 'worker stopped'));
    return closing;
  };

  const connection = options.dependencies.redis;

  const startQueueWorker = (queue: QueueName, processor: Processor) => {
    const worker = new BoundedWorker(queue, processor, {
      connection: connection(queue),
      prefix: config.queuePrefix,
      concurrency: config.workerConcurrency,
      lockDuration: tuning.lockDurationMs,
      stalledInterval: tuning.stalledIntervalMs,
      // BullMQ fails a job that stalled more than maxStalledCount times without calling the processor, which would end
      // an accepted change because workers crashed or Redis blinked. A change is applied at most once whatever its
      // deliveries (executed-job record), and job data is bounded (BoundedWorker), so a governance job may stall
      // practically without limit. Verifications keep the tuned bound.
      maxStalledCount: queue === QUEUES.verification ? tuning.maxStalledCount : GOVERNANCE_MAX_STALLED_COUNT,
      runRetryDelay: tuning.runRetryDelayMs,
    });
    // Without a listener an 'error' event would be thrown; Redis outages surface here and the worker recovers alone.
    worker.on('error', throttledErrorLog(log.child({ queue }), 'queue worker error'));
    worker.on('stalled', (jobId) => log.warn({ queue, jobId }, 'job stalled; it will be redelivered'));
    countFailuresOutsideProcessor(metrics, worker);
    workers.push(worker);
    return worker;
  };

  // A job that failed for good (BullMQ set finishedOn) settles its acceptance, so the reconciler never enqueues it
  // again. Rejected changes commit an execution record, which settles them already; this covers the rest (attempts
  // exhausted on an unexpected failure). Best effort: missed while PostgreSQL is down, the job stays failed in Redis,
  // which the reconciler leaves alone.
  const settleFinalFailure = (job: Job | undefined, error: Error) => {
    if (job?.id === undefined || job.finishedOn === undefined) return;
    const { code } = failureCarriedBy(error);
    settleFailedAcceptance(pool, job.id, code).catch((err: unknown) => log.warn({ err, jobId: job.id }, 'could not settle the acceptance of a failed job'));
  };

  const transientRetry = {
    schedule: config.transientRetry,
    awaitDatabase: {
      appliesTo: (job: Job) => job.queueName === QUEUES.governanceSafety,
      // Bounded well within the job's lock (renewed while the processor runs): past it, the delayed set takes over.
      wait: () => waitForDatabase(pool, { intervalMs: DATABASE_PROBE_INTERVAL_MS, timeoutMs: tuning.lockDurationMs / 2 }),
    },
    onRetry: (job: Job, delayMs: number) => metrics.transientRetry({ queue: job.queueName, name: job.name }, delayMs),
  };

  let migrationHead: string;
  try {
    // Computed once: the head is a property of the code this process runs, not of the database.
    migrationHead = (await migrator.chain()).head;
    // Refuse to run on a schema changed by a breaking revision this code does not know (a rollback too far).
    assertSchemaCompatible(await migrator.status());
    // Refuse to run with another four-eyes rule than the api's: this worker would apply what the api holds back.
    await assertApprovalsAgree(pool, config.approvalsRequired);
    const heartbeat = await startHeartbeat({ pool, workerId, release: config.release, intervalMs: config.heartbeatIntervalMs, log });
    lifecycle.add('delete heartbeat row', () => heartbeat.remove());
    lifecycle.add('stop heartbeat', () => heartbeat.stop());

    // One applier for the process: go-live changes in flight on both queues are group-committed together.
    // A change's age is judged under the lock on the database's clock, from its acceptance (or its clamped timestamp).
    const batchOptions = { keyring: config.auditKeyring, migrationHead, approvalsRequired: config.approvalsRequired, changeMaxAgeMs: config.changeMaxAgeSeconds * 1000 };
    const batcher = createChangeBatcher({ apply: (requests) => options.dependencies.applyBatch(requests, batchOptions), maxBatch: tuning.maxBatchSize });
    const changeProcessor = withJobMetrics(
      metrics,
      withJobLogging(
        log,
        withTransientRetry(
          transientRetry,
          createGoLiveChangeProcessor({
            batcher,
            onTransaction: (outcome) => (outcome === 'committed' ? metrics.transactionCommitted() : metrics.transactionRolledBack()),
          }),
        ),
      ),
    );
    // The safety lane has a BullMQ Worker (and fetch loop) of its own: an engage is fetched while the governance
    // worker's slots are all busy, and the batcher puts it first in the next batch.
    for (const queue of [QUEUES.governanceSafety, QUEUES.governance]) {
      const worker = startQueueWorker(queue, changeProcessor);
      // The batcher hands back the batches that committed before an engage once the engage's job is acknowledged.
      worker.on('completed', (job) => job.id !== undefined && batcher.acknowledged(job.id));
      worker.on('failed', (job) => job?.id !== undefined && batcher.acknowledged(job.id));
      worker.on('failed', settleFinalFailure);
    }
    const verificationWorker = startQueueWorker(
      QUEUES.verification,
      withJobMetrics(
        metrics,
        withJobLogging(
          log,
          withTransientRetry(
            transientRetry,
            createMigrationVerifyProcessor({
              pool,
              migrator,
              migrationHead,
              release: config.release,
              apiUrl: config.apiUrl,
              changeMaxAgeSeconds: config.changeMaxAgeSeconds,
              auditKeyring: config.auditKeyring,
              ...(options.apiHealth === undefined ? {} : { apiHealth: options.apiHealth }),
              redis: connection('verification-checks', 'producer'),
              // Three missed beats: one late beat is not a dead worker.
              liveWorkerWithinMs: config.heartbeatIntervalMs * 3,
              runbookToken: options.verifyApiToken,
              onDrift: createDriftHandler({
                pool,
                keyring: config.auditKeyring,
                action: options.driftAction ?? DRIFT_ACTIONS.alert,
                queues: () => queues,
                countDrift: () => metrics.driftDetected(),
              }),
            }),
          ),
        ),
      ),
    );
    verificationWorker.on('failed', settleFinalFailure);
    lifecycle.add('stop taking jobs and drain in-flight jobs', drainWorkers);
    await Promise.all(workers.map((worker) => worker.waitUntilReady()));

    // Notifications need no queue: PostgreSQL's outbox is the record and the queue (notifications/).
    const notifications = startNotificationDelivery({
      pool,
      databaseUrl: config.databaseUrl,
      settings: config.notifications,
      auditKeyring: config.auditKeyring,
      workerId,
      release: config.release,
      log: log.child({ component: 'notifications' }),
      metrics: createNotificationMetrics(metrics.registry),
      resolve: options.resolveNotificationHost,
    });
    lifecycle.add('stop notification delivery', () => notifications.stop());
    const housekeeping = startNotificationHousekeeping({ pool, settings: config.notifications, log: log.child({ component: 'notifications' }) });
    lifecycle.add('stop notification housekeeping', () => housekeeping.stop());

    const queues = createGovernanceQueues({ connection: connection('producer'), prefix: config.queuePrefix });
    for (const queue of Object.values(queues.byName)) queue.on('error', throttledErrorLog(log, 'startup queue error'));
    lifecycle.add('close queues', () => queues.close(), { timeoutMs: QUEUES_CLOSE_TIMEOUT_MS });
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
    // The job id makes this idempotent: any number of workers of one release enqueue one verification.
    const enqueued = await withTimeout(
      queues.enqueue(JOB_NAMES.migrationVerify, { actor: STARTUP_VERIFICATION_ACTOR, release: config.release }, { jobId: startupVerificationJobId(config.release, migrationHead) }),
      STARTUP_ENQUEUE_TIMEOUT_MS,
    ).catch((err: unknown) => {
      log.warn({ err }, 'could not enqueue the startup verification');
      return undefined;
    });
    if (enqueued?.timedOut === true) log.warn('enqueueing the startup verification is taking long; it completes when Redis answers');
    if (options.verifyIntervalSeconds !== undefined) {
      const intervalSeconds = options.verifyIntervalSeconds;
      const producerQueues = queues;
      const watchdog = await withTimeout(
        startVerificationWatchdog(producerQueues, { intervalSeconds, release: config.release, log }),
        STARTUP_ENQUEUE_TIMEOUT_MS,
      ).catch((err: unknown) => {
        // Another worker's upsert (or this one's next start) schedules it: not a reason to refuse to start.
        log.warn({ err }, 'could not schedule the verification watchdog');
        return undefined;
      });
      if (watchdog?.timedOut === true) log.warn('scheduling the verification watchdog is taking long; it completes when Redis answers');
    }

    if (config.metricsPort !== undefined) {
      // Fail-fast connection (no offline queue): while Redis is down a scrape reports it instead of waiting.
      const metricsQueues = createGovernanceQueues({ connection: connection('metrics', 'producer'), prefix: config.queuePrefix });
      for (const queue of Object.values(metricsQueues.byName)) queue.on('error', throttledErrorLog(log, 'metrics queue error'));
      lifecycle.add('close metrics queues', () => metricsQueues.close(), { timeoutMs: QUEUES_CLOSE_TIMEOUT_MS });
      registerStateGauges(metrics.registry, {
        queues: metricsQueues.byName,
        pool,
        migrationHead: () => migrationHead,
        timeoutMs: METRICS_SOURCE_TIMEOUT_MS,
        log,
        notificationCircuitThreshold: config.notifications.circuitThreshold,
      });
      const server = await startMetricsServer({ registry: metrics.registry, host: config.host, port: config.metricsPort, log });
      metricsServer = server;
      lifecycle.add('close metrics listener', () => server.close(), { timeoutMs: METRICS_CLOSE_TIMEOUT_MS });
    }
  } catch (error) {
    await close();
    throw error;
  }

  log.info(
    { migrationHead, concurrency: config.workerConcurrency, queuePrefix: config.queuePrefix, metricsPort: metricsServer?.port },
    WORKER_READY_MESSAGE,
  );
  return { workerId, migrationHead, metricsPort: metricsServer?.port, close };
};

import { waitForDatabase, type Config, type DatabasePool, type Logger, type RedisClient } from '@valhalla/core';
import { JOB_NAMES, JOBS_BY_QUEUE, QUEUES, type JobName, type QueueName } from '@valhalla/contract';
import type { Migrator } from '@valhalla/core/migrator';
import type { Job, Processor } from 'bullmq';
import type { WorkerMetrics } from '../metrics/createWorkerMetrics.js';
import type { ChangeBatcher } from '../processors/changeBatcher.js';
import { createGoLiveChangeProcessor } from '../processors/goLiveChangeProcessor.js';
import { createMigrationVerifyProcessor, type Drift } from '../processors/migrationVerifyProcessor.js';
import { withJobLogging, type LoggedProcessor } from '../processors/withJobLogging.js';
import { withJobMetrics } from '../processors/withJobMetrics.js';
import { withTransientRetry, type TransientRetryDeps } from '../processors/withTransientRetry.js';
import type { ApiHealthOptions } from '../verification/checkApiHealth.js';

/** How often a queued engage waiting out a database outage probes it. */
const DATABASE_PROBE_INTERVAL_MS = 100;

export type JobProcessorDeps = {
  config: Config;
  log: Logger;
  metrics: WorkerMetrics;
  pool: DatabasePool;
  migrator: Migrator;
  migrationHead: string;
  /** The process's group-commit applier, shared by both change queues. */
  batcher: ChangeBatcher;
  /** WorkerTuning.lockDurationMs: an engage waits for the database within half of its lock. */
  lockDurationMs: number;
  /** The fail-fast connection the verification's Redis checks read through. */
  checksRedis: RedisClient;
  apiHealth?: ApiHealthOptions | undefined;
  runbookToken: string | undefined;
  onDrift: (drift: Drift, log: Logger) => Promise<void>;
};

/** The processor of each job name, as BullMQ runs it: the job's own logic wrapped once for retries, logging and metrics. */
export type JobProcessors = Readonly<Record<JobName, Processor>>;

/**
 * Builds the table of processors by job name. Every processor gets the same wrappers in the same order (innermost
 * first): transient retries, then one log line per attempt, then the attempt's metrics.
 */
export const createJobProcessors = (deps: JobProcessorDeps): JobProcessors => {
  const { config, log, metrics, pool } = deps;
  const transientRetry: TransientRetryDeps = {
    schedule: config.transientRetry,
    awaitDatabase: {
      appliesTo: (job: Job) => job.queueName === QUEUES.governanceSafety,
      // Bounded well within the job's lock (renewed while the processor runs): past it, the delayed set takes over.
      wait: () => waitForDatabase(pool, { intervalMs: DATABASE_PROBE_INTERVAL_MS, timeoutMs: deps.lockDurationMs / 2 }),
    },
    onRetry: (job: Job, delayMs: number) => metrics.transientRetry({ queue: job.queueName, name: job.name }, delayMs),
  };
  const wrap = <R>(processor: LoggedProcessor<R>): Processor => withJobMetrics(metrics, withJobLogging(log, withTransientRetry(transientRetry, processor)));

  return {
    [JOB_NAMES.goLiveChange]: wrap(
      createGoLiveChangeProcessor({
        batcher: deps.batcher,
        onTransaction: (outcome) => (outcome === 'committed' ? metrics.transactionCommitted() : metrics.transactionRolledBack()),
      }),
    ),
    [JOB_NAMES.migrationVerify]: wrap(
      createMigrationVerifyProcessor({
        pool,
        migrator: deps.migrator,
        migrationHead: deps.migrationHead,
        release: config.release,
        apiUrl: config.apiUrl,
        changeMaxAgeSeconds: config.changeMaxAgeSeconds,
        auditKeyring: config.auditKeyring,
        ...(deps.apiHealth === undefined ? {} : { apiHealth: deps.apiHealth }),
        redis: deps.checksRedis,
        // Three missed beats: one late beat is not a dead worker.
        liveWorkerWithinMs: config.heartbeatIntervalMs * 3,
        runbookToken: deps.runbookToken,
        onDrift: deps.onDrift,
      }),
    ),
  };
};

/**
 * What a queue's worker runs: the processor of the job's name when the queue carries that job (JOBS_BY_QUEUE). A
 * name the queue does not carry goes to the processor of the queue's own job, which fails it as INVALID_PAYLOAD
 * (logged and counted like any other attempt): another service may put anything on a queue.
 */
export const processorForQueue = (processors: JobProcessors, queue: QueueName): Processor => {
  const carried: readonly JobName[] = JOBS_BY_QUEUE[queue];
  const [own] = carried;
  if (own === undefined) throw new Error(`queue ${queue} carries no job`);
  const isCarried = (name: string): name is JobName => (carried as readonly string[]).includes(name);
  return (job, token) => processors[isCarried(job.name) ? job.name : own](job, token);
};

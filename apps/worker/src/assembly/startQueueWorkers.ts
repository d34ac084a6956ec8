import { settleFailedAcceptance, withTimeout, type Config, type DatabasePool, type Lifecycle, type Logger, type RedisClient } from '@valhalla/core';
import { GOVERNANCE_CHANGE_QUEUES, QUEUES, type QueueName } from '@valhalla/contract';
import type { Job, Worker } from 'bullmq';
import { BoundedWorker } from '../boundedWorker.js';
import type { WorkerMetrics } from '../metrics/createWorkerMetrics.js';
import type { ChangeBatcher } from '../processors/changeBatcher.js';
import { countFailuresOutsideProcessor } from '../processors/withJobMetrics.js';
import { failureCarriedBy } from '../processors/jobFailures.js';
import { throttledErrorLog } from '../throttledErrorLog.js';
import type { WorkerTuning } from '../workerTuning.js';
import { processorForQueue, type JobProcessors } from './createJobProcessors.js';

/** A governance job's stall limit: practically none (see the maxStalledCount option below). */
const GOVERNANCE_MAX_STALLED_COUNT = 1_000_000;
/** After the drain, closing the workers only talks to Redis; bounded so a Redis outage cannot hold the exit. */
const FORCE_CLOSE_TIMEOUT_MS = 3_000;
/**
 * The queues a worker takes jobs from. The safety lane has a BullMQ Worker (and fetch loop) of its own: an engage is
 * fetched while the governance worker's slots are all busy, and the batcher puts it first in the next batch.
 */
const WORKED_QUEUES: readonly QueueName[] = [QUEUES.governanceSafety, QUEUES.governance, QUEUES.verification];

/**
 * Starts one BullMQ Worker per queue on `connection` (shared for their non-blocking commands; each Worker opens its
 * own blocking connection, as BullMQ requires), and registers their drain with `lifecycle`. Resolves once every
 * worker is connected.
 */
export const startQueueWorkers = async (options: {
  config: Config;
  tuning: WorkerTuning;
  log: Logger;
  metrics: WorkerMetrics;
  pool: DatabasePool;
  lifecycle: Lifecycle;
  connection: RedisClient;
  processors: JobProcessors;
  batcher: ChangeBatcher;
}): Promise<void> => {
  const { config, tuning, log, pool } = options;

  // A job that failed for good (BullMQ set finishedOn) settles its acceptance, so the reconciler never enqueues it
  // again. Rejected changes commit an execution record, which settles them already; this covers the rest (attempts
  // exhausted on an unexpected failure). Best effort: missed while PostgreSQL is down, the job stays failed in Redis,
  // which the reconciler leaves alone.
  const settleFinalFailure = (job: Job | undefined, error: Error) => {
    if (job?.id === undefined || job.finishedOn === undefined) return;
    const { code } = failureCarriedBy(error);
    settleFailedAcceptance(pool, job.id, code).catch((err: unknown) => log.warn({ err, jobId: job.id }, 'could not settle the acceptance of a failed job'));
  };
  const changeQueues: readonly QueueName[] = GOVERNANCE_CHANGE_QUEUES;

  const workers: Worker[] = WORKED_QUEUES.map((queue) => {
    const worker = new BoundedWorker(queue, processorForQueue(options.processors, queue), {
      connection: options.connection,
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
    countFailuresOutsideProcessor(options.metrics, worker);
    if (changeQueues.includes(queue)) {
      // The batcher hands back the batches that committed before an engage once the engage's job is acknowledged.
      worker.on('completed', (job) => job.id !== undefined && options.batcher.acknowledged(job.id));
      worker.on('failed', (job) => job?.id !== undefined && options.batcher.acknowledged(job.id));
    }
    worker.on('failed', settleFinalFailure);
    return worker;
  });

  options.lifecycle.add('stop taking jobs and drain in-flight jobs', async () => {
    log.info('worker stopping');
    // pause() stops fetching and waits for the jobs in flight; unlike close(), it leaves close(force) available for
    // when the deadline passes (a close already in progress cannot be forced).
    // allSettled never rejects: a rejection here is the deadline.
    const drained = await withTimeout(Promise.allSettled(workers.map((worker) => worker.pause())), config.shutdownTimeoutMs, 'the drain').then(
      () => true,
      () => false,
    );
    if (!drained) {
      // Safe to abandon them: a job still running either commits and loses its ack, or fails with the pool; either
      // way its lock expires, it is redelivered, and its change applies once (executed-job record).
      log.warn({ timeoutMs: config.shutdownTimeoutMs }, 'in-flight jobs did not finish before the shutdown deadline; closing anyway');
    }
    await withTimeout(Promise.allSettled(workers.map((worker) => worker.close(!drained))), FORCE_CLOSE_TIMEOUT_MS, 'closing the workers').catch(() =>
      log.warn('queue workers did not close in time; their connections are dropped'),
    );
  });
  await Promise.all(workers.map((worker) => worker.waitUntilReady()));
};

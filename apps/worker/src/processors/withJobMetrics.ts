import { JOBS_BY_QUEUE, jobFailureOf, type QueueName } from '@valhalla/contract';
import type { Job, Worker } from 'bullmq';
import { ATTEMPT_OUTCOMES, type WorkerMetrics } from '../metrics/createWorkerMetrics.js';
import { failedAttemptOutcome } from './attemptOutcome.js';
import { failureCarriedBy } from './jobFailures.js';

/** Other services may enqueue anything: an unknown job name is labelled `unknown`, so labels stay few. */
const knownNameOr = (job: Job): string =>
  (JOBS_BY_QUEUE[job.queueName as QueueName] as readonly string[] | undefined)?.includes(job.name) === true ? job.name : 'unknown';

/**
 * Wraps what BullMQ runs so that each attempt is counted (completed, retried or failed) and timed, by queue and job
 * name. Errors are rethrown unchanged.
 */
export const withJobMetrics =
  <R>(metrics: WorkerMetrics, processor: (job: Job, token?: string) => Promise<R>) =>
  async (job: Job, token?: string): Promise<R> => {
    const started = performance.now();
    const labels = { queue: job.queueName, name: knownNameOr(job) };
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const value = await processor(job, token);
      metrics.attemptEnded(labels, ATTEMPT_OUTCOMES.completed, seconds());
      return value;
    } catch (error) {
      const outcome = failedAttemptOutcome(job, error);
      metrics.attemptEnded(labels, outcome, seconds());
      if (outcome === ATTEMPT_OUTCOMES.failed) metrics.jobFailed(labels, failureCarriedBy(error));
      throw error;
    }
  };

/**
 * Counts the failures BullMQ makes without running the processor, which withJobMetrics cannot see: a job that stalled
 * more than maxStalledCount times is marked for a deferred failure and failed by the next worker that fetches it
 * (BullMQ's `deferredFailure`, a field of the job, read as data). It needs a person: JOB_INTERRUPTED.
 */
export const countFailuresOutsideProcessor = (metrics: WorkerMetrics, worker: Worker): void => {
  worker.on('failed', (job) => {
    if (job === undefined || typeof job.deferredFailure !== 'string' || job.deferredFailure === '') return;
    metrics.jobFailed({ queue: job.queueName, name: knownNameOr(job) }, jobFailureOf('JOB_INTERRUPTED', 'stalled more often than allowed'));
  });
};

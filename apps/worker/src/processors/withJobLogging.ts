import { isRejection } from '@valhalla/contract';
import type { Logger } from '@valhalla/core';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { failedAttemptOutcome } from './attemptOutcome.js';
import { failureCarriedBy } from './jobFailures.js';

/** What a processor hands back: the job's return value, and a one-word outcome for the completion log line. */
export type ProcessorResult<R> = { value: R; outcome: string };

/** A processor given the job, a logger already bound to it, and the job's lock token (to move it to delayed). */
export type LoggedProcessor<R> = (job: Job, log: Logger, token?: string) => Promise<ProcessorResult<R>>;

const requestIdOf = (job: Job): string | undefined => {
  const data = job.data as { requestId?: unknown } | null | undefined;
  return typeof data?.requestId === 'string' ? data.requestId : undefined;
};

/**
 * Wraps a processor into what BullMQ runs: one child logger per attempt (jobId, queue, jobName, attempt,
 * requestId), and one line when the attempt ends, with its duration and outcome. The processor must log through
 * the logger it is given (and pass it to whatever it calls), so that every line of the job carries its requestId.
 * Errors are rethrown unchanged so BullMQ decides: UnrecoverableError fails the job at once, DelayedError means the
 * job was moved to the delayed set (a transient retry, logged where it was decided), anything else uses attempts.
 */
export const withJobLogging =
  <R>(logger: Logger, processor: LoggedProcessor<R>) =>
  async (job: Job, token?: string): Promise<R> => {
    const log = logger.child({
      jobId: job.id,
      queue: job.queueName,
      jobName: job.name,
      attempt: job.attemptsMade + 1,
      requestId: requestIdOf(job),
    });
    const started = performance.now();
    const durationMs = () => Math.round((performance.now() - started) * 10) / 10;
    try {
      const { value, outcome } = await processor(job, log, token);
      log.info({ durationMs: durationMs(), outcome }, 'job completed');
      return value;
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      if (err instanceof DelayedError) throw error;
      const failure = failureCarriedBy(error);
      if (err instanceof UnrecoverableError) {
        const outcome = isRejection(failure.code) ? 'rejected' : 'failed';
        log.warn({ durationMs: durationMs(), outcome, code: failure.code, reason: failure.message }, 'job failed without retry');
      } else {
        const willRetry = failedAttemptOutcome(job, err) === 'retried';
        log.error({ durationMs: durationMs(), outcome: willRetry ? 'retrying' : 'failed', code: failure.code }, willRetry ? 'job attempt failed, will retry' : 'job failed, attempts exhausted');
      }
      throw error;
    }
  };

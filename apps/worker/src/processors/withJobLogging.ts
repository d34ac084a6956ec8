import type { Logger } from '@valhalla/core';
import { UnrecoverableError, type Job } from 'bullmq';
import { failedAttemptOutcome } from './attemptOutcome.js';

/** What a processor hands back: the job's return value, and a one-word outcome for the completion log line. */
export type ProcessorResult<R> = { value: R; outcome: string };

/** A processor given the job and a logger already bound to it. */
export type LoggedProcessor<R> = (job: Job, log: Logger) => Promise<ProcessorResult<R>>;

const requestIdOf = (job: Job): string | undefined => {
  const data = job.data as { requestId?: unknown } | null | undefined;
  return typeof data?.requestId === 'string' ? data.requestId : undefined;
};

/** `PRECONDITION_FAILED: ...` → `PRECONDITION_FAILED`: the stable code our UnrecoverableErrors start with. */
const codeOf = (error: Error): string | undefined => /^([A-Z_]+):/.exec(error.message)?.[1];

/**
 * Wraps a processor into what BullMQ runs: one child logger per attempt (jobId, queue, jobName, attempt,
 * requestId), and one line when the attempt ends, with its duration and outcome. The processor must log through
 * the logger it is given (and pass it to whatever it calls), so that every line of the job carries its requestId. Errors are rethrown unchanged so
 * BullMQ decides: UnrecoverableError fails the job at once, anything else is retried by the job's backoff policy.
 */
export const withJobLogging =
  <R>(logger: Logger, processor: LoggedProcessor<R>) =>
  async (job: Job): Promise<R> => {
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
      const { value, outcome } = await processor(job, log);
      log.info({ durationMs: durationMs(), outcome }, 'job completed');
      return value;
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      if (err instanceof UnrecoverableError) {
        log.warn({ durationMs: durationMs(), outcome: codeOf(err) === 'PRECONDITION_FAILED' || codeOf(err) === 'SUPERSEDED' ? 'rejected' : 'failed', code: codeOf(err), reason: err.message }, 'job failed without retry');
      } else {
        const willRetry = failedAttemptOutcome(job, err) === 'retried';
        log.error({ durationMs: durationMs(), outcome: willRetry ? 'retrying' : 'failed', err }, willRetry ? 'job attempt failed, will retry' : 'job failed, attempts exhausted');
      }
      throw error;
    }
  };

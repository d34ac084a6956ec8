import { isRetryableDatabaseError, isTransientFailure, sqlstateOf, type Logger } from '@valhalla/core';
import { transientRetryDelayMs, type TransientRetrySchedule } from '@valhalla/contract';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { UnexpectedJobFailure } from './jobFailures.js';
import type { LoggedProcessor } from './withJobLogging.js';

export type TransientRetryDeps = {
  schedule: TransientRetrySchedule;
  /**
   * Jobs that wait for the database in the worker instead of in the delayed set (engages and disables on the safety
   * lane): after a database failure, `wait` resolves true the moment PostgreSQL answers again (false when it did not
   * within its bound) and the job runs again at once; a backoff of up to 30 s would hold the kill switch that long
   * after the database is back.
   */
  awaitDatabase?: { appliesTo: (job: Job) => boolean; wait: () => Promise<boolean> } | undefined;
  /** Told of each transient retry: the worker's metrics count them. */
  onRetry?: ((job: Job, delayMs: number) => void) | undefined;
};

/**
 * Transient failures never end a job, whatever its producer's `attempts`: the job goes back to BullMQ's delayed set
 * for a capped, jittered, exponential delay (`moveToDelayed` with skipAttempt, so attemptsMade is untouched; a
 * DelayedError tells BullMQ the job was moved). The retry number is the job's `attemptsStarted` less one: BullMQ
 * counts every start, delayed or not. Final failures (UnrecoverableError records) pass through; anything else is a
 * failure the worker did not expect: logged in full here, and the job carries an INTERNAL_ERROR record only.
 *
 * Expiry is not decided here: the change transaction rejects an expired change (audited) once PostgreSQL answers.
 */
export const withTransientRetry =
  <R>(deps: TransientRetryDeps, processor: LoggedProcessor<R>): LoggedProcessor<R> =>
  async (job, log, token) => {
    try {
      return await runWaitingForDatabase(deps, processor, job, log, token);
    } catch (error) {
      if (error instanceof UnrecoverableError || error instanceof DelayedError) throw error;
      if (!isTransientFailure(error)) {
        log.error({ err: error }, 'job attempt failed unexpectedly');
        throw new UnexpectedJobFailure();
      }
      const retry = Math.max(0, (job.attemptsStarted ?? 1) - 1);
      const delayMs = transientRetryDelayMs(retry, deps.schedule);
      logRetry(log, error, retry, delayMs);
      deps.onRetry?.(job, delayMs);
      if (token !== undefined) {
        try {
          await job.moveToDelayed(Date.now() + delayMs, token);
        } catch (moveError) {
          // Redis is away too. The job stays active under a lock nobody renews: the stall check puts it back in the
          // wait list when Redis answers (the governance queue allows practically unlimited stalls), so it is not lost.
          log.warn({ err: moveError }, 'could not move the job to the delayed set; it will be picked up again after its lock expires');
        }
      }
      throw new DelayedError();
    }
  };

/** Runs the processor; for jobs that await the database, again each time it comes back (until `wait` gives up). */
const runWaitingForDatabase = async <R>(
  deps: TransientRetryDeps,
  processor: LoggedProcessor<R>,
  ...[job, log, token]: Parameters<LoggedProcessor<R>>
): ReturnType<LoggedProcessor<R>> => {
  const awaitDatabase = deps.awaitDatabase?.appliesTo(job) === true ? deps.awaitDatabase : undefined;
  for (;;) {
    try {
      return await processor(job, log, token);
    } catch (error) {
      if (awaitDatabase === undefined || !isRetryableDatabaseError(error)) throw error;
      log.warn({ sqlstate: sqlstateOf(error), err: error }, 'database unavailable; waiting for it to answer, then running again');
      if (!(await awaitDatabase.wait())) throw error;
    }
  }
};

const logRetry = (log: Logger, error: unknown, retry: number, delayMs: number) => {
  log.warn(
    { retry: retry + 1, nextDelayMs: delayMs, sqlstate: sqlstateOf(error), errorName: error instanceof Error ? error.name : typeof error, err: error },
    'transient failure; the job waits in the delayed set and runs again',
  );
};

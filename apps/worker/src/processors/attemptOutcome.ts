import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { ATTEMPT_OUTCOMES, type AttemptOutcome } from '../metrics/createWorkerMetrics.js';

/**
 * What BullMQ will do with a job whose attempt threw `error`: run it again when the worker moved it to the delayed set
 * (a transient retry) or attempts are left, else fail it for good (UnrecoverableError, or the last attempt).
 * `attemptsMade` does not yet count the attempt that is ending.
 */
export const failedAttemptOutcome = (job: Job, error: unknown): Exclude<AttemptOutcome, 'completed'> => {
  if (error instanceof DelayedError) return ATTEMPT_OUTCOMES.retried;
  if (error instanceof UnrecoverableError) return ATTEMPT_OUTCOMES.failed;
  const attempts = job.opts.attempts ?? 1;
  return job.attemptsMade + 1 < attempts ? ATTEMPT_OUTCOMES.retried : ATTEMPT_OUTCOMES.failed;
};

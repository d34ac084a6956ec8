import { UnrecoverableError, type Job } from 'bullmq';
import { ATTEMPT_OUTCOMES, type AttemptOutcome } from '../metrics/createWorkerMetrics.js';

/**
 * What BullMQ will do with a job whose attempt threw `error`: retry it when attempts are left and the error is not an
 * UnrecoverableError, else fail it for good. `attemptsMade` does not yet count the attempt that is ending.
 */
export const failedAttemptOutcome = (job: Job, error: unknown): Exclude<AttemptOutcome, 'completed'> => {
  if (error instanceof UnrecoverableError) return ATTEMPT_OUTCOMES.failed;
  const attempts = job.opts.attempts ?? 1;
  return job.attemptsMade + 1 < attempts ? ATTEMPT_OUTCOMES.retried : ATTEMPT_OUTCOMES.failed;
};

/**
 * How the worker retries a job through transient failures (PostgreSQL or Redis unreachable, failover, terminated
 * backends, serialization failures, deadlocks): itself, by moving the job to BullMQ's delayed set, so the
 * producer's `attempts` are never used up by an outage. Capped exponential backoff with equal jitter: the n-th retry
 * waits between half and all of min(maxDelayMs, baseDelayMs · 2^n).
 */
export type TransientRetrySchedule = {
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
};

/** The delay before transient retry number `retry` (0 for the first). */
export const transientRetryDelayMs = (
  retry: number,
  schedule: TransientRetrySchedule,
  random: () => number = Math.random,
): number => {
  const ceiling = Math.min(schedule.maxDelayMs, schedule.baseDelayMs * 2 ** Math.min(Math.max(retry, 0), 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
};

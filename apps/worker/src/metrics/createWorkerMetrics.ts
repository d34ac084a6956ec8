import { JOB_FAILURE_CODES, JOBS_BY_QUEUE, type QueueName } from '@valhalla/contract';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * How an attempt of a job ended, for the counters and the duration histogram:
 * - `completed`: the processor resolved;
 * - `retried`: it failed and BullMQ will run it again (attempts left, not an UnrecoverableError);
 * - `failed`: it failed for good (UnrecoverableError such as INVALID_PAYLOAD or PRECONDITION_FAILED, or the last
 *   attempt).
 */
export const ATTEMPT_OUTCOMES = { completed: 'completed', retried: 'retried', failed: 'failed' } as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[keyof typeof ATTEMPT_OUTCOMES];

/**
 * The metrics of one worker app, on a registry of its own (never prom-client's global one: two apps in one process,
 * as in tests, must not share counters). Scrape-time gauges (queue depth, state, verification) are registered on the
 * same registry by registerScrapeGauges.
 */
export type WorkerMetrics = {
  readonly registry: Registry;
  /** Counts an attempt that ended, and observes its duration. */
  attemptEnded(labels: { queue: string; name: string }, outcome: AttemptOutcome, durationSeconds: number): void;
  /** A governance change transaction committed (a replayed execution is not counted). */
  transactionCommitted(): void;
  /** A governance change transaction threw, so it rolled back (or never began: connection lost). */
  transactionRolledBack(): void;
  /** A scheduled verification failed after a passed one. */
  driftDetected(): void;
  /** A job failed for good, with its failure record's code (read as data, never from message text). */
  jobFailed(labels: { queue: string; name: string }, failure: { code: string }): void;
  /** A job was moved to the delayed set after a transient failure, to run again after `delayMs`. */
  transientRetry(labels: { queue: string; name: string }, delayMs: number): void;
  /** The reconciler enqueued `count` accepted jobs of `queue` again (Redis had lost them). */
  reenqueued(queue: string, count: number): void;
};

/**
 * The labels of a failure: its code, and from the contract's one table whether it is final and a rejection. A code
 * outside that table (a record written by something else) counts as needing a person.
 */
const failureLabels = (labels: { queue: string; name: string }, code: string) => {
  const known = (JOB_FAILURE_CODES as Record<string, { final: boolean; rejection: boolean } | undefined>)[code];
  return { ...labels, code, final: String(known?.final ?? false), rejection: String(known?.rejection ?? false) };
};

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export const createWorkerMetrics = (options: { defaultMetrics: boolean }): WorkerMetrics => {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });

  const labelNames = ['queue', 'name'] as const;
  const completed = new Counter({
    name: 'valhalla_worker_jobs_completed_total',
    help: 'Job attempts that completed, by queue and job name.',
    labelNames,
    registers: [registry],
  });
  const failed = new Counter({
    name: 'valhalla_worker_jobs_failed_total',
    help: 'Jobs that failed for good (not retried: invalid payload, precondition failed, or attempts exhausted).',
    labelNames,
    registers: [registry],
  });
  const retried = new Counter({
    name: 'valhalla_worker_jobs_retried_total',
    help: 'Job attempts that failed and will be retried.',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'valhalla_worker_job_duration_seconds',
    help: 'Duration of job attempts in the processor, by queue, job name and outcome (completed, retried, failed).',
    labelNames: ['queue', 'name', 'outcome'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const committed = new Counter({
    name: 'valhalla_worker_transactions_committed_total',
    help: 'Governance change transactions committed (replayed executions excluded).',
    registers: [registry],
  });
  const rolledBack = new Counter({
    name: 'valhalla_worker_transactions_rolled_back_total',
    help: 'Governance change transactions that threw and rolled back.',
    registers: [registry],
  });

  const drift = new Counter({
    name: 'valhalla_verification_drift_total',
    help: 'Scheduled verification runs that failed after a passed run of the same migration head (drift).',
    registers: [registry],
  });
  drift.inc(0);
  const failures = new Counter({
    name: 'valhalla_worker_job_failures_total',
    help: 'Jobs that failed for good, by queue, job name and the failure record\'s code, finality and whether it is a rejection (rejection="true": an outcome such as PRECONDITION_FAILED; "false": INTERNAL_ERROR, EXPIRED, JOB_INTERRUPTED, which need a person).',
    labelNames: ['queue', 'name', 'code', 'final', 'rejection'] as const,
    registers: [registry],
  });
  const transientRetries = new Counter({
    name: 'valhalla_worker_transient_retries_total',
    help: 'Jobs moved to the delayed set after a transient failure (database or Redis unreachable, failover, serialization failure); they wait there (valhalla_queue_jobs{state="delayed"}) and run again.',
    labelNames,
    registers: [registry],
  });
  const retryDelay = new Histogram({
    name: 'valhalla_worker_transient_retry_delay_seconds',
    help: 'The delay chosen for each transient retry (capped exponential backoff with jitter).',
    labelNames,
    buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300],
    registers: [registry],
  });

  const reenqueued = new Counter({
    name: 'valhalla_reconciler_reenqueued_total',
    help: 'Accepted jobs the reconciler enqueued again because Redis had no job for them (restarted empty, flushed, failed over, or down when the api accepted them).',
    labelNames: ['queue'] as const,
    registers: [registry],
  });

  // Every known series starts at 0, so rate() and absence alerts work before the first job, and increase() sees the
  // first failure of a code (a series that appears at 1 has no earlier sample to increase from).
  for (const [queue, names] of Object.entries(JOBS_BY_QUEUE) as [QueueName, readonly string[]][]) {
    for (const name of names) {
      for (const counter of [completed, failed, retried, transientRetries]) counter.inc({ queue, name }, 0);
      for (const code of Object.keys(JOB_FAILURE_CODES) as (keyof typeof JOB_FAILURE_CODES)[]) failures.inc(failureLabels({ queue, name }, code), 0);
    }
    reenqueued.inc({ queue }, 0);
  }

  const counters = { completed, failed, retried } as const;
  return {
    registry,
    attemptEnded: (labels, outcome, durationSeconds) => {
      counters[outcome].inc(labels);
      duration.observe({ ...labels, outcome }, durationSeconds);
    },
    transactionCommitted: () => committed.inc(),
    transactionRolledBack: () => rolledBack.inc(),
    driftDetected: () => drift.inc(),
    jobFailed: (labels, failure) => failures.inc(failureLabels(labels, failure.code)),
    transientRetry: (labels, delayMs) => {
      transientRetries.inc(labels);
      retryDelay.observe(labels, delayMs / 1000);
    },
    reenqueued: (queue, count) => reenqueued.inc({ queue }, count),
  };
};

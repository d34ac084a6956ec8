import { workerVariables } from '@valhalla/core/env';

/** BullMQ lock and stall-detection settings of the worker. */
export type WorkerTuning = {
  /** How long a job's lock lives without renewal; renewed every half of it while the job runs. */
  lockDurationMs: number;
  /** How often each worker looks for active jobs whose lock expired (their worker died) and re-queues them. */
  stalledIntervalMs: number;
  /**
   * How many times a job may stall before BullMQ fails it. At least 1, so a job whose worker was killed is re-run
   * (its change applies at most once: the executed-job record makes the re-run a replay).
   */
  maxStalledCount: number;
  /** Pause of the fetch loop after a Redis error before it tries again (BullMQ's default of 15 s is too slow). */
  runRetryDelayMs: number;
  /**
   * Most go-live changes one group-committed transaction applies. An engage waits for at most the batch being
   * committed, so this bounds its wait. Measured at WORKER_CONCURRENCY=64 (README "The kill switch always wins:
   * figures"): 16 instead of 64 took the engage's p50 behind a backlog from 12.5 to 9.7 ms for 9 % less throughput.
   */
  maxBatchSize: number;
  /** How often one worker of the cluster re-enqueues accepted jobs Redis lost (startReconciler). */
  reconcileIntervalMs: number;
  /** How old an acceptance must be before the reconciler checks it against Redis (the api enqueues right after it). */
  reconcileGraceMs: number;
};

/** The defaults of the settings a variable can change are those variables' defaults (the env module's worker section). */
export const DEFAULT_WORKER_TUNING: Readonly<WorkerTuning> = Object.freeze({
  lockDurationMs: workerVariables.WORKER_LOCK_DURATION_MS.default,
  stalledIntervalMs: workerVariables.WORKER_STALLED_INTERVAL_MS.default,
  maxStalledCount: workerVariables.WORKER_MAX_STALLED_COUNT.default,
  runRetryDelayMs: 1_000,
  maxBatchSize: 16,
  reconcileIntervalMs: workerVariables.RECONCILE_INTERVAL_MS.default,
  reconcileGraceMs: workerVariables.RECONCILE_GRACE_MS.default,
});

import { z } from 'zod';
import { goLiveChangePayload, migrationVerifyPayload, type GoLiveChangePayload, type MigrationVerifyPayload } from './payloads.js';
import { changeResult, verificationCheck } from './stateSchemas.js';
import { isSafetyAction } from './vocabulary.js';

/**
 * The job contract between processes: every process (api, worker, CLI, metrics, other producers through docs/architecture.md)
 * takes queue names, job names, payload and result schemas, priorities, retry and expiry rules from here.
 */
export const QUEUES = { governance: 'governance', governanceSafety: 'governance-safety', verification: 'verification' } as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const JOB_NAMES = { goLiveChange: 'go-live-change', migrationVerify: 'migration-verify' } as const;
export type JobName = (typeof JOB_NAMES)[keyof typeof JOB_NAMES];

export type JobPayloads = {
  [JOB_NAMES.goLiveChange]: GoLiveChangePayload;
  [JOB_NAMES.migrationVerify]: MigrationVerifyPayload;
};

/** `outcome`: passed (every check), failed (a check failed), else inconclusive (a check could not measure). */
export const migrationVerifyResult = z.object({
  runId: z.number(),
  passed: z.boolean(),
  outcome: z.enum(['passed', 'failed', 'inconclusive']),
  checks: z.array(verificationCheck),
});
export type MigrationVerifyResult = z.infer<typeof migrationVerifyResult>;

/**
 * BullMQ priorities: 1 is taken first. Every job on the governance queue carries a priority, because a job without
 * one would jump ahead of all prioritised jobs (BullMQ serves its wait list before the prioritised set), including
 * kill-switch engages.
 */
export const PRIORITIES = { safety: 1, normal: 10 } as const;

/**
 * The BullMQ options of a job (a subset of BullMQ's JobsOptions, written out so that the contract needs no queue
 * library): `attempts` and `backoff` for unexpected failures, the priority, and how long finished jobs are kept.
 */
export type JobOptions = {
  attempts: number;
  backoff: { type: 'exponential'; delay: number; jitter: number };
  priority: number;
  removeOnComplete: { age: number; count: number };
  removeOnFail: { age: number };
};

const KEEP_COMPLETED = { age: 7 * 24 * 3600, count: 100_000 };
const KEEP_FAILED = { age: 30 * 24 * 3600 };

/**
 * BullMQ attempts only count failures the worker did not expect (a bug): transient failures are retried by the worker
 * itself (retryPolicy.ts) and never use them up, and final failures are never retried.
 */
const UNEXPECTED_FAILURE_ATTEMPTS = 3;

export const JOB_CATALOG = {
  [JOB_NAMES.goLiveChange]: {
    /**
     * The lane rule: kill-switch engages and go-live disables take the safety lane, `governance-safety`, a queue of
     * its own drained by every worker ahead of `governance`. Priorities alone cannot keep them first: BullMQ takes a
     * job without a priority (the wait list) before any prioritised job, and a job coming back from delay or a retry
     * goes behind what is waiting, so any producer could put work ahead of an engage on a shared queue.
     */
    queue: (payload: GoLiveChangePayload): QueueName => (isSafetyAction(payload.action) ? QUEUES.governanceSafety : QUEUES.governance),
    payload: goLiveChangePayload,
    result: changeResult,
    priority: (payload: GoLiveChangePayload): number => (isSafetyAction(payload.action) ? PRIORITIES.safety : PRIORITIES.normal),
    /** Kill-switch engages and go-live disables never expire; other changes expire CHANGE_MAX_AGE_SECONDS after creation. */
    expires: (payload: GoLiveChangePayload): boolean => !isSafetyAction(payload.action),
    options: (payload: GoLiveChangePayload): JobOptions => ({
      attempts: UNEXPECTED_FAILURE_ATTEMPTS,
      backoff: { type: 'exponential', delay: 1000, jitter: 0.5 },
      priority: isSafetyAction(payload.action) ? PRIORITIES.safety : PRIORITIES.normal,
      removeOnComplete: KEEP_COMPLETED,
      removeOnFail: KEEP_FAILED,
    }),
  },
  [JOB_NAMES.migrationVerify]: {
    queue: (_payload: MigrationVerifyPayload): QueueName => QUEUES.verification,
    payload: migrationVerifyPayload,
    result: migrationVerifyResult,
    priority: (_payload: MigrationVerifyPayload): number => PRIORITIES.normal,
    expires: (_payload: MigrationVerifyPayload): boolean => true,
    options: (_payload: MigrationVerifyPayload): JobOptions => ({
      attempts: UNEXPECTED_FAILURE_ATTEMPTS,
      backoff: { type: 'exponential', delay: 1000, jitter: 0.5 },
      priority: PRIORITIES.normal,
      removeOnComplete: KEEP_COMPLETED,
      removeOnFail: KEEP_FAILED,
    }),
  },
} as const;

/** Which job runs on which queue, for workers that check the name of what they were handed. */
export const JOBS_BY_QUEUE: Record<QueueName, readonly JobName[]> = {
  [QUEUES.governance]: [JOB_NAMES.goLiveChange],
  [QUEUES.governanceSafety]: [JOB_NAMES.goLiveChange],
  [QUEUES.verification]: [JOB_NAMES.migrationVerify],
};

/** The queue a job goes to: its catalog entry's lane rule. */
export const queueForJob = <N extends JobName>(name: N, payload: JobPayloads[N]): QueueName =>
  (JOB_CATALOG[name].queue as (payload: JobPayloads[N]) => QueueName)(payload);

/** The queues `go-live-change` jobs are taken from, the safety lane first. */
export const GOVERNANCE_CHANGE_QUEUES = [QUEUES.governanceSafety, QUEUES.governance] as const;

/**
 * The identity of a change: a producer's own job id (not all digits) is the change itself, whenever and however
 * often it is enqueued; an all-digit id is one of BullMQ's counters, which restart when Redis loses its data, so it
 * is keyed with the job's creation time.
 */
export const changeIdentity = (jobId: string, jobCreatedAt: number): string =>
  /^[0-9]+$/.test(jobId) ? `${jobId}@${jobCreatedAt}` : jobId;

/**
 * The job id of the verification a worker enqueues at start: one per release and migration head, whatever the number
 * of workers (the head too, so a release re-run on a database that gained revisions is verified again).
 */
export const startupVerificationJobId = (release: string, migrationHead: string): string =>
  `startup-verify-${release.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 120)}-${migrationHead}`;

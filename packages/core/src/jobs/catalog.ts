import type { JobsOptions } from 'bullmq';
import { z } from 'zod';
import { InvalidPayloadError } from '../errors/index.js';
import { GOVERNANCE_ACTIONS, metadataChange, type GovernanceAction } from '../state/model.js';
import { isSafetyAction } from '../state/rules.js';

/**
 * The job catalog shared by the api (which enqueues) and the worker (which validates and executes): queue names,
 * job names, payload schemas, retry policy and priority. Other services may enqueue these payloads directly.
 */
export const QUEUES = { governance: 'governance', verification: 'verification' } as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const JOB_NAMES = { goLiveChange: 'go-live-change', migrationVerify: 'migration-verify' } as const;
export type JobName = (typeof JOB_NAMES)[keyof typeof JOB_NAMES];

const actor = z.string().trim().min(1).max(200);
/** The contract: a reason is required, 1–500 characters. */
export const reasonSchema = z.string().min(1, 'reason must not be empty').max(500, 'reason must be at most 500 characters');
/** Correlates the request that enqueued the job with the worker's logs and the audit row (optional). */
const requestId = z.string().min(1).max(200).optional();

const simpleChange = <A extends GovernanceAction>(action: A) =>
  z.object({ action: z.literal(action), actor, reason: reasonSchema, requestId }).strict();

export const goLiveChangePayload = z.discriminatedUnion('action', [
  simpleChange(GOVERNANCE_ACTIONS.goLiveEnable),
  simpleChange(GOVERNANCE_ACTIONS.goLiveDisable),
  simpleChange(GOVERNANCE_ACTIONS.killSwitchEngage),
  simpleChange(GOVERNANCE_ACTIONS.killSwitchRelease),
  z
    .object({
      action: z.literal(GOVERNANCE_ACTIONS.metadataUpdate),
      actor,
      reason: reasonSchema,
      requestId,
      metadata: metadataChange.refine((m) => Object.keys(m).length > 0, 'metadata must set at least one field'),
    })
    .strict(),
]);
export type GoLiveChangePayload = z.infer<typeof goLiveChangePayload>;

export const migrationVerifyPayload = z
  .object({
    release: z.string().trim().min(1).max(200).optional(),
    actor,
    requestId,
    /** How much of the audit chain to verify: every row (default), or only rows after the last checkpoint. */
    auditCheck: z.enum(['full', 'incremental']).optional(),
  })
  .strict();
export type MigrationVerifyPayload = z.infer<typeof migrationVerifyPayload>;

export type JobPayloads = {
  [JOB_NAMES.goLiveChange]: GoLiveChangePayload;
  [JOB_NAMES.migrationVerify]: MigrationVerifyPayload;
};

/**
 * BullMQ priorities: 1 is taken first. Every job on the governance queue carries a priority, because a job without
 * one would jump ahead of all prioritised jobs (see FIELD-NOTES), including kill-switch engages.
 */
export const PRIORITIES = { safety: 1, normal: 10 } as const;

const KEEP_COMPLETED = { age: 7 * 24 * 3600, count: 100_000 };
const KEEP_FAILED = { age: 30 * 24 * 3600 };

export const JOB_CATALOG = {
  [JOB_NAMES.goLiveChange]: {
    queue: QUEUES.governance,
    payload: goLiveChangePayload,
    options: (payload: GoLiveChangePayload): JobsOptions => ({
      // A kill-switch engage or go-live disable must outlast a database failover: 12 attempts span about 17 minutes.
      attempts: isSafetyAction(payload.action) ? 12 : 8,
      backoff: { type: 'exponential', delay: 250, jitter: 0.5 },
      priority: isSafetyAction(payload.action) ? PRIORITIES.safety : PRIORITIES.normal,
      removeOnComplete: KEEP_COMPLETED,
      removeOnFail: KEEP_FAILED,
    }),
  },
  [JOB_NAMES.migrationVerify]: {
    queue: QUEUES.verification,
    payload: migrationVerifyPayload,
    options: (_payload: MigrationVerifyPayload): JobsOptions => ({
      attempts: 3,
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
  [QUEUES.verification]: [JOB_NAMES.migrationVerify],
};

/**
 * Validates a payload against the catalog.
 * @throws InvalidPayloadError naming each bad field.
 */
export const parseJobPayload = <N extends JobName>(name: N, data: unknown): JobPayloads[N] => {
  const result = JOB_CATALOG[name].payload.safeParse(data);
  if (!result.success) {
    throw new InvalidPayloadError(
      result.error.issues.map((issue) => ({ field: issue.path.join('.') || '(root)', message: issue.message })),
    );
  }
  return result.data as JobPayloads[N];
};

/**
 * The job id of the verification a worker enqueues at start: one per release and migration head, whatever the number
 * of workers (the head too, so a release re-run on a database that gained revisions is verified again).
 */
export const startupVerificationJobId = (release: string, migrationHead: string): string =>
  `startup-verify-${release.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 120)}-${migrationHead}`;

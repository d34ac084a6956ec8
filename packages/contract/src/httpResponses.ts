import { z } from 'zod';
import { ERROR_CODES } from './errorCodes.js';
import { jobFailure } from './jobFailure.js';
import {
  auditEntryRow,
  fullAuditCheckRow,
  goLiveStateRow,
  heartbeatRow,
  systemMetadataRow,
  verificationRunRow,
} from './stateSchemas.js';
import { APPROVAL_ACTIONS, CHANGE_REQUEST_STATUS_VALUES } from './vocabulary.js';

/**
 * What the api answers, route by route: the api's serializer validates every answer against these schemas (its
 * OpenAPI document is generated from them), and the CLI, the console and the client read their types from them.
 * Schemas with an `id` become `components.schemas` entries of the OpenAPI document.
 */

/**
 * GET /api/governance/live and every `state` event of the stream: what an application needs to know to obey the kill
 * switch. `version` is the audit id of the newest applied change entry (never null).
 */
export const liveStateBody = z
  .object({
    live: z.boolean(),
    go_live_enabled: z.boolean(),
    kill_switch_engaged: z.boolean(),
    backend_complete: z.boolean(),
    version: z.number().int(),
    changed_by: z.string().nullable(),
    reason: z.string().nullable(),
    updated_at: z.string().nullable(),
  })
  .meta({ id: 'LiveState', description: 'The live state; ETag is its version. For app tokens `changed_by` and `reason` are null.' });
export type LiveStateBody = z.infer<typeof liveStateBody>;

/** 202: a change or verification recorded in PostgreSQL and queued. */
export const jobAccepted = z
  .object({
    jobId: z.string(),
    status: z.literal('queued'),
    /** Why an engage or disable is queued rather than applied (PostgreSQL unreachable); absent otherwise. */
    detail: z.string().optional(),
  })
  .meta({ id: 'JobAccepted', description: 'The job is accepted: recorded in PostgreSQL and queued' });
export type JobAccepted = z.infer<typeof jobAccepted>;

/**
 * 200: a change answered with its execution: an engage or disable the api applied in the request, or a replayed
 * request (same Idempotency-Key) whose job already executed.
 */
export const jobCompleted = z.object({ jobId: z.string(), status: z.literal('completed'), result: z.unknown() }).meta({
  id: 'JobCompleted',
  description: 'An engage or disable applied in the request, or a replay (same Idempotency-Key) of a request whose job already executed: its result',
});
export type JobCompleted = z.infer<typeof jobCompleted>;

/** The states GET /api/jobs/:id reports (BullMQ's `prioritized` and `waiting-children` read as `waiting`). */
export const JOB_STATES = ['waiting', 'delayed', 'active', 'completed', 'failed'] as const;

/** GET /api/jobs/:id. */
export const jobResponse = z
  .object({
    id: z.string(),
    queue: z.string(),
    name: z.string(),
    state: z.enum(JOB_STATES),
    attempts: z.number().int(),
    result: z.unknown().describe('The job\'s return value; null until it completes'),
    error: jobFailure.nullable().describe('The failure record ({code, message, final}); null unless the job failed'),
  })
  .meta({ id: 'Job' });
export type JobBody = z.infer<typeof jobResponse>;

const verificationRunSchema = verificationRunRow.meta({ id: 'VerificationRun' });

/** GET /api/governance/audit. */
export const auditPageResponse = z.object({
  items: z.array(auditEntryRow.meta({ id: 'AuditEntry' })).describe('Newest first'),
  next: z.string().nullable().describe('Pass as `before` for the next page; null on the last page'),
});
export type AuditPage = z.infer<typeof auditPageResponse>;

/** GET /api/governance/verifications. */
export const verificationsResponse = z.object({ items: z.array(verificationRunSchema).describe('Newest first') });
export type VerificationsPage = z.infer<typeof verificationsResponse>;

/** GET /api/governance/runbook/status. */
export const runbookStatusResponse = z
  .object({
    system_metadata: systemMetadataRow.nullable(),
    go_live_state: goLiveStateRow.nullable(),
    live: z.boolean(),
    migrations: z.object({ head: z.string(), applied: z.array(z.string()), pending: z.array(z.string()) }),
    last_verification: verificationRunSchema.nullable(),
    /**
     * The newest run whose audit-chain check read every row (scheduled runs are incremental): its id, when it ended
     * and that check (with `coverage`). Null before the first.
     */
    last_full_audit_check: fullAuditCheckRow.nullable(),
    workers: z.object({ alive: z.number().int(), items: z.array(heartbeatRow) }),
    /** Queues paused in Redis (null when Redis does not answer): their jobs wait (engages only on governance-safety). */
    paused_queues: z.array(z.string()).nullable(),
  })
  .meta({ id: 'RunbookStatus' });
export type RunbookStatus = z.infer<typeof runbookStatusResponse>;

const healthCheckResult = z.enum(['ok', 'unavailable', 'error']);
/** GET /health. */
export const healthResponse = z
  .object({
    status: z.enum(['ok', 'degraded', 'unavailable']),
    checks: z.object({ database: healthCheckResult, redis: healthCheckResult }),
    release: z.string().describe('The release this api runs (RELEASE): the worker compares it with its own (version skew)'),
    /** Queues paused in Redis (null when Redis does not answer): reported, never a reason for a non-200. */
    paused_queues: z.array(z.string()).nullable(),
  })
  .meta({ id: 'Health' });

/** A change request as the API shows it: the requester counts as the first of `required` operators. */
export const changeRequestResponse = z
  .object({
    id: z.string(),
    action: z.enum(APPROVAL_ACTIONS),
    requested_by: z.string(),
    reason: z.string(),
    approvals: z.array(z.object({ approver: z.string(), reason: z.string(), approved_at: z.string() })),
    required: z.number(),
    status: z.enum(CHANGE_REQUEST_STATUS_VALUES),
    created_at: z.string(),
    expires_at: z.string(),
    jobId: z.string().nullable(),
    closed_by: z.string().nullable(),
    close_reason: z.string().nullable(),
  })
  .meta({ id: 'ChangeRequest' });
export type PublicChangeRequest = z.infer<typeof changeRequestResponse>;

/** 202 for an enable or release that waits for approvals (APPROVALS_REQUIRED > 1). */
export const changeRequestAccepted = z
  .object({ changeRequestId: z.string(), status: z.literal('pending_approval') })
  .meta({ id: 'ChangeRequestAccepted', description: 'The change waits for approvals (APPROVALS_REQUIRED > 1)' });
export type ChangeRequestAccepted = z.infer<typeof changeRequestAccepted>;

const queueDepth = z.object({ waiting: z.number().int(), active: z.number().int(), delayed: z.number().int(), failed: z.number().int() });
/** GET /api/queues: depth per queue and state, and the newest failed jobs with their failure record. */
export const queuesResponse = z
  .object({
    queues: z.array(queueDepth.extend({ name: z.string() })),
    failed: z.array(
      z.object({
        id: z.string(),
        queue: z.string(),
        name: z.string(),
        attempts: z.number().int(),
        failed_at: z.string().nullable(),
        error: z.object({ code: z.string(), message: z.string(), final: z.boolean() }),
      }),
    ),
  })
  .meta({ id: 'QueuesOverview' });
export type QueuesOverview = z.infer<typeof queuesResponse>;

/** The roles a token or session can hold. */
export const SESSION_ROLES = ['operator', 'reader', 'app', 'alerts'] as const;
export type SessionRole = (typeof SESSION_ROLES)[number];

/** GET and POST /api/session: who is signed in, and the CSRF token a cookie-authenticated write must carry. */
export const sessionResponse = z
  .object({
    actor: z.string(),
    role: z.enum(SESSION_ROLES),
    /** Send it as X-CSRF-Token on every write made with the cookie; null when the request used a bearer token. */
    csrfToken: z.string().nullable(),
  })
  .meta({ id: 'Session' });
export type SessionBody = z.infer<typeof sessionResponse>;

/** Every error answer: `{"error": {"code", "message", "details"?}}`; details name each field. */
export const errorDetail = z.object({ field: z.string(), message: z.string() });
export const errorBody = z.object({
  error: z.object({
    code: z.enum(Object.keys(ERROR_CODES) as [keyof typeof ERROR_CODES, ...(keyof typeof ERROR_CODES)[]]),
    message: z.string(),
    details: z.array(errorDetail).optional(),
  }),
});
export type ErrorBody = z.infer<typeof errorBody>;

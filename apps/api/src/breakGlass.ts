import { QUEUES, applyGovernanceChange, type GoLiveChangePayload } from '@valhalla/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { callDatabase } from './dependencyCalls.js';
import type { ApiDependencies } from './dependencies.js';
import { ApiError } from './errors.js';
import type { JobCompleted } from './schemas.js';

/**
 * How long an engage or disable waits for its enqueue before the api applies it itself. Short: the kill switch is
 * needed now, and applying twice is impossible (a job that reaches Redis later replays the stored result).
 */
export const BREAK_GLASS_ENQUEUE_TIMEOUT_MS = 500;

/**
 * Break-glass (CONTRACT.md): Redis is unavailable, so the api applies an engage or a disable itself, through the same
 * exactly-once transaction and audit entry the worker uses, under the job id the request was given. The execution is
 * recorded without a creation time, so the id alone identifies the change: if the enqueue did reach Redis after all
 * (a timeout, not a refusal), or a retry with the same Idempotency-Key enqueues it later, the worker replays the
 * stored result instead of applying it again. The creation time still counts for supersession: a release created
 * before this engage is rejected when it arrives.
 * @throws ApiError DEPENDENCY_UNAVAILABLE when PostgreSQL is unavailable too.
 */
export const applyBreakGlass = async (
  deps: ApiDependencies,
  request: FastifyRequest,
  reply: FastifyReply,
  change: { jobId: string; payload: GoLiveChangePayload },
): Promise<JobCompleted> => {
  const { head } = await deps.migrations.chain();
  const { result, replayed } = await callDatabase(() =>
    applyGovernanceChange(deps.pool, {
      jobId: change.jobId,
      createdAt: Date.now(),
      queue: QUEUES.governanceSafety,
      payload: change.payload,
      migrationHead: head,
    }, deps.config.auditKeyring),
  );
  request.log.warn(
    { jobId: change.jobId, action: change.payload.action, outcome: result.outcome, auditId: result.auditId, replayed },
    'Redis unavailable: change applied by the api in PostgreSQL (break-glass)',
  );
  reply.code(200);
  return { jobId: change.jobId, status: 'completed', result };
};

/**
 * The other half of "Redis is unavailable": a release, enable or metadata change whose enqueue was not confirmed is
 * voided under its job id, through the same exactly-once transaction (recorded as rejected, ENQUEUE_UNCONFIRMED,
 * without a creation time so the id alone identifies it): if the enqueue reaches Redis after all, the worker replays
 * that rejection instead of applying the change after the client was told 503. If a worker applied it first, the
 * stored execution comes back and the client gets it (200 completed).
 * @throws ApiError DEPENDENCY_UNAVAILABLE: the change is void (or, when PostgreSQL failed too, its outcome is unknown).
 */
export const voidUnconfirmedChange = async (
  deps: ApiDependencies,
  request: FastifyRequest,
  reply: FastifyReply,
  change: { jobId: string; payload: GoLiveChangePayload; cause: unknown },
): Promise<JobCompleted> => {
  const { head } = await deps.migrations.chain();
  const voided = await applyGovernanceChange(
    deps.pool,
    { jobId: change.jobId, queue: QUEUES.governance, payload: change.payload, migrationHead: head, voided: true },
    deps.config.auditKeyring,
  ).catch((error: unknown) => {
    request.log.error({ err: error, jobId: change.jobId }, 'could not void a change whose enqueue was not confirmed; it may still be applied');
    throw new ApiError('DEPENDENCY_UNAVAILABLE', `Redis and PostgreSQL are unavailable; job ${change.jobId} may still be applied when Redis recovers (see GET /api/jobs/${change.jobId})`, { cause: change.cause });
  });
  if (voided.replayed) {
    request.log.info({ jobId: change.jobId, outcome: voided.result.outcome }, 'enqueue not confirmed, but a worker had applied the change already');
    reply.code(200);
    return { jobId: change.jobId, status: 'completed', result: voided.result };
  }
  request.log.warn({ jobId: change.jobId, action: change.payload.action, auditId: voided.result.auditId }, 'Redis did not confirm the enqueue: change voided in PostgreSQL');
  throw new ApiError('DEPENDENCY_UNAVAILABLE', `Redis is unavailable; the change was not applied and never will be (job ${change.jobId} is void); retry later`, { cause: change.cause });
};

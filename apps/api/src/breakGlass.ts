import { QUEUES, applyGovernanceChange, type GoLiveChangePayload } from '@valhalla/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { callDatabase } from './dependencyCalls.js';
import type { ApiDependencies } from './dependencies.js';
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

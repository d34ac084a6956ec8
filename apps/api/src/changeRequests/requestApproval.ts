import { createHash } from 'node:crypto';
import { createChangeRequest, requiresApproval } from '@valhalla/core';
import { QUEUES, type ApprovalAction, type GovernanceAction, type PublicChangeRequest } from '@valhalla/contract';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { callDatabase } from '../dependencyCalls.js';
import type { ApiDependencies } from '../dependencies.js';
import { claimJobIdForKey, readIdempotencyKey } from '../idempotency.js';
import { toPublicChangeRequest } from './publicChangeRequest.js';

/**
 * The change request id of a keyed request: a UUID (version 8, RFC 9562: custom) made of the key's job id hash, so
 * repeats of one request find the request they made.
 */
const changeRequestIdOf = (keyedJobId: string): string => {
  const hex = createHash('sha256').update(keyedJobId, 'utf8').digest('hex');
  const variant = ((Number.parseInt(hex.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
};

/**
 * With APPROVALS_REQUIRED > 1, a POST asking for an enable or a release creates a change request instead of a job:
 * 202 `{"changeRequestId", "status": "pending_approval"}`. Returns null when the action needs no approval.
 *
 * An Idempotency-Key works as on every POST: the key is claimed (another body is 409 IDEMPOTENCY_CONFLICT) and the
 * request's id follows from it, so the same request again makes no second change request: it answers 200 with the
 * one it made, in whatever state it is now.
 */
export const requestApprovalIfRequired = async (
  deps: ApiDependencies,
  request: FastifyRequest,
  reply: FastifyReply,
  change: { action: GovernanceAction; actor: string; reason: string; body: unknown },
): Promise<{ changeRequestId: string; status: 'pending_approval' } | PublicChangeRequest | null> => {
  if (!requiresApproval(change.action, deps.config.approvalsRequired)) return null;
  // requiresApproval holds only for an enable or a release.
  const action = change.action as ApprovalAction;
  const key = readIdempotencyKey(request);
  const claimed =
    key === undefined
      ? undefined
      : await claimJobIdForKey(deps.pool, {
          actor: change.actor,
          key,
          method: request.method,
          route: request.routeOptions.url ?? request.url,
          queue: QUEUES.governance,
          body: change.body,
        });
  const created = await callDatabase(() =>
    createChangeRequest(deps.pool, deps.config.auditKeyring, {
      id: claimed === undefined ? undefined : changeRequestIdOf(claimed.jobId),
      action,
      actor: change.actor,
      reason: change.reason,
      required: deps.config.approvalsRequired,
      ttlMinutes: deps.config.approvalTtlMinutes,
      requestId: request.id,
    }),
  );
  if (!created.created) {
    reply.header('Idempotent-Replayed', 'true');
    reply.code(200);
    return toPublicChangeRequest(created.request);
  }
  request.log.info({ changeRequestId: created.request.id, action, actor: change.actor }, 'change request created');
  reply.code(202);
  return { changeRequestId: created.request.id, status: 'pending_approval' };
};

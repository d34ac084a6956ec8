import { createChangeRequest, requiresApproval, type ApprovalAction, type GovernanceAction } from '@valhalla/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { callDatabase } from '../dependencyCalls.js';
import type { ApiDependencies } from '../dependencies.js';

/**
 * With APPROVALS_REQUIRED > 1, a POST asking for an enable or a release creates a change request instead of a job:
 * 202 `{"changeRequestId", "status": "pending_approval"}`. Returns null when the action needs no approval.
 */
export const requestApprovalIfRequired = async (
  deps: ApiDependencies,
  request: FastifyRequest,
  reply: FastifyReply,
  change: { action: GovernanceAction; actor: string; reason: string },
): Promise<{ changeRequestId: string; status: 'pending_approval' } | null> => {
  if (!requiresApproval(change.action, deps.config.approvalsRequired)) return null;
  // requiresApproval holds only for an enable or a release.
  const action = change.action as ApprovalAction;
  const created = await callDatabase(() =>
    createChangeRequest(deps.pool, deps.config.auditKeyring, {
      action,
      actor: change.actor,
      reason: change.reason,
      required: deps.config.approvalsRequired,
      ttlMinutes: deps.config.approvalTtlMinutes,
      requestId: request.id,
    }),
  );
  request.log.info({ changeRequestId: created.id, action, actor: change.actor }, 'change request created');
  reply.code(202);
  return { changeRequestId: created.id, status: 'pending_approval' };
};

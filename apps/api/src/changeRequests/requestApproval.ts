import { createChangeRequest, requiresApproval, type ApprovalAction } from '@valhalla/core';
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
  change: { action: ApprovalAction | string; actor: string; reason: string },
): Promise<{ changeRequestId: string; status: 'pending_approval' } | null> => {
  const action = change.action as ApprovalAction;
  if (!requiresApproval(action, deps.config.approvalsRequired)) return null;
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

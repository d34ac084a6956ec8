import type { PublicChangeRequest } from '@valhalla/contract';
import type { ChangeRequest } from '@valhalla/core';

/** A change request as the API shows it (changeRequestResponse): the requester counts as the first of `required`. */
export const toPublicChangeRequest = (request: ChangeRequest): PublicChangeRequest => ({
  id: request.id,
  action: request.action,
  requested_by: request.requested_by,
  reason: request.reason,
  approvals: request.approvals,
  required: request.required,
  status: request.status,
  created_at: request.created_at,
  expires_at: request.expires_at,
  jobId: request.job_id,
  closed_by: request.closed_by,
  close_reason: request.close_reason,
});
